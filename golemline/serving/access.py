"""Who may call what: default-deny access for the REST app and the gRPC server.

Why default-deny: KServe registers more routes than golemline documents (server metadata, model lists, the
model-repository API that loads and unloads models, hidden ones). Checking the token only on the paths golemline
knows left `POST /v2/repository/models/{m}/unload` open to anyone. So with a token configured, every route needs
`Authorization: Bearer <token>` except an explicit open list (probes, /metrics, the API description — what
Kubernetes, Prometheus and a newcomer's browser call without credentials), and only for GET/HEAD.

The model-repository API changes what the server serves, so it is off unless `--model-repository-api true`: its
routes answer 404 (gRPC: UNIMPLEMENTED) naming the switch, with or without a token — as if it did not exist.

The REST guard is the outermost middleware: nothing (a 405, a body limit, a validation error) answers an anonymous
caller before the token is checked. Constant-time comparison; the token is never logged.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({"/", "/v2/health/live", "/v2/health/ready", "/metrics", "/openapi.json", "/docs"})
"""Exact paths anyone may GET or HEAD: liveness/readiness probes, Prometheus, the API description."""
OPEN_PATTERN = re.compile(r"^/v2/models/[^/:]+/ready$|^/v1/models/[^/:]+$")
"""Per-model readiness (V2 `…/ready`, V1's status `GET /v1/models/{m}`): probes too."""
OPEN_METHODS = frozenset({"GET", "HEAD"})
REPOSITORY_PATH = re.compile(r"^/v2/repository(/|$)")
REPOSITORY_SWITCH = "--model-repository-api true (GOLEM_MODEL_REPOSITORY_API=true)"
REPOSITORY_OFF = f"the model-repository API is off on this server; start it with {REPOSITORY_SWITCH} to load and " \
                 "unload models"

GRPC_OPEN = frozenset({"/inference.GRPCInferenceService/ServerLive", "/inference.GRPCInferenceService/ServerReady",
                       "/inference.GRPCInferenceService/ModelReady"})
"""gRPC probes, open like their REST twins."""
GRPC_REPOSITORY_PREFIX = "/inference.GRPCInferenceService/Repository"


def is_open(method: str, path: str) -> bool:
    """Whether a request needs no token: a GET/HEAD on the open list."""
    return method in OPEN_METHODS and (path in OPEN_PATHS or bool(OPEN_PATTERN.match(path)))


def token_verdict(header: bytes, expected: bytes) -> tuple[int, str] | None:
    """None when `header` (an Authorization value) carries the token; else (401 missing / 403 wrong, message)."""
    scheme, _, given = header.partition(b" ")
    if not header or scheme.lower() != b"bearer" or not given.strip():
        return 401, "missing bearer token: send `Authorization: Bearer <token>`"
    if not hmac.compare_digest(given.strip(), expected):
        return 403, "invalid bearer token"
    return None


class AccessGuard:
    """ASGI middleware: the repository switch, then the token on everything but the open list."""

    def __init__(self, app: ASGIApp, token: str | None, repository_api: bool) -> None:
        self.app = app
        self.expected = token.encode() if token else None
        self.repository_api = repository_api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (and websockets, which golemline does not serve)
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "")
        response: JSONResponse | None = None
        if not self.repository_api and REPOSITORY_PATH.match(path):
            response = JSONResponse({"error": REPOSITORY_OFF}, status_code=404)
        elif self.expected is not None and not is_open(method, path):
            verdict = token_verdict(dict(scope.get("headers", [])).get(b"authorization", b""), self.expected)
            if verdict is not None:
                status, message = verdict
                response = JSONResponse({"error": message}, status_code=status,
                                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)


class GrpcAccessInterceptor(aio.ServerInterceptor):
    """The same rules over gRPC: repository methods UNIMPLEMENTED while the switch is off; then
    `authorization: Bearer <token>` metadata on every method but the probes (missing → UNAUTHENTICATED, wrong →
    PERMISSION_DENIED)."""

    def __init__(self, token: str | None, repository_api: bool) -> None:
        self.expected = token.encode() if token else None
        self.repository_api = repository_api

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        method = handler_call_details.method
        refusal: tuple[grpc.StatusCode, str] | None = None
        if not self.repository_api and method.startswith(GRPC_REPOSITORY_PREFIX):
            refusal = grpc.StatusCode.UNIMPLEMENTED, REPOSITORY_OFF
        elif self.expected is not None and method not in GRPC_OPEN:
            metadata = dict(handler_call_details.invocation_metadata or ())
            verdict = token_verdict(str(metadata.get("authorization", "")).encode(), self.expected)
            if verdict is not None:
                status, message = verdict
                code = grpc.StatusCode.UNAUTHENTICATED if status == 401 else grpc.StatusCode.PERMISSION_DENIED
                refusal = code, message.replace("`Authorization: Bearer <token>`",
                                                "metadata `authorization: Bearer <token>`")
        if refusal is None:
            return await continuation(handler_call_details)
        code, message = refusal

        async def refuse(request: Any, context: Any) -> None:
            await context.abort(code, message)

        return grpc.unary_unary_rpc_method_handler(refuse)
