"""Audio decoding: any WAV/FLAC/MP3/OGG bytes → 16 kHz mono float32, with limits checked first.

libsndfile (soundfile) decodes WAV/FLAC/OGG and, in recent builds, MP3; PyAV (FFmpeg) is the fallback for
anything libsndfile refuses. Resampling is polyphase (scipy), exact for the common rates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from golemline.errors import InvalidInput, PayloadTooLarge

TARGET_RATE = 16_000


@dataclass(frozen=True)
class Audio:
    """Decoded mono audio at 16 kHz, plus what it was before conversion."""

    samples: np.ndarray
    source_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / TARGET_RATE

    @property
    def rms_dbfs(self) -> float:
        """Loudness in dB relative to full scale; digital silence is -inf, clipped to -120 for JSON."""
        rms = float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64)))) if len(self.samples) else 0.0
        return max(-120.0, 20.0 * float(np.log10(rms))) if rms > 0 else -120.0


def _decode_soundfile(data: bytes) -> tuple[np.ndarray, int]:
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples, int(rate)


def _decode_av(data: bytes) -> tuple[np.ndarray, int]:
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            raise InvalidInput("the file has no audio stream")
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
        rate = int(stream.rate or stream.codec_context.sample_rate)
        channels = stream.codec_context.channels or 1
    if not chunks:
        raise InvalidInput("the file holds no decodable audio frames")
    planar = [c.reshape(channels, -1) if c.shape[0] != channels else c for c in chunks]
    samples = np.concatenate(planar, axis=1).T.astype(np.float32)
    source_dtype = np.dtype(chunks[0].dtype)
    if np.issubdtype(source_dtype, np.integer):
        samples /= float(np.iinfo(source_dtype).max)  # type: ignore[type-var]
    return samples, rate


def resample(samples: np.ndarray, source_rate: int, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Polyphase resampling; identity when the rates match."""
    if source_rate == target_rate:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    ratio = Fraction(target_rate, source_rate).limit_denominator(1000)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def decode(data: bytes, max_seconds: float = 60.0, max_bytes: int = 25 * 1024 * 1024,
           name: str = "audio") -> Audio:
    """Decode encoded audio bytes, or raise InvalidInput / PayloadTooLarge naming `name` and the problem."""
    if not data:
        raise InvalidInput(f"{name}: empty audio (0 bytes)")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{name}: {len(data)} bytes exceeds the {max_bytes}-byte audio limit")
    try:
        samples, rate = _decode_soundfile(data)
    except Exception:
        try:
            samples, rate = _decode_av(data)
        except InvalidInput as exc:
            raise InvalidInput(f"{name}: undecodable audio — {exc}") from exc
        except Exception as exc:
            raise InvalidInput(
                f"{name}: undecodable audio — expected WAV, FLAC, MP3 or OGG ({type(exc).__name__})") from exc
    if rate < 1000 or rate > 384_000:
        raise InvalidInput(f"{name}: sample rate {rate} Hz is outside 1000..384000 Hz")
    frames, channels = samples.shape
    if frames == 0:
        raise InvalidInput(f"{name}: the audio has no samples")
    if frames / rate > max_seconds:
        raise PayloadTooLarge(f"{name}: {frames / rate:.1f} s of audio exceeds the {max_seconds:.0f} s limit")
    if not np.all(np.isfinite(samples)):
        raise InvalidInput(f"{name}: the audio contains NaN or infinite samples")
    mono = samples.mean(axis=1) if channels > 1 else samples[:, 0]
    return Audio(samples=resample(mono, rate), source_rate=rate, source_channels=channels)
