"""`golem serve`: KServe's REST server hosting golems and/or the `pipeline` transformer.

Built from KServe's own parts (ModelRepository, DataPlane, RESTServer) rather than `ModelServer.start`, because
that registers only models that are already loaded; here every model is registered at once and loads in the
background, so `/v2/health/ready` and `/v2/models/{name}/ready` answer false until the weights are in.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kserve
from fastapi import Request
from fastapi.responses import JSONResponse
from kserve.errors import ModelNotReady
from kserve.model_repository import ModelRepository
from kserve.model_server import FASTAPI_APP_IMPORT_STRING
from kserve.model_server import app as kserve_app
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.rest.server import RESTServer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from golemline.devices import apply_threads
from golemline.errors import ConfigError, GolemlineError, StageUnavailable
from golemline.gating import GatePolicy
from golemline.lifecycle import LifecycleManager, ManagedGolem
from golemline.pipeline import STAGES, Chain, StageCaller, StageCallers, build_golems
from golemline.predictors.base import Golem
from golemline.requestid import RequestIdFilter
from golemline.serving import metrics, openapi
from golemline.serving.access import AccessGuard
from golemline.serving.adapter import GolemModel
from golemline.serving.batching import MicroBatcher
from golemline.serving.drain import Drain
from golemline.serving.pipeline_model import PipelineModel
from golemline.serving.protocol import binary_request
from golemline.serving.remote import RemoteGolem
from golemline.serving.repository import GolemRepositoryExtension
from golemline.serving.requestlog import RequestIds
from golemline.settings import ServerSettings, Settings

log = logging.getLogger("golemline.serve")
MODEL_PATH = re.compile(r"^/v[12]/models/([^/:]+)")


class GolemDataPlane(DataPlane):
    """KServe's data plane with honest readiness: the server is ready when every model is, and when the golems
    could not load (no GPU, a bad dtype, a missing model) every readiness answer says why."""

    def __init__(self, model_registry: ModelRepository, load_error: Callable[[], str | None] = lambda: None,
                 draining: Callable[[], bool] = lambda: False) -> None:
        super().__init__(model_registry=model_registry)
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

    async def ready(self) -> bool:
        """Every model healthy; the transformer's health includes its remote golems (KServe's predictor check)."""
        self._raise_load_error()
        models = self._model_registry.get_models().values()
        return bool(models) and all([await m.healthy() for m in models])

    def decode(self, body: Any, headers: Any, protocol_version: str = "v1", model_name: str | None = None) -> Any:
        """The binary-data extension goes through golemline's decoder (BYTES stay bytes); the rest through KServe's."""
        json_length = (headers or {}).get("inference-header-content-length")
        if isinstance(body, bytes) and json_length is not None and protocol_version.lower() == "v2":
            return binary_request(body, json_length, model_name or ""), {}
        return super().decode(body, headers, protocol_version, model_name)

    async def model_metadata(self, model_name: str) -> dict[str, Any]:
        """KServe's metadata plus the platform, so Open Inference Protocol clients can discover the tensors."""
        metadata: dict[str, Any] = await super().model_metadata(model_name)
        metadata["platform"] = "golemline"
        metadata["versions"] = []
        return metadata

    async def model_ready(self, model_name: str, disable_predictor_health_check: bool = False) -> bool:
        """Readiness probes ask the transformer's remote golems (and a transformer whose own part is up but a remote
        golem is down says which: 503 naming it). The request path (KServe passes
        `disable_predictor_health_check`) checks only what is local: a remote golem that is down is reported by
        the call itself, so a request never pays three extra readiness round trips."""
        model = self.get_model_from_registry(model_name)
        if isinstance(model, PipelineModel) and disable_predictor_health_check:
            return model.local_ready()
        if not disable_predictor_health_check:
            self._raise_draining()
        ready: bool = await super().model_ready(model_name, disable_predictor_health_check)
        if not ready:
            self._raise_load_error()
        if not ready and isinstance(model, PipelineModel) and model.local_ready():
            down = await model.remotes_down()
            if down:
                raise StageUnavailable(f"{', '.join(down)} is unavailable (not ready); retry when "
                                       f"/v2/models/{model_name}/ready is true")
        return ready

    async def get_model(self, name: str) -> Any:
        model = self.get_model_from_registry(name)
        ready = model.local_ready() if isinstance(model, PipelineModel) else await self._model_registry.is_model_ready(
            name)
        if not ready:
            raise ModelNotReady(name, f"model {name} is still loading; retry when /v2/models/{name}/ready is true")
        return model


INFER_PATH = re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$|^/v1/models/[^/]+:predict$")


class JsonUnlessBinary:
    """A request body is JSON unless `Inference-Header-Content-Length` says it uses the binary-data extension —
    whatever its Content-Type (tritonclient sends none for JSON; curl's default is a form type). Triton reads
    bodies this way; KServe would otherwise take any non-JSON content type for binary and refuse it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST" and INFER_PATH.match(scope.get("path", "")):
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
            if not any(k == b"inference-header-content-length" for k, _ in headers):
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
            else:
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/octet-stream")]}
        await self.app(scope, receive, send)


class DocumentedMethods:
    """A method the OpenAPI document does not give a path is 405 with `Allow` listing the ones it does. Starlette
    matches route patterns in order, so `GET /v1/models/m:predict` reached V1's status route `/v1/models/{m}` (a
    404 for a model named "m:predict") and its 405s advertised that route's GET on an inference endpoint."""

    def __init__(self, app: ASGIApp, methods: dict[str, list[str]]) -> None:
        self.app = app
        self.methods = methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = self.methods.get(scope.get("path", "")) if scope["type"] == "http" else None
        if not allowed or scope.get("method") in allowed:
            await self.app(scope, receive, send)
            return
        response = JSONResponse({"error": f"{scope.get('method')} is not allowed on {scope['path']}; use "
                                          f"{', '.join(allowed)}"}, status_code=405,
                                headers={"Allow": ", ".join(allowed)})
        await response(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over the limit with 413 before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, int(declared))
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge(seen)
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge as exc:
            await self._refuse(scope, send, exc.size)

    async def _refuse(self, scope: Scope, send: Send, size: int) -> None:
        response = JSONResponse({"error": f"request body of {size}+ bytes exceeds the {self.max_bytes}-byte limit"},
                                status_code=413)
        await response(scope, _empty, send)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


async def _empty() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _model_of(request: Request) -> str:
    match = MODEL_PATH.match(request.url.path)
    return match.group(1) if match else "server"


async def golemline_error_handler(request: Request, exc: Exception) -> JSONResponse:
    status = exc.http_status if isinstance(exc, GolemlineError) else 500
    outcome = "overloaded" if status == 429 else ("invalid" if status < 500 else "error")
    metrics.REQUESTS.labels(_model_of(request), outcome).inc()
    return JSONResponse({"error": str(exc)}, status_code=status)


async def client_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """KServe's own 4xx/503 classes and FastAPI's body validation: `{"error": …}` with the right status and one log
    line — a readiness poll or a malformed body is the client's business, not a server traceback."""
    from fastapi.exceptions import RequestValidationError
    from kserve import errors as kserve_errors

    if isinstance(exc, RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
                             for e in exc.errors()[:3])
        status, message = 400, f"malformed request body ({problems}); send JSON as the protocol describes"
    elif isinstance(exc, kserve_errors.InvalidInput):
        status, message = 400, str(exc.reason if hasattr(exc, "reason") else exc)
        if message.startswith("Unrecognized request format"):  # KServe's JSON parser refused the body
            message = (f"the body is not JSON ({message.split(': ', 1)[-1]}); send a JSON body "
                       "(content-type: application/json), or binary tensors with Inference-Header-Content-Length")
    elif isinstance(exc, kserve_errors.ModelNotFound):
        status, message = 404, str(exc.reason if hasattr(exc, "reason") else exc)
    else:  # ModelNotReady, ServerNotReady
        status, message = 503, str(exc.reason if hasattr(exc, "reason") else exc) or "not ready"
    metrics.REQUESTS.labels(_model_of(request), "invalid" if status < 500 else "error").inc()
    log.info("%s %s -> %d: %s", request.method, request.url.path, status, message)
    return JSONResponse({"error": message}, status_code=status)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own HTTP errors (an unparsable V2 body, an unknown path, a 405) in golemline's
    shape, `{"error": …}`, keeping their status and headers (`Allow`)."""
    from starlette.exceptions import HTTPException

    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    headers = getattr(exc, "headers", None)
    metrics.REQUESTS.labels(_model_of(request), "invalid" if status < 500 else "error").inc()
    log.info("%s %s -> %d: %s", request.method, request.url.path, status, detail)
    return JSONResponse({"error": str(detail)}, status_code=status, headers=headers)


def quiet_client_errors() -> None:
    """Replace KServe's handlers for client errors (which log a full traceback each time); call after RESTServer
    has added its own."""
    from fastapi.exceptions import RequestValidationError
    from kserve import errors as kserve_errors
    from starlette.exceptions import HTTPException

    kserve_app.add_exception_handler(HTTPException, http_error_handler)

    for error in (RequestValidationError, kserve_errors.InvalidInput, kserve_errors.ModelNotFound,
                  kserve_errors.ModelNotReady, kserve_errors.ServerNotReady):
        kserve_app.add_exception_handler(error, client_error_handler)


class GolemRESTServer(RESTServer):
    """KServe's REST server, with golemline's one-line handlers for client errors installed after KServe's own."""

    def create_application(self) -> None:
        super().create_application()
        quiet_client_errors()


_app_configured = False


def configure_app(settings: Settings, models: list[str]) -> None:
    """Add golemline's error mapping, body limit, latency metric, access guard and OpenAPI document (for the
    `models` this server hosts) to KServe's FastAPI app (once)."""
    global _app_configured
    if _app_configured:
        return
    description = openapi.document(settings, models)
    kserve_app.openapi = lambda: description
    kserve_app.add_exception_handler(GolemlineError, golemline_error_handler)

    @kserve_app.middleware("http")
    async def observe_latency(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        if request.method == "POST" and MODEL_PATH.match(request.url.path):
            model = _model_of(request)
            if model in (*STAGES, "pipeline"):
                metrics.REQUEST_SECONDS.labels(model).observe(time.perf_counter() - started)
        return response

    kserve_app.add_middleware(JsonUnlessBinary)
    kserve_app.add_middleware(DocumentedMethods, methods={path: [m.upper() for m in operations]
                                                        for path, operations in description["paths"].items()})
    kserve_app.add_middleware(RequestIds, model_path=MODEL_PATH)
    kserve_app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes)
    # Added last, so outermost: nothing answers an anonymous caller before the token is checked.
    kserve_app.add_middleware(AccessGuard, token=settings.server.auth_token,
                              repository_api=settings.server.model_repository_api)
    _app_configured = True


def _lifecycle_recorder(device: str) -> Any:
    def record(event: str, golem: ManagedGolem, seconds: float) -> None:
        _record_lifecycle(event, golem, seconds, device)

    return record


def _record_lifecycle(event: str, golem: ManagedGolem, seconds: float, device: str) -> None:
    if event == "load":
        metrics.LOAD_SECONDS.labels(golem.name).observe(seconds)
        metrics.MODEL_LOADED.labels(golem.name).set(1)
        metrics.DEVICE_MEMORY.labels(golem.name, device).set(golem.memory_bytes())
    else:
        metrics.UNLOAD_SECONDS.labels(golem.name).observe(seconds)
        metrics.MODEL_LOADED.labels(golem.name).set(0)
        metrics.DEVICE_MEMORY.labels(golem.name, device).set(0)
        metrics.SWAPS.labels(golem.name).inc()


@dataclass
class Deployment:
    """What one server process hosts: local golems (with their batchers and KServe adapters), and optionally the
    transformer."""

    settings: Settings
    golems: dict[str, Golem[Any, Any]]
    manager: LifecycleManager
    batchers: dict[str, MicroBatcher] = field(default_factory=dict)
    adapters: dict[str, GolemModel] = field(default_factory=dict)
    pipeline: PipelineModel | None = None
    remotes: dict[str, RemoteGolem] = field(default_factory=dict)
    started: bool = False
    """True once the policy's golems are loaded: every local golem can then serve (lru/sequential load on demand)."""
    load_error: str | None = None
    """Why the golems could not load (readiness answers 503 with it; the process stays up and says so)."""

    @property
    def models(self) -> list[kserve.Model]:
        return [*self.adapters.values(), *([self.pipeline] if self.pipeline else [])]

    def load(self) -> None:
        """Summon what the policy keeps resident; then every local golem can serve."""
        try:
            self.manager.start()
        except GolemlineError as exc:
            log.error("loading the golems failed; the server stays not ready: %s", exc)
            self.load_error = str(exc)
            self._count_failures()
            return
        except Exception as exc:
            log.exception("loading the golems failed; the server stays not ready")
            self.load_error = f"{type(exc).__name__}: {exc}"
            self._count_failures()
            return
        try:
            self.warm_up()
        except Exception as exc:  # a golem that loads but cannot run a request must not report ready
            log.exception("warming the golems up failed; the server stays not ready")
            self.load_error = f"warm-up failed: {type(exc).__name__}: {exc}"
            self._count_failures()
            return
        self.started = True
        for golem in self.golems.values():
            metrics.MODEL_LOADED.labels(golem.name).set(1 if golem.loaded else 0)
        log.info("golems ready: %s", ", ".join(self.golems) or "none (transformer only)")

    def warm_up(self) -> None:
        """One real forward pass per local golem, through the lifecycle manager, before readiness: the first
        request after ready otherwise pays for lazy allocations, kernel selection and thread pools (the first
        Interpreter call took 1.0 s against 0.05 s steady). Under lru/sequential the pass loads the golem as a
        request would, so the budget still holds."""
        for name, golem in self.golems.items():
            if golem.weightless:  # nothing local to warm; an LLM server's own readiness is its business
                continue
            started = time.perf_counter()
            self.manager.run(name, golem.warm_up_batch())
            log.info("warmed %s with a forward pass in %.2f s", name, time.perf_counter() - started)

    def _count_failures(self) -> None:
        for golem in self.golems.values():
            if not golem.loaded:
                metrics.LOAD_FAILURES.labels(golem.name).inc()


def build_deployment(settings: Settings, golem_names: tuple[str, ...], with_pipeline: bool) -> Deployment:
    """Local golems `golem_names` (each behind a micro-batcher) and, if asked, the transformer over all stages;
    a stage the transformer needs that is not local is called at its configured URL."""
    server = settings.server
    local = build_golems(settings, golem_names, device_threads=True)
    manager = LifecycleManager(local, settings.policy, settings.budget_bytes, settings.resolved_device,
                               on_event=_lifecycle_recorder(settings.resolved_device), prefetch=settings.prefetch)
    deployment = Deployment(settings, local, manager)
    for name, golem in local.items():
        def run_batch(batch: list[Any], name: str = name) -> list[Any]:
            return manager.run(name, batch)

        batcher = MicroBatcher(name, run_batch, server.max_batch_size, server.max_latency_ms, server.max_queue,
                               settings.resolved_device, key=golem.batch_key, dispatch=server.batch_dispatch)
        deployment.batchers[name] = batcher
        deployment.adapters[name] = GolemModel(golem, batcher.submit_many, ready_when=lambda: deployment.started)
    if with_pipeline:
        def caller(name: str) -> StageCaller[Any, Any]:
            """The local golem's micro-batcher, else the remote golem at its configured URL."""
            if name in local:
                return deployment.batchers[name].submit_many
            url = server.url_of(name)
            if url is None:
                raise GolemlineError(f"the transformer needs golem {name}: serve it here or give --{name}-url")
            deployment.remotes[name] = RemoteGolem(name, url, server.stage_timeout_s, token=server.auth_token,
                                                  intents=settings.intents)
            return deployment.remotes[name]

        callers = StageCallers(scribe=caller("scribe"), interpreter=caller("interpreter"), oracle=caller("oracle"))

        def local_ready() -> bool:
            return deployment.started

        async def remotes_down() -> list[str]:
            return [f"golem {r.name} at {r.base_url}" for r in deployment.remotes.values() if not await r.ready()]

        chain = Chain(settings, callers, manager.report, GatePolicy.of(settings))
        deployment.pipeline = PipelineModel(settings, chain, local_ready, remotes_down)
    return deployment


def _devices(settings: Settings) -> int:
    if settings.resolved_device != "cuda":
        return 1
    import torch

    return max(1, torch.cuda.device_count())


def _configure_logging() -> None:
    """golemline's own lines (startup, one per client error, load failures) at INFO on stderr. FastAPI's
    deprecation warning about KServe's own routes (ORJSONResponse) is KServe's to fix and tells an operator
    nothing, so it is not printed."""
    import warnings

    from fastapi.exceptions import FastAPIDeprecationWarning

    warnings.filterwarnings("ignore", category=FastAPIDeprecationWarning)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s [%(request_id)s] %(message)s"))
    handler.addFilter(RequestIdFilter())
    for logger in (log, logging.getLogger("golemline.requests")):
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False


def _check_port_free(host: str, port: int) -> None:
    """A port already in use is a clear configuration error (exit 2), not uvicorn's bare message and rc 3."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --http-port") from exc


def serve(settings: Settings, golem_names: tuple[str, ...], with_pipeline: bool) -> int:
    """Run until SIGTERM/SIGINT: register every model now, load the golems in the background."""
    _configure_logging()
    golden_cases = None
    if with_pipeline and settings.server.canary_interval_s > 0:
        from golemline.serving import canary as golden

        golden_cases = golden.cases_for(settings)  # a bad golden set stops here (exit 2); None: off, logged
    apply_threads(settings.threads)
    deployment = build_deployment(settings, golem_names, with_pipeline)
    metrics.initialise(list(golem_names), [m.name for m in deployment.models], settings.resolved_device,
                       settings.gpu_hourly_price, _devices(settings))
    configure_app(settings, [m.name for m in deployment.models])
    repository = ModelRepository()
    for model in deployment.models:
        repository.update(model)
    drain = Drain(settings.server.drain_s)
    dataplane = GolemDataPlane(repository, load_error=lambda: deployment.load_error, draining=lambda: drain.draining)
    rest = GolemRESTServer(FASTAPI_APP_IMPORT_STRING, dataplane,
                           GolemRepositoryExtension(repository, deployment.models), settings.server.http_port,
                           grace_period=finish_s(settings.server, with_pipeline))
    drain.attach(rest._server)  # uvicorn's SIGTERM/SIGINT handling, replaced by the drain
    rest.config.host = settings.server.host  # KServe hard-codes 0.0.0.0
    _check_port_free(settings.server.host, settings.server.http_port)
    # Before uvicorn serves (while loading the app), a signal is a clean exit (0), not death by signal; once it
    # serves, the drain handles SIGTERM/SIGINT.
    grpc: Callable[[], Any] | None = None
    if settings.server.grpc_port:
        from golemline.serving.grpc_server import build_grpc_server

        _check_port_free(settings.server.host, settings.server.grpc_port)

        def grpc() -> Any:  # built inside the event loop that will run it
            return build_grpc_server(settings, dataplane, GolemRepositoryExtension(repository, deployment.models))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: sys.exit(0))
    threading.Thread(target=deployment.load, name="golem-loader", daemon=True).start()
    log.info("golemline listening on http://%s:%d (gRPC %s) — models %s, policy %s, device %s, max batch %d",
                settings.server.host, settings.server.http_port, settings.server.grpc_port or "off",
                ", ".join(m.name for m in deployment.models), settings.policy, settings.device,
                settings.server.max_batch_size)
    canary: Callable[[], Any] | None = None
    if deployment.pipeline is not None and golden_cases is not None:
        from golemline.serving import canary as golden

        pipeline, cases = deployment.pipeline, golden_cases

        def canary() -> Any:  # started inside the server's event loop
            return golden.start(pipeline.chain, settings.server.canary_interval_s, pipeline.local_ready, cases)

    asyncio.run(_run(rest, grpc, canary, drain))
    if drain.forced_by is not None:
        _exit_now(130 if drain.forced_by == signal.SIGINT else 0)
    log.info("shut down: no request in flight")
    _exit_now(0)
    return 0  # pragma: no cover - _exit_now does not return


def _exit_now(code: int) -> None:
    """End the process without Python's teardown. Why: once requests are drained nothing is left to save, and
    tearing down torch, CTranslate2 and their thread pools took from seconds to a minute on a busy machine, with
    the port already closed (Ctrl-C on an idle server hung 30-60 s in 5 of 13 tries)."""
    import os

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def finish_s(server: ServerSettings, with_pipeline: bool) -> int:
    """How long in-flight requests may take to finish once the listener is closed: a golem's batch is bounded by
    the stage timeout (the transformer gives up then); a pipeline request runs three stages in a row."""
    return math.ceil(server.stage_timeout_s * (len(STAGES) if with_pipeline else 1))


async def _run(rest: RESTServer, grpc_factory: Callable[[], Any] | None,
               canary_factory: Callable[[], Any] | None = None, drain: Drain | None = None) -> None:
    """REST until it shuts down (SIGTERM drains it); gRPC and the canary beside it."""
    canary = canary_factory() if canary_factory is not None else None  # noqa: F841  (keeps the task referenced)
    grpc = grpc_factory() if grpc_factory is not None else None
    if grpc is not None:
        await grpc.start()
    try:
        await rest.start()
    finally:
        if grpc is not None:
            await grpc.stop(grace=0 if drain is not None and drain.forced else 10)
