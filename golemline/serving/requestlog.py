"""One JSON log line per request: its id, model, status, time, and — for the pipeline — each input's verdict,
reason and stage timings. Audio never appears; transcripts only with `--log-transcripts`; the token never (it is
not in any field logged here)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from golemline import requestid

log = logging.getLogger("golemline.requests")
DETAILS: ContextVar[dict[str, Any] | None] = ContextVar("golemline_request_details", default=None)


def record_results(results: Iterable[dict[str, Any]], with_transcripts: bool) -> None:
    """Called by the pipeline model: what the request's log line says about each input."""
    details = DETAILS.get()
    if details is None:
        return
    entries = []
    for result in results:
        rejection = result.get("rejection") or {}
        entry = {"input": result["input"], "verdict": result["status"], "stage": rejection.get("stage"),
                 "reason": rejection.get("reason"),
                 "stages": {name: info["seconds"] for name, info in result.get("stages", {}).items()},
                 "intent": (result.get("intent") or {}).get("label")}
        if with_transcripts:
            entry["transcript"] = result.get("transcript")
        entries.append(entry)
    details["results"] = entries


class RequestIds:
    """Honour `X-Request-Id` (or issue one), return it in the response header, keep it in the context for logs,
    results and remote hops, and write one JSON line per model request when it is answered."""

    def __init__(self, app: ASGIApp, model_path: Any) -> None:
        self.app = app
        self.model_path = model_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", [])).get(b"x-request-id")
        request_id = requestid.accept(header.decode("latin-1") if header is not None else None)
        id_token = requestid.CURRENT.set(request_id)
        details: dict[str, Any] = {}
        details_token = DETAILS.set(details)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            match = self.model_path.match(scope.get("path", ""))
            if match and scope.get("method") == "POST":
                line = {"event": "request", "request_id": request_id, "model": match.group(1),
                        "path": scope.get("path"), "status": status,
                        "seconds": round(time.perf_counter() - started, 4), **details}
                log.info(json.dumps(line, sort_keys=False))
            DETAILS.reset(details_token)
            requestid.CURRENT.reset(id_token)
