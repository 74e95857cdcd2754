"""Intent labels and their one-sentence descriptions.

Why descriptions: an embedding classifier comparing a request with the bare word "weather" sends
"How are you doing today?" to weather; comparing it with a sentence that describes the intent does not.
Labels are configuration — callers may pass their own; these are the shipped defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntentLabel:
    """One candidate intent: a short name (what the API returns) and a description (what is compared)."""

    name: str
    description: str


DEFAULT_LABELS: tuple[IntentLabel, ...] = (
    IntentLabel("weather", "asking about the weather forecast, temperature, rain, snow, wind or sunshine"),
    IntentLabel("timer", "setting a timer, an alarm, a countdown or a reminder for some minutes"),
    IntentLabel("music", "playing music, a song, an artist, an album or a playlist"),
    IntentLabel("news", "hearing the news, today's headlines or current events"),
    IntentLabel("smalltalk", "greeting, chatting, asking how someone is, saying thanks or telling a joke"),
)

MAX_LABELS = 64
"""Upper bound on candidate labels per request: every label costs one hypothesis in the batched pass."""


def labels_from_names(names: list[str] | None) -> tuple[IntentLabel, ...]:
    """Map requested label names to labels, keeping known descriptions; unknown names describe themselves."""
    if names is None:
        return DEFAULT_LABELS
    known = {label.name: label for label in DEFAULT_LABELS}
    return tuple(known.get(name, IntentLabel(name, name)) for name in names)
