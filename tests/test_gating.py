"""The gating policy stops garbage at the stage where it appears and says why."""

from __future__ import annotations

import dataclasses

import numpy as np

from golemline.audio import TARGET_RATE, Audio
from golemline.domain import IntentResult, LongFormWindow, Reply, Transcript
from golemline.gating import REASONS, check_audio, check_intent, check_reply, check_transcript, silent_window
from golemline.settings import GatingPolicy

POLICY = GatingPolicy()


def transcript(text: str = "what is the weather today", avg_logprob: float | None = -0.3,
               no_speech_prob: float | None = 0.05, ratio: float = 1.0) -> Transcript:
    return Transcript(text=text, language="en", duration_s=2.0, avg_logprob=avg_logprob,
                      no_speech_prob=no_speech_prob, compression_ratio=ratio, rms_dbfs=-20.0)


def test_silence_is_rejected_before_asr() -> None:
    quiet = Audio(samples=np.full(TARGET_RATE, 1e-4, dtype=np.float32), source_rate=TARGET_RATE, source_channels=1)
    rejection = check_audio(quiet, POLICY)
    assert rejection is not None and rejection.stage == "scribe" and rejection.reason == "no_speech"
    assert rejection.signals["rms_dbfs"] == -80.0


def test_speech_level_passes() -> None:
    loud = Audio(samples=np.full(TARGET_RATE, 0.1, dtype=np.float32), source_rate=TARGET_RATE, source_channels=1)
    assert check_audio(loud, POLICY) is None


def test_good_transcript_passes() -> None:
    assert check_transcript(transcript(), POLICY) is None


def test_confident_hallucination_on_noise_is_caught_by_no_speech_probability() -> None:
    # Whisper on white noise: fluent text, avg log-prob better than real speech, but no-speech prob ~0.95.
    rejection = check_transcript(transcript("Thank you for watching.", avg_logprob=-0.2, no_speech_prob=0.95),
                                 POLICY)
    assert rejection is not None and rejection.reason == "no_speech"
    assert rejection.signals["no_speech_prob"] == 0.95


def long_form(*windows: tuple[float, float]) -> Transcript:
    """A transcript of audio longer than every window, with one (no-speech probability, average log-probability)
    per 30 s window."""
    parts = tuple(LongFormWindow(30.0 * k, no_speech, logprob, 40) for k, (no_speech, logprob) in enumerate(windows))
    highest = max((w.no_speech_prob for w in parts), default=None)
    return dataclasses.replace(transcript(no_speech_prob=highest), duration_s=44.0, long_form=parts)


def test_long_audio_is_silence_only_when_every_window_is_unlikely_text_and_likely_silence() -> None:
    # A clear dictation's first window: no-speech probability over the short bound, but text Whisper is sure of.
    dictation = long_form((0.59, -0.24), (0.34, -0.53))
    assert check_transcript(dictation, POLICY) is None
    assert dictation.signals["window_s"] is None and len(dictation.signals["long_form_windows"]) == 2
    noise = check_transcript(long_form((0.93, -1.20), (0.92, -1.10)), POLICY)
    assert noise is not None and noise.reason == "no_speech" and "long-form rule" in noise.detail
    assert [w["no_speech_prob"] for w in noise.signals["long_form_windows"]] == [0.93, 0.92]
    # one window of speech is enough; a window with likely silence but confident text is speech (Whisper's rule)
    assert check_transcript(long_form((0.93, -1.20), (0.20, -0.40)), POLICY) is None
    assert not silent_window(LongFormWindow(0.0, 0.93, -0.5, 10), POLICY)
    assert not silent_window(LongFormWindow(0.0, 0.10, -1.5, 10), POLICY)
    assert silent_window(LongFormWindow(0.0, 0.31, -1.01, 10), POLICY)
    nothing = check_transcript(long_form(), POLICY)  # Whisper gave no window any text
    assert nothing is not None and nothing.reason == "no_speech"


def test_the_short_command_rule_is_unchanged_by_the_long_form_one() -> None:
    """The same signals on one encoder window are refused as before: the calibrated figures still apply there."""
    one_window = dataclasses.replace(transcript(avg_logprob=-0.24, no_speech_prob=0.59), window_s=10.0)
    rejection = check_transcript(one_window, POLICY)
    assert rejection is not None and rejection.reason == "no_speech" and "long-form" not in rejection.detail
    assert "long_form_windows" not in one_window.signals


def test_repetition_is_caught_by_compression_ratio() -> None:
    rejection = check_transcript(transcript("la la la " * 20, ratio=16.9), POLICY)
    assert rejection is not None and rejection.reason == "repetitive_transcript"


def test_low_confidence_and_empty_transcripts() -> None:
    low = check_transcript(transcript(avg_logprob=-1.6), POLICY)
    assert low is not None and low.reason == "low_asr_confidence"
    assert check_transcript(transcript(avg_logprob=-1.0), POLICY) is None
    off = dataclasses.replace(POLICY, min_avg_logprob=-100.0)  # how a calibration writes "not checked"
    assert check_transcript(transcript(avg_logprob=-1.6), off) is None
    empty = check_transcript(transcript(text=" . "), POLICY)
    assert empty is not None and empty.reason == "empty_transcript"
    unknown = check_transcript(transcript(avg_logprob=None), POLICY)
    assert unknown is not None and unknown.reason == "low_asr_confidence"


def test_intent_gate_on_score_and_margin() -> None:
    confident = IntentResult(labels=["weather", "news"], scores=[0.6, 0.2], margin=0.4)
    assert check_intent(confident, 0.25, 0.02) is None
    garbage = IntentResult(labels=["weather", "news"], scores=[0.12, 0.10], margin=0.02)
    low = check_intent(garbage, 0.25, 0.02)
    assert low is not None and low.stage == "interpreter" and low.reason == "low_intent_score"
    tie = IntentResult(labels=["weather", "news"], scores=[0.40, 0.39], margin=0.01)
    ambiguous = check_intent(tie, 0.25, 0.02)
    assert ambiguous is not None and ambiguous.reason == "ambiguous_intent"
    assert ambiguous.signals["candidates"] == {"weather": 0.40, "news": 0.39}


def test_reply_gate() -> None:
    assert check_reply(Reply("It is sunny.", 4, 10.0, 1.0), POLICY) is None
    empty = check_reply(Reply("...", 1, 10.0, 0.5), POLICY)
    assert empty is not None and empty.stage == "oracle" and empty.reason == "empty_reply"
    repeated = check_reply(Reply("sun " * 40, 40, 10.0, 12.0), POLICY)
    assert repeated is not None and repeated.reason == "repetitive_reply"


def test_reason_codes_are_a_bounded_set() -> None:
    assert len(REASONS) == len(set(REASONS)) == 8
