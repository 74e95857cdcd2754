"""Intents as data: the domain a deployment serves, read from one YAML file.

Why a file and not code: a team adopting Golemline brings its own domain ("turn on the porch light"), and every
part that depends on the domain — the Interpreter's prototypes, the open-set background, the Scribe's prompt, the
template Oracle's replies, the canary, calibration labels — must follow from one place a user can edit, check in
and hand to Helm. Without a file the shipped demo domain (`golemline/bundled/intents.yaml`) applies, so behaviour
without the option is exactly the shipped one.

The format (docs/intents.md)::

    intents:
      - name: lights                       # what the API returns; a metric-safe label value
        description: switch lights on or off, dim or brighten them
        examples: ["Turn on the kitchen lights.", "Dim the lights in the bedroom."]
        replies: ["Okay, I've changed the lights."]   # optional: the template Oracle's answers
    background:                            # optional: requests no intent serves (the open-set gate)
      - "Order a pizza for delivery."

Importing this module costs no model library (PyYAML only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from golemline.yamlfile import read_yaml

SHIPPED_INTENTS_FILE = Path(__file__).with_name("bundled") / "intents.yaml"
"""The shipped demo domain (weather, timer, music, news, smalltalk)."""

MAX_LABELS = 64
"""Upper bound on intents per file and candidate labels per request: every label costs work in the batched pass."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""An intent name becomes a Prometheus label value and a Kubernetes-friendly identifier: lower-case letters, digits
and underscores, starting with a letter, at most 63 characters."""

RESERVED_NAMES = frozenset({"none"})
"""`none` marks speech that asks for no intent in calibration datasets (metadata.csv), so no intent may use it."""

_INTENT_KEYS = frozenset({"name", "description", "examples", "replies"})
_FILE_KEYS = frozenset({"intents", "background"})


class IntentsError(ValueError):
    """A bad intents file: the message is one line that names the file and the problem (the CLI exits 2 on it)."""


@dataclass(frozen=True)
class IntentLabel:
    """One candidate intent: a name (what the API returns), a description, example phrasings and optional replies.

    The embedding backend scores a text by its best match among the description and the examples (prototype
    matching): one sentence per label is too thin for a small sentence encoder ("Thank you very much." is
    closer to a weather description than to "saying thanks"). The NLI backend uses the description. `replies`
    feed the template Oracle; they do not take part in classification.
    """

    name: str
    description: str
    examples: tuple[str, ...] = ()
    replies: tuple[str, ...] = ()

    @property
    def prototypes(self) -> tuple[str, ...]:
        return (self.description, *self.examples)


@dataclass(frozen=True)
class IntentSet:
    """A validated domain: its intents, its "none of these" background, and where it came from."""

    labels: tuple[IntentLabel, ...]
    background: tuple[str, ...] = ()
    source: str = str(SHIPPED_INTENTS_FILE)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    @property
    def is_shipped(self) -> bool:
        """True for the demo domain: the shipped gate calibration, canary samples and Oracle weights belong to it."""
        return self.labels == shipped_intents().labels and self.background == shipped_intents().background

    @property
    def scribe_prompt(self) -> str:
        """Whisper's "previous text": one example request per intent, so the decoder expects this domain's words.

        Why: tiny Whisper on unfamiliar voices mishears short commands ("Play some jazz." → "Please, some jars.");
        conditioning on in-domain text is Whisper's own mechanism for vocabulary (`initial_prompt`).
        """
        return " ".join(label.examples[0] for label in self.labels)

    def label(self, name: str) -> IntentLabel:
        for label in self.labels:
            if label.name == name:
                return label
        raise KeyError(name)


def _strings(value: Any, where: str, *, allow_empty: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise IntentsError(f"{where} must be a list of non-empty strings")
    if not value and not allow_empty:
        raise IntentsError(f"{where} needs at least one entry")
    return tuple(" ".join(item.split()) for item in value)


def _intent(entry: Any, index: int) -> IntentLabel:
    where = f"intents[{index}]"
    if not isinstance(entry, dict):
        raise IntentsError(f"{where} must be a mapping with name, description, examples (and optional replies)")
    unknown = sorted(set(entry) - _INTENT_KEYS)
    if unknown:
        raise IntentsError(f"{where} has unknown key(s) {', '.join(map(str, unknown))}; "
                           f"allowed: {', '.join(sorted(_INTENT_KEYS))}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise IntentsError(f"{where}: name {name!r} is not a metric-safe label "
                           f"(lower-case letters, digits and _, starting with a letter, at most 63 characters)")
    if name in RESERVED_NAMES:
        raise IntentsError(f"{where}: name {name!r} is reserved (it marks speech that asks for no intent)")
    where = f"intent {name!r}"
    description = entry.get("description")
    if not isinstance(description, str) or not description.strip():
        raise IntentsError(f"{where} needs a description (one sentence saying what the user wants)")
    if "examples" not in entry:
        raise IntentsError(f"{where} has no examples (give at least one request a user would say)")
    examples = _strings(entry["examples"], f"{where}: examples", allow_empty=False)
    replies = _strings(entry.get("replies", []), f"{where}: replies", allow_empty=True)
    return IntentLabel(name, " ".join(description.split()), examples, replies)


def parse_intents(document: Any, source: str) -> IntentSet:
    """Validate a parsed intents document; every problem is an `IntentsError` naming `source`."""
    try:
        if not isinstance(document, dict):
            raise IntentsError("the file must be a mapping with an `intents:` list")
        unknown = sorted(set(document) - _FILE_KEYS)
        if unknown:
            raise IntentsError(f"unknown key(s) {', '.join(map(str, unknown))}; allowed: intents, background")
        entries = document.get("intents")
        if not isinstance(entries, list) or len(entries) < 2:
            raise IntentsError("`intents:` must list at least two intents (one intent leaves nothing to choose)")
        if len(entries) > MAX_LABELS:
            raise IntentsError(f"{len(entries)} intents exceeds the limit of {MAX_LABELS}")
        labels = tuple(_intent(entry, i) for i, entry in enumerate(entries))
        seen: set[str] = set()
        for label in labels:
            if label.name in seen:
                raise IntentsError(f"intent name {label.name!r} appears twice")
            seen.add(label.name)
        background = _strings(document.get("background", []), "background", allow_empty=True)
    except IntentsError as error:
        raise IntentsError(f"{source}: {error}") from None
    return IntentSet(labels, background, source)


def load_intents(path: str | Path) -> IntentSet:
    """Read and validate an intents file. A missing, unreadable or malformed file is an `IntentsError`."""
    return parse_intents(read_yaml(path, "the intents file", IntentsError), str(path))


@lru_cache(maxsize=1)
def shipped_intents() -> IntentSet:
    """The demo domain shipped with the package (read once)."""
    return load_intents(SHIPPED_INTENTS_FILE)


def resolve_intents(path: str | Path | None) -> IntentSet:
    """The domain to serve: the given file, or the shipped one when no file is named (None or "")."""
    return load_intents(path) if path else shipped_intents()
