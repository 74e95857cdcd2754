"""KServe's model-repository extension, made honest for a server whose models are fixed when it starts.

Why: KServe's extension assumes a model directory to load from. golemline registers its models at start, so
KServe's `load` of any name answered 503 (a server fault a client cannot fix), a load after an unload could never
bring the model back, and its gRPC servicer expected answers the extension did not give (INTERNAL). Here `unload`
takes a model out of service, `load` puts back one this server was started with, and a name it never hosted is 404.
The whole API is off unless `--model-repository-api true` (golemline.serving.access).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import kserve
from kserve.errors import ModelNotFound
from kserve.model_repository import ModelRepository
from kserve.protocol.model_repository_extension import ModelRepositoryExtension


class GolemRepositoryExtension(ModelRepositoryExtension):
    """Load/unload over the models this server hosts; answers what both KServe's REST and gRPC handlers read."""

    def __init__(self, model_registry: ModelRepository, hosted: Iterable[kserve.Model]) -> None:
        super().__init__(model_registry=model_registry)
        self.registry = model_registry
        self.hosted = {model.name: model for model in hosted}

    async def load(self, model_name: str) -> dict[str, Any]:
        """Put a hosted model back in service (its golem loads under the lifecycle policy, as at start)."""
        model = self.hosted.get(model_name)
        if model is None:
            raise ModelNotFound(model_name)
        model.ready = True
        self.registry.update(model)
        return {"name": model_name, "load": True}

    async def unload(self, model_name: str) -> dict[str, Any]:
        """Take a model out of service: its routes answer 404 until it is loaded again."""
        await super().unload(model_name)
        return {"name": model_name, "unload": True}
