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
    # Examples are written for this list and kept apart from the gating corpus's sentences (docs/gating.md), so
    # the held-out report measures phrasings the Interpreter has never seen: none is a corpus sentence, and none is
    # a near copy of a held-out one (tests/test_interpreter.py checks both). More examples per intent raised the
    # best-match score of right answers on the calibration split more than that of wrong ones.
    IntentLabel("weather", "asking about the weather forecast, temperature, rain, snow, wind or sunshine",
                ("Is it going to be sunny this afternoon?", "Do I need an umbrella?", "How warm is it outside?",
                 "What's the forecast for the weekend?", "Will it be foggy tonight?", "What's the humidity like?",
                 "Is there a storm coming?", "How many degrees is it?", "Will it freeze overnight?")),
    IntentLabel("timer", "setting a timer, an alarm, a countdown or a reminder for some minutes",
                ("Set an alarm for seven.", "Start a countdown.", "Remind me in half an hour.",
                 "Timer for twenty minutes please.", "Set a ten second timer.",
                 "Alert me when fifteen minutes have passed.", "How much time is left on my timer?",
                 "Ring an alarm at noon.", "Give me a five minute warning.")),
    IntentLabel("music", "playing music, a song, an artist, an album or a playlist",
                ("Play my playlist.", "Put on some rock music.", "I want to listen to a song.",
                 "Play the next track.", "Play something by Queen.", "Start my workout mix.",
                 "Can I hear a piano piece?", "Resume the music.", "Play songs from the eighties.")),
    IntentLabel("news", "hearing the news, today's headlines or current events",
                ("What are the top stories?", "Give me the latest headlines.", "Any news about the economy?",
                 "What is going on in the world?", "Brief me on world events.", "What's new in politics?",
                 "Any breaking news?", "Read the technology news.", "What did the papers say today?")),
    IntentLabel("smalltalk", "greeting, chatting, asking how someone is, saying thanks or telling a joke",
                # "Good afternoon." and "Hey, what's new?": calibration-split greetings ("Good morning!", "What's
                # up?") were closer to weather and news than to the other examples.
                ("Hi there!", "How is it going?", "Thanks a lot.", "Make me laugh.", "Lovely to chat with you.",
                 "Good afternoon.", "Hey, what's new?", "Good evening.", "How's your day been?", "Who are you?",
                 "You're funny.", "Hello!", "Cheers, thank you.")),
)

BACKGROUND: tuple[str, ...] = (
    # "None of these": requests an assistant hears that no shipped intent serves. The embedding Interpreter scores a
    # text against these as well as against the labels; a text closer to the background than to its best label is
    # refused (gate `min_open_set_margin`). They are examples of topics, written for this list: none is a sentence
    # of the evaluation corpus, and some of the corpus's topics (maths, trivia, numbers, names, plain statements)
    # have no background example at all, so the held-out report shows how the margin does on unseen topics.
    "Give me directions to the museum.", "Find a parking space near here.", "Which bus goes to the city centre?",
    "Put bread on the grocery list.", "Order a pizza for delivery.", "Track my package.",
    "Ring my mother.", "Message Tom that I am running late.", "Check my voicemail.",
    "Turn the lamp on in the bedroom.", "Set the thermostat to twenty degrees.", "Open the garage door.",
    "How do I make a tomato sauce?", "Preheat the oven instructions for bread.", "What goes into a salad dressing?",
    "Book a table for two at an Italian restaurant.", "Schedule a meeting with the team on Friday.",
    "Send an email to my boss.", "Book a flight to Paris.", "What is my bank balance?",
    "Translate good evening into Spanish.", "Take a note that the keys are in the drawer.",
    "Open the camera app.", "Find a pharmacy that is open now.", "Search the web for cheap hotels.",
    "Where is the nearest coffee shop?", "Reserve a hotel room for Friday.", "Pay my electricity bill.",
    "Show me my photos.", "Start the vacuum cleaner.", "Close the blinds.", "Read my latest email.",
    "Add a dentist appointment to my calendar.", "How do I reset my password?", "Order new batteries.",
    "Text Dad that dinner is ready.", "Mute the television.", "Find a recipe for lasagne.", "Turn the fan on.",
)
"""Background prototypes: the open-set Interpreter's picture of "none of these" (see the comment above). They are
written against the shipped intents, so they apply when every label of a request is a shipped one: a caller who
names labels of its own ("navigation") defines its own domain, and gets the closed-set score and margin gates."""

SCRIBE_PROMPT = " ".join(label.examples[0] for label in DEFAULT_LABELS)
"""The Scribe's default prompt: one example request per shipped intent, given to Whisper as "previous text".

Why: tiny Whisper on unfamiliar voices mishears short commands ("Play some jazz." → "Please, some jars."), and the
gate can only refuse them. Conditioning the decoder on text from the domain is Whisper's own mechanism for
vocabulary (`initial_prompt`); on the gating corpus's calibration split it raised ungated clean intent accuracy from
0.896 to 0.964 and clean WER fell from 0.215 to 0.180 (README, Gating). The sentences come from the labels, never
from the corpus. A deployment with intents of its own sets `--scribe-prompt` to match, or to "" for none."""

MAX_LABELS = 64
"""Upper bound on candidate labels per request: every label costs one hypothesis in the batched pass."""


def labels_from_names(names: list[str] | None) -> tuple[IntentLabel, ...]:
    """Map requested label names to labels, keeping known descriptions; unknown names describe themselves."""
    if names is None:
        return DEFAULT_LABELS
    known = {label.name: label for label in DEFAULT_LABELS}
    return tuple(known.get(name, IntentLabel(name, name)) for name in names)
