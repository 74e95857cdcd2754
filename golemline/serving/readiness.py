"""Honest readiness: what the data plane answers about the server and each model, in golemline's terms.

The server is ready when every model is; while the golems load in the background, when they could not load (no GPU,
a bad dtype, a missing model) and while the server drains, every readiness answer says why (503). A transformer
whose own part is up but a remote golem is down names that golem. The request path checks only what is local: a
remote golem that is down is reported by the call itself, so a request never pays three extra readiness round trips.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import kserve

from golemline.errors import StageUnavailable
from golemline.serving.pipeline_model import PipelineModel
from golemline.serving.protocol import binary_request


class Readiness:
    """The data plane's hooks (`kserve_internals.ReadinessHooks`): `load_error` says why the golems could not load
    (None while loading or once loaded); `draining` whether the server is shutting down."""

    def __init__(self, load_error: Callable[[], str | None] = lambda: None,
                 draining: Callable[[], bool] = lambda: False) -> None:
        self.load_error = load_error
        self.draining = draining

    def _raise_draining(self) -> None:
        """A draining server is not ready (every readiness answer is 503), though it still serves requests."""
        if self.draining():
            raise StageUnavailable("not ready: shutting down (draining); send new requests to another replica")

    def _raise_load_error(self) -> None:
        self._raise_draining()
        error = self.load_error()
        if error:
            raise StageUnavailable(f"not ready: loading the golems failed: {error}")

    async def server_ready(self, models: list[kserve.Model]) -> bool:
        """Every model healthy; the transformer's health includes its remote golems."""
        self._raise_load_error()
        return bool(models) and all([await m.healthy() for m in models])

    async def model_ready(self, model: kserve.Model, probe: bool, kserve_answer: Callable[[], Awaitable[bool]]) -> bool:
        if isinstance(model, PipelineModel) and not probe:
            return model.local_ready()
        if probe:
            self._raise_draining()
        ready = await kserve_answer()
        if not ready:
            self._raise_load_error()
        if not ready and isinstance(model, PipelineModel) and model.local_ready():
            down = await model.remotes_down()
            if down:
                raise StageUnavailable(f"{', '.join(down)} is unavailable (not ready); retry when "
                                       f"/v2/models/{model.name}/ready is true")
        return ready

    async def can_serve(self, model: kserve.Model, kserve_answer: Callable[[], Awaitable[bool]]) -> bool:
        return model.local_ready() if isinstance(model, PipelineModel) else await kserve_answer()

    def decode_binary(self, body: bytes, json_length: str, model_name: str) -> Any:
        """The binary-data extension goes through golemline's decoder (BYTES stay bytes)."""
        return binary_request(body, json_length, model_name)

    def metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """KServe's metadata plus the platform, so Open Inference Protocol clients can discover the tensors."""
        return {**metadata, "platform": "golemline", "versions": []}
