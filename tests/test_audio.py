"""Audio decoding: formats, sample rates, channel counts, and clear errors on bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from golemline.audio import TARGET_RATE, decode, resample
from golemline.errors import InvalidInput, PayloadTooLarge


def _tone(rate: int, seconds: float = 1.0, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


def _encode(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / TARGET_RATE)[spectrum.argmax()])


FORMATS = [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", None), ("OGG", "VORBIS"), ("MP3", None)]
SHAPES = [(8000, 1), (44100, 2), (48000, 8)]
# MP3 carries at most two channels, so it is not asked for eight.
CASES = [(f, s, r, c) for f, s in FORMATS for r, c in SHAPES if not (f == "MP3" and c > 2)]


@pytest.mark.parametrize(("fmt", "subtype", "rate", "channels"), CASES)
def test_formats_rates_and_channels_become_16k_mono(fmt: str, subtype: str | None, rate: int, channels: int) -> None:
    audio = decode(_encode(_tone(rate, channels=channels), rate, fmt, subtype))
    assert audio.source_rate == rate
    assert audio.source_channels == channels
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert abs(audio.duration_s - 1.0) < 0.1  # lossy codecs pad a few frames
    assert abs(_dominant_hz(audio.samples) - 440.0) < 5.0


def test_resample_keeps_length_ratio() -> None:
    assert len(resample(np.zeros(44100, dtype=np.float32), 44100)) == TARGET_RATE


def test_empty_bytes_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="empty audio"):
        decode(b"", name="x.wav")


def test_garbage_bytes_name_the_input_and_the_problem() -> None:
    with pytest.raises(InvalidInput, match=r"x\.wav: undecodable audio"):
        decode(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10, name="x.wav")


def test_truncated_wav_header_is_rejected() -> None:
    data = _encode(_tone(16000), 16000, "WAV", "PCM_16")
    with pytest.raises(InvalidInput):
        decode(data[:30])


def test_too_long_audio_is_413() -> None:
    with pytest.raises(PayloadTooLarge, match="exceeds the 2 s limit"):
        decode(_encode(_tone(16000, seconds=3), 16000, "WAV", "PCM_16"), max_seconds=2)


def test_too_many_bytes_is_413() -> None:
    with pytest.raises(PayloadTooLarge, match="byte audio limit"):
        decode(b"x" * 2000, max_bytes=1000)


def test_silence_has_very_low_level() -> None:
    audio = decode(_encode(np.zeros((16000, 1), dtype=np.float32), 16000, "WAV", "PCM_16"))
    assert audio.rms_dbfs == -120.0
