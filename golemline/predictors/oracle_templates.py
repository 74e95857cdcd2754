"""The `templates` Oracle backend: replies written in the intents file, chosen deterministically.

Why: a deployment with its own intents and no LLM must still answer, and must never answer with text a model
wrote for an intent it was never trained on (the bundled GPT-2 knows only the five demo intents). Replies from the
intents file are the user's own words: offline, weightless, and the same for the same request every time.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from golemline.domain import Reply, ReplyRequest, compression_ratio
from golemline.errors import InvalidInput
from golemline.intents import IntentLabel, IntentSet, resolve_intents
from golemline.predictors.base import WeightlessBackend
from golemline.settings import Settings


def intents_of(settings: Settings) -> IntentSet:
    """The domain the Oracle answers for: the settings' intents file (once the settings carry one), else the
    shipped demo domain.

    Why `getattr`: the `intents` setting (`--intents`, GOLEM_INTENTS) is threaded through the settings by the
    intents-as-data work; reading it here by name keeps this backend correct before and after that lands, whether
    the setting holds a path or an already-validated `IntentSet`."""
    configured: Any = getattr(settings, "intents", None)
    if isinstance(configured, IntentSet):
        return configured
    return resolve_intents(configured or None)


def generic_reply(label: IntentLabel) -> str:
    """The answer for an intent whose entry lists no `replies` (docs/oracle.md names it): an acknowledgement that
    repeats the intent's name, so a user hears what was understood and never a made-up action."""
    return f"Okay, I've noted your {label.name.replace('_', ' ')} request."


def choose_reply(request: ReplyRequest, label: IntentLabel) -> str:
    """One of the intent's replies, picked by a CRC-32 of the request text: the same text always gets the same
    reply (in every process: Python's `hash` of a string changes per process), different texts spread over them."""
    if not label.replies:
        return generic_reply(label)
    return label.replies[zlib.crc32(request.text.encode("utf-8")) % len(label.replies)]


class TemplateReplies(WeightlessBackend[ReplyRequest, Reply]):
    """Replies from the intents file; no weights, no device, nothing to warm."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._intents = intents_of(settings)

    def load(self) -> None:
        """Nothing to load: the replies came with the intents."""

    def unload(self) -> None:
        pass

    def forward(self, inputs: Any) -> Any:
        return inputs

    def postprocess(self, outputs: Any, batch: list[ReplyRequest]) -> list[Reply]:
        replies = []
        for request in batch:
            try:
                label = self._intents.label(request.intent)
            except KeyError:
                raise InvalidInput(f"oracle: intent {request.intent!r} is not in the intents file "
                                   f"{self._intents.source}; known: {', '.join(self._intents.names)}") from None
            text = choose_reply(request, label)
            replies.append(Reply(text=text, tokens=len(text.split()), tokens_per_s=0.0,
                                 compression_ratio=round(compression_ratio(text), 3)))
        return replies
