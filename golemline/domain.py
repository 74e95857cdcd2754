"""The golems' requests and results: plain, typed, validated, and free of torch and kserve.

Why a module of its own: every path — `golem run`, the monolith server, the split transformer and each served
golem — builds the same requests through the same constructors, so a limit or a clean-up (length bounds, newline
collapsing, unknown intents) cannot be skipped by one path and enforced by another. Importing this module (and
`golemline.gating`, which reads these results) costs no model library.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from golemline.errors import InvalidInput
from golemline.intents import MAX_LABELS, IntentLabel, IntentSet, shipped_intents

MAX_TEXT_CHARS = 2000
"""Longest text the Interpreter and the Oracle accept (a spoken command is a sentence or two)."""
MAX_INTENT_CHARS = 200
MAX_LABEL_CHARS = 200


def compression_ratio(text: str) -> float:
    """Bytes of text over bytes of its zlib compression: >2.4 means repetitive (a typical hallucination)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw)) if raw else 0.0


def rounded(value: float | None, digits: int = 4) -> float | None:
    """JSON-safe rounding: NaN (no tokens to average) becomes None."""
    return None if value is None or math.isnan(value) else round(value, digits)


def _one_line(text: str) -> str:
    """Collapse whitespace: the Oracle's prompt is line-structured, so a newline in user text could forge an
    "Intent:"/"Reply:" line."""
    return " ".join(text.split())


# -- Scribe ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LongFormWindow:
    """One 30 s window of audio longer than every encoder window, as Whisper's long-form transcription decoded it:
    where it starts, its own no-speech probability and average log-probability, and how many tokens it gave. The
    gate judges such audio window by window (`golemline.gating.silent_window`), as Whisper itself does."""

    start_s: float
    no_speech_prob: float
    avg_logprob: float
    tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 2), "no_speech_prob": round(self.no_speech_prob, 4),
                "avg_logprob": round(self.avg_logprob, 4), "tokens": self.tokens}


@dataclass(frozen=True)
class Transcript:
    """What the Scribe heard and how sure it is. Signals are None when the model produced no tokens."""

    text: str
    language: str
    duration_s: float
    avg_logprob: float | None
    no_speech_prob: float | None
    compression_ratio: float
    rms_dbfs: float
    window_s: float | None = None  # the encoder window the audio ran on (None: windowed transcription)
    speech_s: float | None = None  # seconds of speech the VAD found (None: not trimmed)
    # The least likely text token's log-probability: one garbled word in an otherwise fluent transcript ("Play some
    # chairs.") hides in the average but not here. None when the backend does not report it or there are no tokens.
    min_token_logprob: float | None = None
    # Audio longer than every window: its 30 s windows (None: one encoder window, `window_s`). Then the text and the
    # average log-probability are the speech windows' only, the compression ratio is the most repetitive speech
    # window's, and the gate applies Whisper's long-form rule.
    long_form: tuple[LongFormWindow, ...] | None = None

    @property
    def signals(self) -> dict[str, Any]:
        signals: dict[str, Any] = {
            "avg_logprob": self.avg_logprob, "no_speech_prob": self.no_speech_prob,
            "compression_ratio": round(self.compression_ratio, 3), "rms_dbfs": round(self.rms_dbfs, 1),
            "duration_s": round(self.duration_s, 3), "words": len(self.text.split()),
            "window_s": self.window_s, "speech_s": None if self.speech_s is None else round(self.speech_s, 3),
            "min_token_logprob": self.min_token_logprob}
        if self.long_form is not None:  # only then: a one-window transcript's signals stay as they were
            signals["long_form_windows"] = [window.as_dict() for window in self.long_form]
        return signals


# -- Interpreter -------------------------------------------------------------------------------------------------
def labels_from_names(names: list[str] | None, intents: IntentSet) -> tuple[IntentLabel, ...]:
    """Requested label names → labels: the configured intents' own (descriptions, examples) where a name is one of
    them, else a label that describes itself. No names: the configured intents."""
    if names is None:
        return intents.labels
    known = {label.name: label for label in intents.labels}
    return tuple(known.get(name, IntentLabel(name, name)) for name in names)


@dataclass(frozen=True)
class IntentRequest:
    """A text to classify and the candidate labels (the configured intents unless the caller names its own)."""

    text: str
    labels: tuple[IntentLabel, ...]

    @classmethod
    def create(cls, text: Any, labels: Any = None, intents: IntentSet | None = None) -> IntentRequest:
        """Validate untrusted values (a served instance or a transcript) into a request, or raise InvalidInput.
        `intents` is the deployment's domain (`Settings.intents`); None means the shipped one."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("interpreter: 'text' must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"interpreter: 'text' has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        if labels is not None:
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise InvalidInput("interpreter: 'labels' must be a list of strings")
            if len(labels) < 2:
                raise InvalidInput("interpreter: give at least 2 candidate labels (or omit 'labels')")
            if len(labels) > MAX_LABELS:
                raise InvalidInput(f"interpreter: {len(labels)} labels exceeds the limit of {MAX_LABELS}")
            if any(not x.strip() or len(x) > MAX_LABEL_CHARS for x in labels):
                raise InvalidInput(f"interpreter: every label must be 1..{MAX_LABEL_CHARS} non-blank characters")
            if len(set(labels)) != len(labels):
                raise InvalidInput("interpreter: candidate labels must be unique")
        return cls(text=_one_line(text), labels=labels_from_names(labels, intents or shipped_intents()))


@dataclass(frozen=True)
class IntentResult:
    """Labels ranked best first, their scores, the top-1/top-2 margin, and (open-set backends) the score of the
    nearest "none of these" prototype: a text that scores higher there than on its best label asks for something
    no label serves."""

    labels: list[str]
    scores: list[float]
    margin: float
    none_score: float | None = None

    @property
    def open_set_margin(self) -> float | None:
        """How much closer the text is to its best label than to the background (None: not an open-set backend)."""
        return None if self.none_score is None else round(self.score - self.none_score, 4)

    @property
    def label(self) -> str:
        return self.labels[0]

    @property
    def score(self) -> float:
        return self.scores[0]

    @classmethod
    def rank(cls, labels: Sequence[IntentLabel], scores: Sequence[float],
             none_score: float | None = None) -> IntentResult:
        order = sorted(range(len(labels)), key=lambda i: -scores[i])
        ranked = [round(float(scores[i]), 4) for i in order]
        margin = ranked[0] - ranked[1] if len(ranked) > 1 else ranked[0]
        return cls(labels=[labels[i].name for i in order], scores=ranked, margin=round(margin, 4),
                   none_score=None if none_score is None else round(float(none_score), 4))


# -- Oracle ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplyRequest:
    """The request text and its intent, both single-line and bounded (see `create`)."""

    text: str
    intent: str

    @classmethod
    def create(cls, text: Any, intent: Any, known_intents: Sequence[str] | None = None) -> ReplyRequest:
        """Validate and normalise; an intent the Oracle was not built for is refused, naming the known ones.
        `known_intents`: the deployment's intent names (`Settings.intents.names`); None means the shipped ones."""
        known_intents = shipped_intents().names if known_intents is None else known_intents
        for name, value in (("text", text), ("intent", intent)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"oracle: '{name}' must be a non-empty string")
        assert isinstance(text, str) and isinstance(intent, str)
        if len(text) > MAX_TEXT_CHARS or len(intent) > MAX_INTENT_CHARS:
            raise InvalidInput(f"oracle: 'text' is limited to {MAX_TEXT_CHARS} and 'intent' to "
                               f"{MAX_INTENT_CHARS} characters")
        intent = _one_line(intent)
        if known_intents and intent not in known_intents:
            raise InvalidInput(f"oracle: unknown intent {intent!r}; known intents: {', '.join(known_intents)}")
        return cls(text=_one_line(text), intent=intent)


@dataclass(frozen=True)
class Reply:
    text: str
    tokens: int
    tokens_per_s: float
    compression_ratio: float
