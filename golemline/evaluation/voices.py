"""Speakers for the evaluation corpus: three Debian speech synthesisers in several voices, speeds and pitches.

Why several synthesisers: thresholds tuned on one espeak-ng voice rejected commands spoken by flite and let noisy
ones through with the wrong intent (issue 12). The corpus holds whole synthesisers out of calibration, so the
report says how the gate does on a voice it never saw.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golemline.audio import TARGET_RATE, decode
from golemline.errors import ConfigError


@dataclass(frozen=True)
class Voice:
    """One speaker: `engine` is espeak-ng, flite or festival; speed in words per minute (espeak-ng only), pitch
    0-99 (espeak-ng only)."""

    engine: str
    name: str
    speed: int = 0
    pitch: int = 0

    @property
    def tag(self) -> str:
        extras = "".join(f" {k}{v}" for k, v in (("s", self.speed), ("p", self.pitch)) if v)
        return f"{self.engine} {self.name}{extras}"

    @property
    def tools(self) -> tuple[str, ...]:
        return ({"festival": "text2wave"}.get(self.engine, self.engine), "sox")


APT_PACKAGES = {"espeak-ng": "espeak-ng", "flite": "flite", "text2wave": "festival", "sox": "sox"}


def require(voices: tuple[Voice, ...]) -> None:
    """One clear error naming the Debian packages to install, before any work starts."""
    missing = sorted({tool for voice in voices for tool in voice.tools if shutil.which(tool) is None})
    if missing:
        packages = " ".join(sorted({APT_PACKAGES[tool] for tool in missing}))
        raise ConfigError(f"the evaluation corpus needs {', '.join(missing)} on PATH (apt-get install {packages})")


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
    else:
        raise ConfigError(f"unknown speech engine {voice.engine!r} (espeak-ng, flite or festival)")
    # -D: no dither. sox dithers by default when it resamples to 16 bits, with fresh random noise on every run, so
    # the same text came out as different audio each time and borderline transcripts flipped between runs.
    subprocess.run(["sox", "-D", str(raw), "-r", str(TARGET_RATE), "-c", "1", "-b", "16", str(out)], check=True,
                   capture_output=True)
    return decode(out.read_bytes()).samples
