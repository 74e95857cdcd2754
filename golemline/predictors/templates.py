"""The template Oracle: replies written in the intents file, chosen deterministically; no weights, no device.

Why: the bundled offline Oracle is a small GPT-2 trained on the five demo intents. With a domain of one's own it
would write a reply for an intent it never saw; the intents file's own `replies` are the honest offline answer.
`Settings` picks this backend when an intents file of one's own is given and the profile's Oracle was left as it is.
A reply is picked by a stable hash of the request text, so the same request always gets the same reply (tests and
canaries can compare). An intent without `replies` gets a plain acknowledgement naming what it does.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any, ClassVar

from golemline.domain import Reply, ReplyRequest, compression_ratio
from golemline.errors import InvalidInput
from golemline.predictors.base import Backend
from golemline.settings import Settings


def template_reply(request: ReplyRequest, settings: Settings) -> str:
    """The reply for one request: one of its intent's replies (stable per text), else an acknowledgement."""
    try:
        label = settings.intents.label(request.intent)
    except KeyError:
        raise InvalidInput(f"oracle: unknown intent {request.intent!r}; known intents: "
                           f"{', '.join(settings.intents.names)}") from None
    if not label.replies:
        return f"Okay: {label.description}."
    return label.replies[zlib.crc32(request.text.encode("utf-8")) % len(label.replies)]


class TemplateReplies(Backend[ReplyRequest, Reply]):
    """Replies from `Settings.intents` (the model directory is the intents file; nothing is loaded)."""

    weightless: ClassVar[bool] = True

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._loaded = False

    def load(self) -> None:
        self._loaded = True

    def unload(self) -> None:
        self._loaded = False

    def memory_bytes(self) -> int:
        return 0

    @classmethod
    def estimate_bytes(cls, model_dir: Path, settings: Settings) -> int:
        return 0

    def prefetch(self) -> None:
        """Nothing to read ahead."""

    def _forward(self, inputs: Any) -> Any:
        started = time.perf_counter()
        texts = [template_reply(request, self.settings) for request in inputs]
        return texts, time.perf_counter() - started

    def postprocess(self, outputs: tuple[list[str], float], batch: list[ReplyRequest]) -> list[Reply]:
        texts, seconds = outputs
        return [Reply(text=text, tokens=len(text.split()),
                      tokens_per_s=round(len(text.split()) / seconds, 1) if seconds else 0.0,
                      compression_ratio=round(compression_ratio(text), 3)) for text in texts]
