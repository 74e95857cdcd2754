"""Scribe: real Whisper tiny.en (CTranslate2) on the samples, the transformers path on a tiny random Whisper."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from golemline.audio import decode
from golemline.domain import Transcript
from golemline.errors import InvalidInput
from golemline.pipeline import Pipeline
from golemline.predictors.scribe import Scribe
from golemline.serving.protocol import audio_instance
from golemline.settings import Settings


def test_ctranslate2_transcribes_the_weather_sample(resident_pipeline: Pipeline, samples: Path) -> None:
    scribe = resident_pipeline.golems["scribe"]
    [result] = scribe.run([decode((samples / "weather.wav").read_bytes())])
    assert isinstance(result, Transcript)
    assert "weather" in result.text.lower()
    assert result.language == "en"
    assert result.no_speech_prob is not None and result.no_speech_prob < 0.3
    assert result.avg_logprob is not None and result.avg_logprob > -0.8
    assert 0 < result.compression_ratio < 2.4
    assert abs(result.duration_s - 2.74) < 0.05


def test_ctranslate2_signals_flag_white_noise(resident_pipeline: Pipeline, samples: Path) -> None:
    [result] = resident_pipeline.golems["scribe"].run([decode((samples / "noise.wav").read_bytes())])
    assert result.no_speech_prob is not None and result.no_speech_prob > 0.8


def test_batch_gives_the_same_transcripts_as_one_by_one(resident_pipeline: Pipeline, samples: Path) -> None:
    scribe = resident_pipeline.golems["scribe"]
    audios = [decode((samples / f"{name}.wav").read_bytes()) for name in ("timer", "music")]
    assert [t.text for t in scribe.run(audios)] == [scribe.run([a])[0].text for a in audios]


def test_transformers_backend_runs_a_random_whisper(tiny_whisper_dir: Path, samples: Path) -> None:
    settings = Settings().with_overrides(scribe_model=str(tiny_whisper_dir), scribe_backend="transformers")
    scribe = Scribe(settings)
    scribe.load()
    audios = [decode((samples / f"{name}.wav").read_bytes()) for name in ("weather", "timer")]
    batch = scribe.run(audios)
    single = scribe.run(audios[:1])
    scribe.unload()
    assert len(batch) == 2 and all(isinstance(t, Transcript) for t in batch)
    for transcript in batch:
        assert transcript.no_speech_prob is not None and 0.0 <= transcript.no_speech_prob <= 1.0
        assert transcript.avg_logprob is None or transcript.avg_logprob <= 0.0
    assert batch[0].text == single[0].text  # batching does not change a greedy decode
    assert not scribe.loaded


def _instance(data: bytes) -> dict[str, str]:
    return {"audio": base64.b64encode(data).decode()}


def test_parse_instance_accepts_base64_audio(samples: Path) -> None:
    audio = audio_instance(_instance((samples / "weather.wav").read_bytes()), Settings(), "scribe")
    assert audio.source_rate == 16000


@pytest.mark.parametrize(("instance", "message"), [
    ({}, "'audio' field"),
    ({"audio": 3}, "must be a base64 string"),
    ({"audio": "not base64!!"}, "not valid base64"),
    ({"audio": ""}, "empty audio"),
    ({"audio": base64.b64encode(b"hello world").decode()}, "undecodable audio"),
    ({"audio": "AAAA", "speaker": "x"}, "unexpected fields"),
])
def test_parse_instance_rejects_bad_input(instance: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        audio_instance(instance, Settings(), "scribe")


def test_batched_decoding_matches_windowed_transcription(resident_pipeline: Pipeline, samples: Path) -> None:
    backend = resident_pipeline.golems["scribe"]._backend
    audios = [decode((samples / f"{name}.wav").read_bytes()) for name in ("weather", "misheard", "noise")]
    batched = resident_pipeline.golems["scribe"].run(audios)  # preprocess → one encoder+decoder pass
    windowed = [backend._one(audio) for audio in audios]
    for fast, reference in zip(batched, windowed, strict=True):
        assert fast.text == reference.text
        assert fast.no_speech_prob == pytest.approx(reference.no_speech_prob, abs=0.05)
        assert fast.avg_logprob == pytest.approx(reference.avg_logprob, abs=0.05)


def test_audio_longer_than_one_window_is_transcribed_in_windows(resident_pipeline: Pipeline, samples: Path) -> None:
    import numpy as np

    from golemline.audio import Audio

    speech = decode((samples / "weather.wav").read_bytes()).samples
    long = Audio(np.concatenate([np.zeros(16000 * 32, dtype=np.float32), speech]), 16000, 1)
    [result] = resident_pipeline.golems["scribe"].run([long])
    assert result.duration_s > 30 and "weather" in result.text.lower()
