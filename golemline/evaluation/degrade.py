"""What a real microphone adds: additive noise at a chosen SNR (white, pink, babble, music-like), and channel
damage (reverberation, clipping, a telephone band). Every function is deterministic given its generator."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile

from golemline.audio import TARGET_RATE

NOISES = ("white", "pink", "babble", "music")
CHANNELS = ("reverb", "clipping", "telephone")


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64))) + 1e-12


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise: white noise shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    out = np.fft.irfft(spectrum, n)
    return (out / np.sqrt(_power(out))).astype(np.float32)


def music(n: int, rng: np.random.Generator) -> np.ndarray:
    """Music-like: a chord progression of harmonic tones with a beat (energy in the speech band, tonal)."""
    t = np.arange(n) / TARGET_RATE
    out = np.zeros(n)
    roots = rng.choice([196.0, 220.0, 246.9, 261.6, 293.7], size=4)
    beat = 0.5
    for i, root in enumerate(roots):
        part = (t >= i * len(t) / TARGET_RATE / 4) & (t < (i + 1) * len(t) / TARGET_RATE / 4 + 1e-9)
        for ratio in (1.0, 1.25, 1.5, 2.0):
            for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25)):
                out[part] += weight * np.sin(2 * np.pi * root * ratio * harmonic * t[part])
    out *= 0.6 + 0.4 * (np.sin(2 * np.pi * t / beat) > 0)
    return (out / np.sqrt(_power(out))).astype(np.float32)


def babble(n: int, voices: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Several talkers at once, each looped and offset at random: the crowd behind a user."""
    out = np.zeros(n)
    for speech in voices:
        looped = np.resize(speech, n + len(speech))
        start = int(rng.integers(0, len(speech)))
        out += looped[start:start + n] / np.sqrt(_power(speech))
    return (out / np.sqrt(_power(out))).astype(np.float32)


def add_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Mix so that speech power / noise power = `snr_db`."""
    scale = np.sqrt(_power(speech) / (_power(noise) * 10 ** (snr_db / 10)))
    return np.clip(speech + scale * noise[:len(speech)], -1, 1).astype(np.float32)


def _sox(samples: np.ndarray, *effects: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        soundfile.write(src, samples, TARGET_RATE, subtype="FLOAT")
        subprocess.run(["sox", str(src), "-b", "32", "-e", "floating-point", str(dst), *effects], check=True,
                       capture_output=True)
        out, rate = soundfile.read(dst, dtype="float32")
    assert rate == TARGET_RATE
    return np.asarray(out[:len(samples)], dtype=np.float32)


def channel(speech: np.ndarray, kind: str) -> np.ndarray:
    """A damaged channel: a reverberant room (sox `reverb`), an overdriven input (hard clipping at 10% of full
    scale after 20 dB of gain) or a telephone line (300-3400 Hz, 8 kHz)."""
    if kind == "reverb":
        return np.clip(_sox(speech, "reverb", "60", "50", "100", "100", "10"), -1, 1)
    if kind == "clipping":
        return np.clip(speech * 10, -0.1, 0.1).astype(np.float32) * 5
    if kind == "telephone":
        return _sox(speech, "sinc", "300-3400", "rate", "8000", "rate", str(TARGET_RATE))
    raise ValueError(f"unknown channel {kind!r} (one of {', '.join(CHANNELS)})")
