"""The gating policy: after each stage, decide whether its output is good enough to pass on.

Garbage in, garbage out: a misheard " Mead." became intent "weather" and a fluent, useless answer. Each check
returns a `Rejection` (stage, a reason code from a small fixed set, a sentence, and the measured signals) or
None. Reason codes are bounded so they can label metrics.

Every check reads one `GatePolicy`: the configured thresholds (`Settings.gating`) with the Interpreter backend's
calibrated defaults filled in, resolved once. Why here and not on the backends: a transformer that calls a remote
Interpreter gates exactly as in-process without importing (or loading) any model code, and a threshold has one home.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from golemline.audio import Audio
from golemline.domain import IntentResult, LongFormWindow, Reply, Transcript
from golemline.errors import ConfigError
from golemline.settings import ENV_PREFIX, GatingPolicy, Settings

REASONS = ("no_speech", "empty_transcript", "low_asr_confidence", "repetitive_transcript", "low_intent_score",
           "ambiguous_intent", "empty_reply", "repetitive_reply")


@dataclass(frozen=True)
class Rejection:
    stage: str
    reason: str
    detail: str
    signals: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "reason": self.reason, "detail": self.detail, "signals": self.signals}


@dataclass(frozen=True)
class IntentGate:
    """An Interpreter backend's calibrated thresholds: scores differ in scale between backends (cosine similarity
    against a softmax over labels), so each backend ships its own. `min_open_set_margin` None: the backend gives no
    "none of these" score."""

    min_intent_score: float
    min_intent_margin: float
    min_open_set_margin: float | None = None


_EMBEDDING_GATE = IntentGate(min_intent_score=0.45, min_intent_margin=0.06, min_open_set_margin=0.05)
CALIBRATED_INTENT_GATES: Mapping[str, IntentGate] = {
    # Calibrated (`golem gate calibrate --max-wrong 0.05`, docs/gating.md); tests/test_gate_calibration.py checks.
    "embedding": _EMBEDDING_GATE,
    # The same sentence embeddings through CTranslate2: scores within 1e-3 of the torch backend's on the gating
    # corpus (tests/test_interpreter_ctranslate2.py), so the same thresholds hold.
    "embedding-ct2": _EMBEDDING_GATE,
    "nli": IntentGate(min_intent_score=0.45, min_intent_margin=0.10),
}
"""Calibrated Interpreter thresholds by backend name (`--interpreter-backend`)."""


@dataclass(frozen=True)
class GatePolicy:
    """Every threshold the gate applies, resolved: what the chain, the benchmarks and the tests gate with.

    Built once (`GatePolicy.of(settings)`): `Settings.gating` says what was configured, with None meaning "the
    Interpreter backend's calibrated value"; here no threshold is left to resolve at check time."""

    min_rms_dbfs: float
    max_no_speech_prob: float
    min_avg_logprob: float
    max_compression_ratio: float
    min_words: int
    min_token_logprob: float | None
    min_intent_score: float
    min_intent_margin: float
    min_open_set_margin: float | None
    max_reply_compression_ratio: float

    @classmethod
    def of(cls, settings: Settings) -> GatePolicy:
        """The deployment's gate: its configured thresholds over its Interpreter backend's calibrated ones."""
        return cls.resolve(settings.gating, settings.golems["interpreter"].backend)

    @classmethod
    def resolve(cls, configured: GatingPolicy, interpreter_backend: str) -> GatePolicy:
        """`configured` with every unset Interpreter threshold taken from `interpreter_backend`'s calibration. A
        threshold neither configured nor calibrated is a ConfigError naming the option that sets it."""
        calibrated = CALIBRATED_INTENT_GATES.get(interpreter_backend)
        values = {f.name: getattr(configured, f.name) for f in fields(GatingPolicy)}
        for name in ("min_intent_score", "min_intent_margin", "min_open_set_margin"):
            if values[name] is None and calibrated is not None:
                values[name] = getattr(calibrated, name)
            if values[name] is None and name != "min_open_set_margin":  # open set: None means "no such check"
                raise ConfigError(f"interpreter backend {interpreter_backend!r} has no calibrated {name}: set "
                                  f"--gate-{name.replace('_', '-')} ({ENV_PREFIX}GATE_{name.upper()} or the "
                                  "gating config)")
        return cls(**values)


def check_audio(audio: Audio, policy: GatePolicy) -> Rejection | None:
    """Before ASR: a signal this quiet holds no speech; do not spend a model call on it."""
    level = audio.rms_dbfs
    if level < policy.min_rms_dbfs:
        return Rejection("scribe", "no_speech", f"signal level {level:.1f} dBFS is below "
                         f"{policy.min_rms_dbfs:.1f} dBFS: silence", {"rms_dbfs": round(level, 1),
                                                                      "duration_s": round(audio.duration_s, 3)})
    return None


class NoSpeechBounds(Protocol):
    """The two Scribe thresholds the long-form rule reads. The Scribe applies the rule while it decodes (it drops
    silent windows' text), from its settings, before any `GatePolicy` exists; both carry these two as configured."""

    @property
    def max_no_speech_prob(self) -> float: ...

    @property
    def min_avg_logprob(self) -> float: ...


def silent_window(window: LongFormWindow, policy: NoSpeechBounds) -> bool:
    """Whisper's own long-form rule (openai-whisper's and faster-whisper's `transcribe`): a 30 s window of long
    audio is silence only when its no-speech probability is above the bound AND its text is unlikely (average
    log-probability below the bound). The no-speech probability alone refused clear dictations, whose windows
    read above the short-command bound, while noise, tones and beeps of the same length were above both bounds in
    every window; what the rule lets through, the repetition and confidence checks that follow still judge
    (measured in docs/scribe.md, "Audio over 30 seconds")."""
    return window.no_speech_prob > policy.max_no_speech_prob and window.avg_logprob < policy.min_avg_logprob


def _check_no_speech(transcript: Transcript, policy: GatePolicy) -> Rejection | None:
    """One encoder window: the calibrated no-speech bound. Audio longer than every window: the long-form rule,
    which refuses it only when every window is silence (the short-command figures are left as calibrated)."""
    signals = transcript.signals
    if transcript.long_form is not None:
        if all(silent_window(window, policy) for window in transcript.long_form):
            why = (f"every window decoded ({len(transcript.long_form)}) has a no-speech probability above "
                   f"{policy.max_no_speech_prob:.2f} and an average log-probability below "
                   f"{policy.min_avg_logprob:.2f}" if transcript.long_form else "Whisper gave no window any text")
            return Rejection("scribe", "no_speech", f"long-form rule (audio longer than every encoder window, judged "
                             f"in 30 s windows): {why}: noise or silence, not speech", signals)
        return None
    if transcript.no_speech_prob is not None and transcript.no_speech_prob > policy.max_no_speech_prob:
        return Rejection("scribe", "no_speech", f"no-speech probability {transcript.no_speech_prob:.2f} > "
                         f"{policy.max_no_speech_prob:.2f}: noise or silence, not speech", signals)
    return None


def check_transcript(transcript: Transcript, policy: GatePolicy) -> Rejection | None:
    """After ASR. Order matters: no-speech first (Whisper's text on noise is fluent and 'confident')."""
    signals = transcript.signals
    no_speech = _check_no_speech(transcript, policy)
    if no_speech is not None:
        return no_speech
    if len(transcript.text.split()) < policy.min_words or not any(c.isalnum() for c in transcript.text):
        return Rejection("scribe", "empty_transcript", "the transcript has no words", signals)
    if transcript.compression_ratio > policy.max_compression_ratio:
        return Rejection("scribe", "repetitive_transcript", f"compression ratio "
                         f"{transcript.compression_ratio:.2f} > {policy.max_compression_ratio:.2f}: "
                         "repeated text, a typical hallucination", signals)
    if transcript.avg_logprob is None or transcript.avg_logprob < policy.min_avg_logprob:
        return Rejection("scribe", "low_asr_confidence", f"average log-probability {transcript.avg_logprob} < "
                         f"{policy.min_avg_logprob:.2f}: the recogniser is unsure what it heard", signals)
    worst = transcript.min_token_logprob
    if policy.min_token_logprob is not None and worst is not None and worst < policy.min_token_logprob:
        return Rejection("scribe", "low_asr_confidence", f"least likely word log-probability {worst:.2f} < "
                         f"{policy.min_token_logprob:.2f}: the recogniser guessed at least one word", signals)
    return None


def check_intent(result: IntentResult, policy: GatePolicy) -> Rejection | None:
    """After the Interpreter: a low best score means no label fits; a text closer to requests no label serves
    than to its best label asks for something else (open set); a low margin means two labels fit equally."""
    min_score, min_margin = policy.min_intent_score, policy.min_intent_margin
    min_open_set_margin = policy.min_open_set_margin
    signals = {"label": result.label, "score": result.score, "margin": result.margin,
               "candidates": dict(zip(result.labels[:3], result.scores[:3], strict=False)),
               "min_score": min_score, "min_margin": min_margin}
    if result.none_score is not None:
        signals |= {"none_score": result.none_score, "min_open_set_margin": min_open_set_margin}
    if result.score < min_score:
        return Rejection("interpreter", "low_intent_score", f"best intent {result.label!r} scores "
                         f"{result.score:.3f} < {min_score:.3f}: the text matches no known intent", signals)
    open_margin = result.open_set_margin
    if min_open_set_margin is not None and open_margin is not None and open_margin < min_open_set_margin:
        return Rejection("interpreter", "low_intent_score", f"best intent {result.label!r} scores "
                         f"{result.score:.3f}, only {open_margin:.3f} above a request none of the intents serves "
                         f"({result.none_score:.3f}; needs {min_open_set_margin:.3f}): none of these", signals)
    if result.margin < min_margin:
        return Rejection("interpreter", "ambiguous_intent", f"intents {result.labels[0]!r} and "
                         f"{result.labels[1]!r} differ by {result.margin:.3f} < {min_margin:.3f}", signals)
    return None


def check_reply(reply: Reply, policy: GatePolicy) -> Rejection | None:
    signals = {"tokens": reply.tokens, "compression_ratio": reply.compression_ratio}
    if not any(c.isalnum() for c in reply.text):
        return Rejection("oracle", "empty_reply", "the reply has no words", signals)
    if reply.compression_ratio > policy.max_reply_compression_ratio:
        return Rejection("oracle", "repetitive_reply", f"reply compression ratio {reply.compression_ratio:.2f} > "
                         f"{policy.max_reply_compression_ratio:.2f}: degenerate repetition", signals)
    return None
