"""Every KServe internal golemline relies on, in one module, checked against the KServe range it is tested on.

golemline uses KServe's public API wherever one exists: `kserve.Model` (the golems and the transformer),
`kserve.ModelRepository` (the registry), `kserve.errors`, and the Open Inference Protocol types
(`kserve.protocol.infer_type`, the generated gRPC stubs). What still needs KServe's internals lives here, each with
why no public extension point serves:

- The command line at import: `kserve` parses `sys.argv` when it is imported (its model server builds its argument
  parser at module level), so a host program's flags could be read as KServe's (`pytest --co` reads as
  `--configure_logging`). It is imported here, once, with an empty command line.
- The REST app: KServe's REST server always serves the one FastAPI app its model server module creates; `ModelServer`
  offers no hook to add middlewares, exception handlers or an OpenAPI document, so they are added to that app.
- The data plane: readiness, `get_model`, `decode` and `model_metadata` are overridden (with KServe's own internal
  signatures, `model_ready(name, disable_predictor_health_check)` among them) because `ModelServer` has no hook for
  honest readiness (loading in the background, draining, remote golems), the binary-data extension with BYTES kept
  as bytes, or extra metadata. `ReadinessHooks` turns those signatures into golemline's own.
- The REST server: `ModelServer.start` registers only the models that are already loaded, listens on every
  interface, and installs its own signal handling. Here every model is registered at once and loads in the
  background, the host is bound as configured, uvicorn's exit handler is replaced by the drain, and golemline's
  client-error handlers are installed after KServe's own.
- The model-repository extension: KServe's assumes a model directory to load from; golemline's models are fixed at
  start (`HostedRepositoryExtension`).
- gRPC: KServe's servicer on golemline's data plane, and its exception interceptor given golemline's error mapping.

KServe changes these between minor versions, so the range golemline is tested on (`SUPPORTED`, the same range as the
`kserve` dependency in pyproject.toml) is checked when this module is imported.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from importlib import metadata
from typing import Any, Protocol

from golemline.errors import ConfigError

_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    import kserve
    import kserve.model_server
finally:
    sys.argv = _argv

import grpc  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from grpc import aio  # noqa: E402
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING  # noqa: E402
from kserve.errors import ModelNotFound, ModelNotReady  # noqa: E402
from kserve.protocol.dataplane import DataPlane  # noqa: E402
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc  # noqa: E402
from kserve.protocol.grpc.interceptors import ExceptionToStatusInterceptor  # noqa: E402
from kserve.protocol.grpc.servicer import InferenceServicer  # noqa: E402
from kserve.protocol.model_repository_extension import ModelRepositoryExtension  # noqa: E402
from kserve.protocol.rest.server import RESTServer  # noqa: E402

SUPPORTED = ((0, 20), (0, 22))
"""KServe versions golemline is tested on: from the floor (inclusive) to the ceiling (exclusive), as (major, minor)."""


def _minor(version: str) -> tuple[int, int]:
    """`0.21.0rc1` → (0, 21): enough to place a version in a range of minors."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def supported_range() -> str:
    """The range as a pip requirement specifier, e.g. `>=0.20,<0.22`."""
    (floor_major, floor_minor), (ceil_major, ceil_minor) = SUPPORTED
    return f">={floor_major}.{floor_minor},<{ceil_major}.{ceil_minor}"


def check_version(installed: str) -> None:
    """Refuse a KServe outside the tested range with one line that says what to install."""
    floor, ceiling = SUPPORTED
    if not floor <= _minor(installed) < ceiling:
        raise ConfigError(f"golemline supports kserve{supported_range()}, but kserve {installed} is installed; "
                          f"run: pip install 'kserve{supported_range()}'")


check_version(metadata.version("kserve"))


def rest_app() -> FastAPI:
    """The FastAPI app KServe's REST server serves (one per process: KServe loads it by import string)."""
    app: FastAPI = kserve.model_server.app
    return app


class ReadinessHooks(Protocol):
    """golemline's answers to the data plane's questions, in golemline's terms. Each gets KServe's own answer as a
    callable, so a hook can defer to it."""

    async def server_ready(self, models: list[kserve.Model]) -> bool:
        """`/v2/health/ready`: may raise to answer 503 with a reason."""

    async def model_ready(self, model: kserve.Model, probe: bool, kserve_answer: Callable[[], Awaitable[bool]]) -> bool:
        """A readiness probe (`probe`) or KServe's check on the request path (not `probe`)."""

    async def can_serve(self, model: kserve.Model, kserve_answer: Callable[[], Awaitable[bool]]) -> bool:
        """Whether a request may be handed to `model` now."""

    def decode_binary(self, body: bytes, json_length: str, model_name: str) -> Any:
        """A V2 request body in the binary-data extension → an InferRequest."""

    def metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """KServe's model metadata → what golemline publishes."""


class InferencePlane(DataPlane):
    """KServe's data plane whose readiness, binary decoding and metadata are golemline's (`ReadinessHooks`)."""

    def __init__(self, registry: kserve.ModelRepository, hooks: ReadinessHooks) -> None:
        super().__init__(model_registry=registry)
        self.hooks = hooks

    async def ready(self) -> bool:
        return await self.hooks.server_ready(list(self.model_registry.get_models().values()))

    def decode(self, body: Any, headers: Any, protocol_version: str = "v1", model_name: str | None = None) -> Any:
        json_length = (headers or {}).get("inference-header-content-length")
        if isinstance(body, bytes) and json_length is not None and protocol_version.lower() == "v2":
            return self.hooks.decode_binary(body, json_length, model_name or ""), {}
        return super().decode(body, headers, protocol_version, model_name)

    async def model_metadata(self, model_name: str) -> dict[str, Any]:
        return self.hooks.metadata(await super().model_metadata(model_name))

    async def model_ready(self, model_name: str, disable_predictor_health_check: bool = False) -> bool:
        """KServe passes `disable_predictor_health_check` on the request path; the probes leave it False."""
        model = self.get_model_from_registry(model_name)

        async def kserve_answer() -> bool:
            answer: bool = await super(InferencePlane, self).model_ready(model_name, disable_predictor_health_check)
            return answer

        return await self.hooks.model_ready(model, not disable_predictor_health_check, kserve_answer)

    async def get_model(self, name: str) -> Any:
        model = self.get_model_from_registry(name)

        async def kserve_answer() -> bool:
            answer: bool = await self.model_registry.is_model_ready(name)
            return answer

        if not await self.hooks.can_serve(model, kserve_answer):
            raise ModelNotReady(name, f"model {name} is still loading; retry when /v2/models/{name}/ready is true")
        return model


class HostedRepositoryExtension(ModelRepositoryExtension):
    """KServe's model-repository extension, made honest for a server whose models are fixed when it starts.

    KServe's assumes a model directory to load from: its `load` of any name answered 503 (a server fault a client
    cannot fix), a load after an unload could never bring the model back, and its gRPC servicer expected answers the
    extension did not give (INTERNAL). Here `unload` takes a model out of service, `load` puts back one this server
    was started with, and a name it never hosted is 404. Both KServe's REST and gRPC handlers read these answers."""

    def __init__(self, registry: kserve.ModelRepository, hosted: Iterable[kserve.Model]) -> None:
        super().__init__(model_registry=registry)
        self.registry = registry
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


class RestServer:
    """KServe's REST server on `host:port` over a data plane, with `after_kserve(app)` run once KServe has added its
    routes and exception handlers (so golemline's handlers replace KServe's)."""

    def __init__(self, dataplane: InferencePlane, extension: HostedRepositoryExtension, host: str, port: int,
                 grace_period: int, after_kserve: Callable[[FastAPI], None] = lambda app: None) -> None:
        self._rest = _ServerWithHook(FASTAPI_APP_IMPORT_STRING, dataplane, extension, port, grace_period=grace_period)
        self._rest.after_kserve = after_kserve
        self._rest.config.host = host  # KServe hard-codes 0.0.0.0

    @property
    def uvicorn(self) -> uvicorn.Server:
        """The uvicorn server (the drain takes over its SIGTERM/SIGINT handling)."""
        server: uvicorn.Server = self._rest._server
        return server

    def create_application(self) -> FastAPI:
        """Register KServe's routes and handlers, then golemline's, on the app; returns the app."""
        self._rest.create_application()
        return rest_app()

    async def start(self) -> None:
        """Build the app and serve until uvicorn shuts down."""
        await self._rest.start()


class _ServerWithHook(RESTServer):
    after_kserve: Callable[[FastAPI], None]

    def create_application(self) -> None:
        super().create_application()
        self.after_kserve(rest_app())


StatusOf = Callable[[Exception, str, str], "tuple[grpc.StatusCode, str] | None"]
"""(exception, model name, method name) → the gRPC status and message to abort with, or None for KServe's mapping."""


class _StatusInterceptor(ExceptionToStatusInterceptor):
    def __init__(self, status_of: StatusOf) -> None:
        super().__init__()
        self.status_of = status_of

    async def handle_exception(self, ex: Exception, request_or_iterator: Any, context: Any,
                               method_name: str) -> None:
        model = getattr(request_or_iterator, "model_name", "") or "server"
        status = self.status_of(ex, model, method_name)
        if status is None:
            await super().handle_exception(ex, request_or_iterator, context, method_name)
            return
        await context.abort(*status)


def status_interceptor(status_of: StatusOf) -> aio.ServerInterceptor:
    """KServe's gRPC exception interceptor, with `status_of` deciding first."""
    return _StatusInterceptor(status_of)


def add_inference_servicer(server: aio.Server, dataplane: InferencePlane,
                           extension: HostedRepositoryExtension) -> None:
    """KServe's Open Inference Protocol servicer over golemline's data plane, on `server`."""
    grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(dataplane, extension),
                                                                        server)
