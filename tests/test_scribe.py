"""Scribe: real Whisper tiny.en (CTranslate2) on the samples, the transformers path on a tiny random Whisper."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from golemline.audio import decode
from golemline.domain import Transcript
from golemline.errors import InvalidInput
from golemline.pipeline import Pipeline
from golemline.predictors.scribe import Scribe
from golemline.resources import SPOKEN
from golemline.serving.protocol import audio_instance
from golemline.settings import Settings
from golemline.wer import word_error_rate


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
    noise, speech = resident_pipeline.golems["scribe"].run([decode((samples / f"{name}.wav").read_bytes())
                                                            for name in ("noise", "weather")])
    assert noise.no_speech_prob is not None and speech.no_speech_prob is not None
    # over the shipped bound, and far from speech (the prompt lowers the probability on every input alike)
    assert noise.no_speech_prob > Settings().gating.max_no_speech_prob
    assert noise.no_speech_prob - speech.no_speech_prob > 0.5


def test_batch_gives_the_same_transcripts_as_one_by_one(resident_pipeline: Pipeline, samples: Path) -> None:
    scribe = resident_pipeline.golems["scribe"]
    audios = [decode((samples / f"{name}.wav").read_bytes()) for name in ("timer", "music")]
    assert [t.text for t in scribe.run(audios)] == [scribe.run([a])[0].text for a in audios]


def test_transformers_backend_runs_a_random_whisper(tiny_whisper_dir: Path, samples: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from golemline.predictors import scribe as scribe_module

    # A random network's text repeats itself; keep the loop fallback out of this test (tested on its own below).
    monkeypatch.setattr(scribe_module, "LOOP_RATIO", float("inf"))
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
    assert [t.window_s for t in batch] == [10.0, 10.0]
    assert not scribe.loaded


def test_transformers_window_encoder_is_the_library_encoder_on_30s_and_runs_shorter(tiny_whisper_dir: Path) -> None:
    import torch

    settings = Settings().with_overrides(scribe_model=str(tiny_whisper_dir), scribe_backend="transformers")
    scribe = Scribe(settings)
    scribe.load()
    backend = scribe._backend
    torch.manual_seed(1)
    features = torch.randn(2, 80, 3000)
    with torch.inference_mode():
        ours = backend._encode(features)  # type: ignore[union-attr]
        library = backend._model.model.encoder(features).last_hidden_state  # type: ignore[union-attr]
        assert torch.allclose(ours, library, atol=1e-5)
        assert backend._encode(features[:, :, :1000]).shape == (2, 500, 32)  # type: ignore[union-attr]
    scribe.unload()


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


@pytest.fixture(scope="module")
def full_window_scribe() -> Iterator[Scribe]:
    """The Scribe as it was before window buckets: Whisper's 30 s window, no VAD trim."""
    scribe = Scribe(Settings().with_overrides(scribe_windows_s=(30.0,), scribe_vad_trim=False))
    scribe.load()
    yield scribe
    scribe.unload()


def _faster_whisper_without_timestamps(backend: Any, audio: Any) -> Transcript:
    """The reference: faster-whisper's own transcription of one window, without timestamps as our batched decode
    runs (the Scribe's long-form path uses timestamps, so it is not this reference)."""
    segments, _ = backend._model.transcribe(
        audio.samples, beam_size=1, temperature=0.0, condition_on_previous_text=False, without_timestamps=True,
        compression_ratio_threshold=None, log_prob_threshold=None, no_speech_threshold=None, vad_filter=False,
        language="en", initial_prompt=backend.settings.prompt.strip() or None)
    [segment] = list(segments)
    return Transcript(text=segment.text.strip(), language="en", duration_s=audio.duration_s,
                      avg_logprob=segment.avg_logprob, no_speech_prob=segment.no_speech_prob,
                      compression_ratio=segment.compression_ratio, rms_dbfs=audio.rms_dbfs)


def test_batched_decoding_on_the_30s_window_matches_windowed_transcription(full_window_scribe: Scribe,
                                                                          samples: Path) -> None:
    backend = full_window_scribe._backend
    assert backend is not None
    # Not "misheard": our features pad the window as silence, faster-whisper's as zeros; on that hard sample the
    # decoders part ways after five words (test_scribe checks silence padding on its own).
    audios = [decode((samples / f"{name}.wav").read_bytes()) for name in ("weather", "music", "noise")]
    batched = full_window_scribe.run(audios)  # preprocess → one encoder+decoder pass
    windowed = [_faster_whisper_without_timestamps(backend, audio) for audio in audios]
    for fast, reference in zip(batched[:2], windowed[:2], strict=True):
        assert word_error_rate(reference.text, fast.text) == 0 and fast.window_s == 30.0
        assert fast.no_speech_prob == pytest.approx(reference.no_speech_prob, abs=0.1)
        assert fast.avg_logprob == pytest.approx(reference.avg_logprob, abs=0.1)
    limit = Settings().gating.max_no_speech_prob
    assert batched[2].no_speech_prob > limit and windowed[2].no_speech_prob > limit  # noise: both say no speech


def test_the_window_is_padded_with_what_silence_would_give() -> None:
    """Whisper pads the audio, then floors the log-mel at its maximum minus 8: padding the features must give the
    same frames as padding the audio (away from the boundary frame)."""
    import numpy as np
    from faster_whisper.feature_extractor import FeatureExtractor

    from golemline.predictors.scribe import fit_to_window

    rng = np.random.default_rng(0)
    speech = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    extractor = FeatureExtractor()
    ours = fit_to_window(extractor(speech), 10.0)
    reference = extractor(np.pad(speech, (0, 16000 * 7)))[:, :1000]
    assert ours.shape == (80, 1000)
    assert np.allclose(ours[:, 310:], reference[:, 310:], atol=1e-4)
    assert np.allclose(ours[:, :295], reference[:, :295], atol=1e-4)


def test_short_commands_run_on_the_10s_window_no_worse_than_on_30s(resident_pipeline: Pipeline,
                                                                 full_window_scribe: Scribe, samples: Path) -> None:
    names = ("weather", "timer", "music", "news", "smalltalk")  # clean speech (the WER check on many: bench)
    audios = [decode((samples / f"{name}.wav").read_bytes()) for name in names]
    bucketed = resident_pipeline.golems["scribe"].run(audios)
    full = full_window_scribe.run(audios)
    for name, small, reference in zip(names, bucketed, full, strict=True):
        assert small.window_s == 10.0, name
        assert small.speech_s is None  # fits the smallest window as it is: no VAD pass
        spoken = SPOKEN[name]
        assert word_error_rate(spoken, small.text) <= word_error_rate(spoken, reference.text), (name, small.text)


def test_a_mixed_batch_is_split_by_window_and_answered_in_order(resident_pipeline: Pipeline, samples: Path) -> None:
    import numpy as np

    from golemline.audio import Audio

    speech = decode((samples / "weather.wav").read_bytes()).samples
    gap = np.zeros(16000 * 6, dtype=np.float32)
    medium = Audio(np.concatenate([speech, gap, speech, gap, speech]), 16000, 1)  # ~20 s of speech and pauses
    short = decode((samples / "timer.wav").read_bytes())
    results = resident_pipeline.golems["scribe"].run([medium, short, medium])
    assert [r.window_s for r in results] == [30.0, 10.0, 30.0]
    assert results[0].speech_s is not None and 5 < results[0].speech_s < 12  # three ~2.7 s utterances
    assert "timer" in results[1].text.lower() and results[0].text == results[2].text


def test_silence_around_a_command_is_trimmed_to_fit_the_small_window(resident_pipeline: Pipeline,
                                                                     samples: Path) -> None:
    import numpy as np

    from golemline.audio import Audio

    speech = decode((samples / "music.wav").read_bytes()).samples
    quiet = (1e-3 * np.random.default_rng(0).standard_normal(16000 * 8)).astype(np.float32)
    padded = Audio(np.concatenate([quiet, speech, quiet]), 16000, 1)  # ~19 s, 3 s of it speech
    [result] = resident_pipeline.golems["scribe"].run([padded])
    assert result.window_s == 10.0 and result.duration_s > 17
    assert "music" in result.text.lower()


def test_audio_longer_than_one_window_is_transcribed_in_windows(resident_pipeline: Pipeline, samples: Path) -> None:
    import numpy as np

    from golemline.audio import Audio

    speech = decode((samples / "weather.wav").read_bytes()).samples
    long = Audio(np.concatenate([np.zeros(16000 * 32, dtype=np.float32), speech]), 16000, 1)
    [result] = resident_pipeline.golems["scribe"].run([long])
    assert result.duration_s > 30 and "weather" in result.text.lower()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="needs espeak-ng and sox (Debian packages; .ci/run installs them)")
def test_a_clear_dictation_over_30_s_is_heard_and_let_through_and_long_noise_is_not(
        resident_pipeline: Pipeline, tmp_path: Path) -> None:
    """Audio over every encoder window is transcribed in 30 s windows and gated on Whisper's long-form rule: a
    clear ~44 s dictation is accepted with its words (the no-speech probability alone refused it before), while
    44 s of a tone and of white noise are still refused at the Scribe. Noise can make Whisper loop with confidence
    in one window, which the rule counts as text; the per-window repetition check refuses it then."""
    import numpy as np

    from golemline.audio import TARGET_RATE, Audio
    from golemline.bench.speech_set import INTELLIGIBLE_WER, SPEECH, dictation
    from golemline.gating import check_audio, check_transcript

    policy = Settings().gating
    sentences = [text for intent, texts in SPEECH.items() if intent != "off-topic" for text in texts]
    said, speech = dictation(sentences, ("espeak-ng", "en-gb", 130), tmp_path, 44.0, np.random.default_rng(3))
    seconds = np.arange(44 * TARGET_RATE) / TARGET_RATE
    noise = (0.3 * np.random.default_rng(0).standard_normal(len(seconds))).clip(-1, 1)
    clips = [Audio(np.asarray(x, dtype=np.float32), TARGET_RATE, 1)
             for x in (speech, 0.3 * np.sin(2 * np.pi * 440 * seconds), noise)]
    assert all(clip.duration_s > 40 and check_audio(clip, policy) is None for clip in clips)
    heard, tone, hiss = resident_pipeline.golems["scribe"].run(clips)

    assert heard.window_s is None and heard.long_form is not None and len(heard.long_form) >= 2
    assert check_transcript(heard, policy) is None
    assert word_error_rate(said, heard.text) <= INTELLIGIBLE_WER, heard.text
    refused = check_transcript(tone, policy)
    assert refused is not None and refused.reason == "no_speech" and "long-form rule" in refused.detail
    assert refused.signals["window_s"] is None and refused.signals["long_form_windows"]
    refused = check_transcript(hiss, policy)
    assert refused is not None and refused.stage == "scribe" and refused.signals["long_form_windows"]
    assert refused.reason in ("no_speech", "repetitive_transcript")


@pytest.mark.skipif(shutil.which("flite") is None or shutil.which("sox") is None,
                    reason="needs flite and sox (Debian packages; .ci/run installs them)")
def test_a_looping_short_window_decode_is_redone_on_the_full_window(resident_pipeline: Pipeline,
                                                                      tmp_path: Path) -> None:
    """flite's "Tell me a joke." loops on the 10 s window ("Tell me a joke Tell me a joke ..."); the Scribe sees
    the repetition and decodes that one utterance again on Whisper's 30 s window, where it comes out once. The
    minimum token log-probability comes with it."""
    from golemline.audio import TARGET_RATE, Audio
    from golemline.evaluation.voices import Voice, speak

    samples = speak("Tell me a joke.", Voice("flite", "slt"), tmp_path)
    short = speak("What is the weather today?", Voice("espeak-ng", "en-us", 150), tmp_path)
    scribe = resident_pipeline.golems["scribe"]
    looped, plain = scribe.run([Audio(samples, TARGET_RATE, 1), Audio(short, TARGET_RATE, 1)])
    assert looped.window_s == 30.0 and plain.window_s == 10.0
    assert looped.text.lower().count("joke") == 1 and looped.compression_ratio < 2.4, looped.text
    assert plain.min_token_logprob is not None and -20 < plain.min_token_logprob < 0


@pytest.mark.parametrize("backend", ["ctranslate2", "transformers"])
def test_the_loop_fallback_keeps_every_answer_in_its_place(backend: str, tiny_whisper_dir: Path, samples: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With the loop threshold forced below any text, every short-window utterance takes the fallback: all come
    back from the 30 s window, in batch order, and (real CTranslate2 model) with the text a 30 s-only Scribe
    gives, since both decode the same silence-padded features."""
    from golemline.predictors import scribe as scribe_module

    overrides = {} if backend == "ctranslate2" else {"scribe_model": str(tiny_whisper_dir),
                                                     "scribe_backend": backend}
    names = ("weather", "timer", "music")
    audios = [decode((samples / f"{name}.wav").read_bytes()) for name in names]
    monkeypatch.setattr(scribe_module, "LOOP_RATIO", -1.0)
    bucketed = Scribe(Settings().with_overrides(**overrides))
    bucketed.load()
    redone = bucketed.run(audios)
    bucketed.unload()
    assert [t.window_s for t in redone] == [30.0] * len(names)
    assert [t.duration_s for t in redone] == [a.duration_s for a in audios]
    if backend == "ctranslate2":
        monkeypatch.setattr(scribe_module, "LOOP_RATIO", 2.4)
        full = Scribe(Settings().with_overrides(scribe_windows_s=(30.0,)))
        full.load()
        assert [t.text for t in redone] == [t.text for t in full.run(audios)]
        full.unload()


def test_a_loaded_scribe_keeps_numpy_blas_on_one_thread(resident_pipeline: Pipeline) -> None:
    """OpenBLAS workers left spinning after the log-mel matmul took a core from CTranslate2 (golemline.devices)."""
    from threadpoolctl import threadpool_info

    assert resident_pipeline.golems["scribe"].loaded
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas" and "numpy" in pool["filepath"]]
    assert blas, "numpy's BLAS library was not found in the process"
    assert all(pool["num_threads"] == 1 for pool in blas), blas


def test_the_prompt_is_whispers_previous_text_cut_from_the_front() -> None:
    from golemline.predictors.scribe import PREVIOUS_TEXT_TOKENS, previous_text_tokens

    def encode(text: str) -> list[int]:
        return [ord(c) for c in text]

    assert previous_text_tokens(encode, "") == [] and previous_text_tokens(encode, "  ") == []
    assert previous_text_tokens(encode, " Hi ") == [ord(" "), ord("H"), ord("i")]  # one leading space, as before text
    long = "x" * 300 + "yz"
    assert previous_text_tokens(encode, long)[-2:] == [ord("y"), ord("z")]  # the end of the prompt is what stays
    assert len(previous_text_tokens(encode, long)) == PREVIOUS_TEXT_TOKENS
    assert len(previous_text_tokens(encode, long, 31)) == 31


def test_the_default_prompt_recovers_the_misheard_sample(resident_pipeline: Pipeline, samples: Path) -> None:
    """"Tell me the latest news headlines." in a voice tiny.en mishears. Conditioned on the shipped intents' example
    requests (the default prompt), the decoder hears it better than with no prompt; both paths read the setting."""
    default = resident_pipeline.golems["scribe"]
    unprompted = Scribe(resident_pipeline.settings.with_overrides(scribe_prompt=""))
    unprompted.load()
    try:
        audio = [decode((samples / "misheard.wav").read_bytes())]
        reference = "Tell me the latest news headlines."
        with_prompt, without = default.run(audio)[0], unprompted.run(audio)[0]
        assert word_error_rate(reference, with_prompt.text) < word_error_rate(reference, without.text)
        assert with_prompt.avg_logprob is not None and without.avg_logprob is not None
        assert with_prompt.avg_logprob > without.avg_logprob  # surer of what it heard
    finally:
        unprompted.unload()


def test_the_transformers_prompt_puts_previous_text_before_the_start_token(tiny_whisper_dir: Path,
                                                                           samples: Path) -> None:
    settings = Settings().with_overrides(scribe_model=str(tiny_whisper_dir), scribe_backend="transformers")
    scribes = {prompt: Scribe(settings.with_overrides(scribe_prompt=prompt)) for prompt in ("", "Play my playlist.")}
    for scribe in scribes.values():
        scribe.load()
    try:
        plain, prompted = (scribes[p]._backend._prompt() for p in ("", "Play my playlist."))  # type: ignore[union-attr]
        tokenizer = scribes[""]._backend._processor.tokenizer  # type: ignore[union-attr]
        assert plain[1] == 0 and tokenizer.convert_ids_to_tokens(plain[0][0]) == "<|startoftranscript|>"
        tokens, start = prompted
        assert tokenizer.convert_ids_to_tokens(tokens[0]) == "<|startofprev|>"
        assert tokenizer.decode(tokens[1:start]) == " Play my playlist."
        assert tokens[start:] == plain[0]  # the same start, language and task tokens follow
        transcript = scribes["Play my playlist."].run([decode((samples / "timer.wav").read_bytes())])[0]
        assert transcript.no_speech_prob is not None and 0.0 <= transcript.no_speech_prob <= 1.0
    finally:
        for scribe in scribes.values():
            scribe.unload()
