"""ASGI middlewares golemline puts in front of KServe's routes: body shape, allowed methods, body size."""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
