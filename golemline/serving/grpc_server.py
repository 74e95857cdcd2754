"""Open Inference Protocol over gRPC, beside the REST server: KServe's own servicer on golemline's data plane.

Same models, same validation and results as REST; what differs is the transport:
- errors become gRPC status codes by their HTTP meaning (400 → INVALID_ARGUMENT, 404 → NOT_FOUND,
  413/429 → RESOURCE_EXHAUSTED, 503 → UNAVAILABLE, 504 → DEADLINE_EXCEEDED), with the same message;
- access follows golemline.serving.access: the `authorization: Bearer <token>` metadata entry on every method but
  the probes, and the model-repository methods UNIMPLEMENTED unless `--model-repository-api true`;
- messages are limited to the REST body limit, so neither transport accepts what the other refuses.
"""

from __future__ import annotations

import logging
from concurrent import futures

import grpc
from grpc import aio

from golemline.errors import GolemlineError
from golemline.serving import metrics
from golemline.serving.access import GrpcAccessInterceptor
from golemline.serving.kserve_internals import (
    HostedRepositoryExtension,
    InferencePlane,
    add_inference_servicer,
    status_interceptor,
)
from golemline.settings import Settings

log = logging.getLogger("golemline.serve")

STATUS_OF_HTTP = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND,
                  413: grpc.StatusCode.RESOURCE_EXHAUSTED, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
                  503: grpc.StatusCode.UNAVAILABLE, 504: grpc.StatusCode.DEADLINE_EXCEEDED}


def status_of(ex: Exception, model: str, method_name: str) -> tuple[grpc.StatusCode, str] | None:
    """golemline's typed errors and KServe's client errors → the gRPC status of their HTTP meaning, counted and
    logged in one line (a client's error, no traceback); None leaves a server fault to KServe's mapping."""
    status = _http_status(ex)
    if status is None:
        return None
    code = STATUS_OF_HTTP.get(status, grpc.StatusCode.INTERNAL)
    outcome = "overloaded" if status == 429 else ("invalid" if status < 500 else "error")
    metrics.REQUESTS.labels(model, outcome).inc()
    message = str(getattr(ex, "reason", "") or ex)
    log.info("grpc %s -> %s: %s", method_name, code.name, message)
    return code, message


def _http_status(ex: Exception) -> int | None:
    """The HTTP meaning of golemline's errors and of KServe's client errors (None: a server fault)."""
    from kserve import errors as kserve_errors

    if isinstance(ex, GolemlineError):
        return ex.http_status
    kserve_statuses: tuple[tuple[type[Exception], int], ...] = (
        (kserve_errors.InvalidInput, 400), (kserve_errors.ModelNotFound, 404), (kserve_errors.ModelNotReady, 503),
        (kserve_errors.ServerNotReady, 503))
    return next((status for kind, status in kserve_statuses if isinstance(ex, kind)), None)


def build_grpc_server(settings: Settings, dataplane: InferencePlane,
                      repository_extension: HostedRepositoryExtension) -> aio.Server:
    """An asyncio gRPC server with KServe's servicer, golemline's error mapping, auth and message limits."""
    interceptors: list[aio.ServerInterceptor] = [
        GrpcAccessInterceptor(settings.server.auth_token, settings.server.model_repository_api),
        status_interceptor(status_of)]
    limit = settings.server.max_body_bytes
    server = aio.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=interceptors,
                        options=[("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)])
    add_inference_servicer(server, dataplane, repository_extension)
    server.add_insecure_port(f"{settings.server.host}:{settings.server.grpc_port}")
    return server
