"""The KServe side of a golem: a `kserve.Model` that wraps a plain `Golem` the way an HF pipeline wraps its model.

The adapter owns everything protocol-shaped: it turns V1 instances and V2 tensors into validated domain requests
(`golemline.domain` constructors, the same ones `golem run` uses), publishes the model's V2 metadata, sends the
requests through the golem's micro-batcher and counts the outcome. The golem itself stays a plain class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import kserve

from golemline.domain import IntentRequest, ReplyRequest
from golemline.predictors.base import Golem
from golemline.serving import metrics
from golemline.serving.protocol import (
    SIGNATURES,
    Prepared,
    Signature,
    audio_instance,
    fields_only,
    instances_from,
    respond,
)
from golemline.settings import Settings

Executor = Callable[[list[Any]], Awaitable[list[Any]]]


def parse_instance(model: str, instance: Any, settings: Settings) -> Any:
    """One V1 instance (or one row of V2 tensors) → the golem's typed request, or InvalidInput naming the problem."""
    if model == "scribe":
        return audio_instance(instance, settings, model)
    fields = fields_only(instance, model, SIGNATURES[model])
    if model == "interpreter":
        return IntentRequest.create(fields.get("text"), fields.get("labels"), settings.intents)
    return ReplyRequest.create(fields.get("text"), fields.get("intent"), settings.intents.names)


class SignedModel(kserve.Model):
    """A served model whose V2 metadata comes from its `Signature` (the README's table, as data)."""

    signature: Signature

    def get_input_types(self) -> list[dict[str, Any]]:
        return self.signature.metadata()[0]

    def get_output_types(self) -> list[dict[str, Any]]:
        return self.signature.metadata()[1]


class GolemModel(SignedModel):
    """A served golem. `executor` runs a batch of requests (the golem's micro-batcher); `ready_when` says whether
    the golem can serve now (loaded, or loadable on demand under the lifecycle policy)."""

    def __init__(self, golem: Golem[Any, Any], executor: Executor | None = None,
                 ready_when: Callable[[], bool] | None = None) -> None:
        super().__init__(golem.name)
        self.golem = golem
        self.signature: Signature = SIGNATURES[golem.name]
        self._executor = executor
        self._ready_when = ready_when or (lambda: golem.loaded)
        self.ready = True  # registered at once; `healthy` tells whether it can serve yet

    async def healthy(self) -> bool:
        return self._ready_when()

    async def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        """V1 dict or V2 InferRequest → validated typed requests (every input checked before any tensor)."""
        instances, v2 = instances_from(payload, self.name, self.signature.inputs,
                                       self.golem.settings.server.instance_limit)
        return Prepared([parse_instance(self.name, instance, self.golem.settings) for instance in instances], v2)

    async def predict(self, payload: Any, headers: dict[str, str] | None = None,
                      response_headers: dict[str, str] | None = None) -> Any:
        if self._executor is not None:
            results = await self._executor(payload.requests)
        else:
            results = await asyncio.to_thread(self.golem.run, payload.requests)
        return Prepared(results, payload.v2)

    async def postprocess(self, result: Any, headers: dict[str, str] | None = None,
                          response_headers: dict[str, str] | None = None) -> Any:
        metrics.REQUESTS.labels(self.name, "ok").inc()
        return respond(self.name, [asdict(r) for r in result.requests], result.v2)
