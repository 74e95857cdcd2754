"""`golem serve`: KServe's REST server hosting golems and/or the `pipeline` transformer.

Every model is registered at once and loads in the background, so `/v2/health/ready` and
`/v2/models/{name}/ready` answer false until the weights are in (`golemline.serving.readiness`). The KServe parts
this needs beyond its public API are in `golemline.serving.kserve_internals`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kserve

from golemline.devices import apply_threads
from golemline.errors import ConfigError, GolemlineError
from golemline.lifecycle import LifecycleManager, ManagedGolem
from golemline.pipeline import STAGES, Chain, StageCaller, StageCallers, build_golems
from golemline.predictors.base import Golem
from golemline.requestid import RequestIdFilter
from golemline.serving import metrics
from golemline.serving.adapter import GolemModel
from golemline.serving.batching import MicroBatcher
from golemline.serving.drain import Drain
from golemline.serving.handlers import quiet_client_errors
from golemline.serving.kserve_internals import HostedRepositoryExtension, InferencePlane, RestServer, rest_app
from golemline.serving.pipeline_model import PipelineModel
from golemline.serving.readiness import Readiness
from golemline.serving.remote import RemoteGolem
from golemline.serving.restapp import configure_app
from golemline.settings import ServerSettings, Settings

log = logging.getLogger("golemline.serve")


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

        chain = Chain(settings, callers, manager.report)
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
    configure_app(rest_app(), settings, [m.name for m in deployment.models])
    repository = kserve.ModelRepository()
    for model in deployment.models:
        repository.update(model)
    drain = Drain(settings.server.drain_s)
    dataplane = InferencePlane(repository, Readiness(load_error=lambda: deployment.load_error,
                                                      draining=lambda: drain.draining))
    rest = RestServer(dataplane, HostedRepositoryExtension(repository, deployment.models), settings.server.host,
                      settings.server.http_port, finish_s(settings.server, with_pipeline), quiet_client_errors)
    drain.attach(rest.uvicorn)  # uvicorn's SIGTERM/SIGINT handling, replaced by the drain
    _check_port_free(settings.server.host, settings.server.http_port)
    # Before uvicorn serves (while loading the app), a signal is a clean exit (0), not death by signal; once it
    # serves, the drain handles SIGTERM/SIGINT.
    grpc: Callable[[], Any] | None = None
    if settings.server.grpc_port:
        from golemline.serving.grpc_server import build_grpc_server

        _check_port_free(settings.server.host, settings.server.grpc_port)

        def grpc() -> Any:  # built inside the event loop that will run it
            return build_grpc_server(settings, dataplane, HostedRepositoryExtension(repository, deployment.models))
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


async def _run(rest: RestServer, grpc_factory: Callable[[], Any] | None,
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
