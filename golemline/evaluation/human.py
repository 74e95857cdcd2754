"""Real human recordings that ship inside a package on the registry: the test audio of pocketsphinx's source
distribution (PyPI). They ask for none of the five intents (playing cards, digits, robot commands, an audiobook),
so they test the gate's "none of these" on real voices and real microphones; none is used for calibration.

Sources and licences (recorded in the corpus manifest and docs/gating.md):
- pocketsphinx 5.1.1 sdist, test/data and test/regression: BSD-style licence, Copyright (c) 1999-2016 Carnegie
  Mellon University (LICENSE in the sdist).
- test/data/librivox: "Sense and Sensibility" read for LibriVox: public domain.
- test/data/tidigits/dhd.2934z.raw: one TIDIGITS utterance (LDC93S10), as redistributed by pocketsphinx.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from golemline.audio import TARGET_RATE
from golemline.errors import ConfigError

SDIST_URL = ("https://files.pythonhosted.org/packages/61/e7/13e0e787ff467218de880310d79cba14424f13b87171ac44af0bde1e4"
             "28c/pocketsphinx-5.1.1.tar.gz")
SDIST_SHA256 = "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355"
LICENCE = "BSD-style (CMU), pocketsphinx 5.1.1 sdist"
PUBLIC_DOMAIN = "public domain (LibriVox)"


@dataclass(frozen=True)
class Recording:
    path: str  # inside the sdist, below pocketsphinx-5.1.1/
    text: str  # what is said, where the package says it ("" where it does not)
    kind: str  # cards, digits, robot, audiobook, speech
    licence: str = LICENCE


_CARDS = ("ten of clubs", "four queen of clubs", "seven of clubs", "five five",
          "eight of spades four of clubs seven of hearts")
RECORDINGS: tuple[Recording, ...] = (
    *(Recording(f"test/data/cards/00{i + 1}.wav", text, "cards") for i, text in enumerate(_CARDS)),
    *(Recording(f"test/data/librivox/sense_and_sensibility_01_austen_64kb-0{n}.wav", "", "audiobook", PUBLIC_DOMAIN)
      for n in (870, 880, 890, 920, 930)),
    Recording("test/data/goforward.raw", "go forward ten meters", "robot"),
    Recording("test/data/something.raw", "go somewhere and do something", "robot"),
    Recording("test/data/numbers.raw", "", "digits"),
    Recording("test/data/tidigits/dhd.2934z.raw", "two nine three four oh", "digits",
              "TIDIGITS (LDC93S10) as redistributed in the pocketsphinx 5.1.1 sdist"),
    Recording("test/data/forever/input_2_16k.wav", "", "speech"),
    Recording("test/data/forever/input_4_16k.wav", "", "speech"),
    Recording("test/regression/chan3.wav", "", "speech"),
    Recording("test/data/vad/leak-test.wav", "", "speech"),
)


def fetch_sdist(cache: Path) -> Path:
    """The sdist, downloaded once from PyPI and checked against its pinned sha256."""
    target = cache / "pocketsphinx-5.1.1.tar.gz"
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == SDIST_SHA256:
        return target
    import httpx

    try:
        response = httpx.get(SDIST_URL, timeout=120, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot download the human recordings ({SDIST_URL}): {exc}; run with --no-human to "
                          "build the corpus from synthetic speech only") from exc
    if hashlib.sha256(response.content).hexdigest() != SDIST_SHA256:
        raise ConfigError(f"{SDIST_URL} does not match its pinned sha256 {SDIST_SHA256}")
    cache.mkdir(parents=True, exist_ok=True)
    target.write_bytes(response.content)
    return target


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == TARGET_RATE:
        return samples
    n = int(round(len(samples) * TARGET_RATE / rate))
    return np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples).astype(np.float32)


def load(sdist: Path) -> list[tuple[Recording, np.ndarray]]:
    """Every recording as 16 kHz mono float32 (`.raw` files are pocketsphinx's 16 kHz 16-bit little-endian)."""
    out = []
    with tarfile.open(sdist) as archive:
        for recording in RECORDINGS:
            member = archive.extractfile(f"pocketsphinx-5.1.1/{recording.path}")
            assert member is not None, recording.path
            data = member.read()
            if recording.path.endswith(".raw"):
                samples, rate = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768, TARGET_RATE
            else:
                samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
                samples = samples.mean(axis=1)
            out.append((recording, _resample(np.asarray(samples, dtype=np.float32), rate)))
    return out
