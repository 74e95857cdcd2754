"""Intent labels and their one-sentence descriptions.

Why descriptions: an embedding classifier comparing a request with the bare word "weather" sends
"How are you doing today?" to weather; comparing it with a sentence that describes the intent does not.
Labels are configuration — callers may pass their own; these are the shipped defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IntentLabel:
    """One candidate intent: a name (what the API returns), a description and example phrasings.

    The embedding backend scores a text by its best match among the description and the examples (prototype
    matching): one sentence per label is too thin for a small sentence encoder ("Thank you very much." is
    closer to a weather description than to "saying thanks"). The NLI backend uses the description.
    """

    name: str
    description: str
    examples: tuple[str, ...] = ()

    @property
    def prototypes(self) -> tuple[str, ...]:
        return (self.description, *self.examples)


DEFAULT_LABELS: tuple[IntentLabel, ...] = (
    IntentLabel("weather", "asking about the weather forecast, temperature, rain, snow, wind or sunshine",
                ("Is it going to be sunny this afternoon?", "Do I need an umbrella?", "How warm is it outside?",
                 "What's the forecast for the weekend?")),
    IntentLabel("timer", "setting a timer, an alarm, a countdown or a reminder for some minutes",
                ("Set an alarm for seven.", "Start a countdown.", "Remind me in half an hour.",
                 "Timer for twenty minutes please.")),
    IntentLabel("music", "playing music, a song, an artist, an album or a playlist",
                ("Play my playlist.", "Put on some rock music.", "I want to listen to a song.",
                 "Play the next track.")),
    IntentLabel("news", "hearing the news, today's headlines or current events",
                ("What are the top stories?", "Give me the latest headlines.", "Any news about the economy?",
                 "What is going on in the world?")),
    IntentLabel("smalltalk", "greeting, chatting, asking how someone is, saying thanks or telling a joke",
                ("Hi there!", "How is it going?", "Thanks a lot.", "Tell me a joke.", "Nice to meet you.")),
)

MAX_LABELS = 64
"""Upper bound on candidate labels per request: every label costs one hypothesis in the batched pass."""


def labels_from_names(names: list[str] | None) -> tuple[IntentLabel, ...]:
    """Map requested label names to labels, keeping known descriptions; unknown names describe themselves."""
    if names is None:
        return DEFAULT_LABELS
    known = {label.name: label for label in DEFAULT_LABELS}
    return tuple(known.get(name, IntentLabel(name, name)) for name in names)
