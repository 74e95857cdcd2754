"""HTTP error handlers: every error answers `{"error": …}` with its status, counts in the request metric, and a
client's error leaves one log line, not a traceback."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from golemline.errors import GolemlineError
from golemline.serving import metrics

log = logging.getLogger("golemline.serve")
MODEL_PATH = re.compile(r"^/v[12]/models/([^/:]+)")


def model_of(request: Request) -> str:
    match = MODEL_PATH.match(request.url.path)
    return match.group(1) if match else "server"


async def golemline_error_handler(request: Request, exc: Exception) -> JSONResponse:
    status = exc.http_status if isinstance(exc, GolemlineError) else 500
    outcome = "overloaded" if status == 429 else ("invalid" if status < 500 else "error")
    metrics.REQUESTS.labels(model_of(request), outcome).inc()
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
    metrics.REQUESTS.labels(model_of(request), "invalid" if status < 500 else "error").inc()
    log.info("%s %s -> %d: %s", request.method, request.url.path, status, message)
    return JSONResponse({"error": message}, status_code=status)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own HTTP errors (an unparsable V2 body, an unknown path, a 405) in golemline's
    shape, `{"error": …}`, keeping their status and headers (`Allow`)."""
    from starlette.exceptions import HTTPException

    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
    headers = getattr(exc, "headers", None)
    metrics.REQUESTS.labels(model_of(request), "invalid" if status < 500 else "error").inc()
    log.info("%s %s -> %d: %s", request.method, request.url.path, status, detail)
    return JSONResponse({"error": str(detail)}, status_code=status, headers=headers)


def quiet_client_errors(app: FastAPI) -> None:
    """Replace KServe's handlers for client errors (which log a full traceback each time); call after KServe's REST
    server has added its own."""
    from fastapi.exceptions import RequestValidationError
    from kserve import errors as kserve_errors
    from starlette.exceptions import HTTPException

    app.add_exception_handler(HTTPException, http_error_handler)

    for error in (RequestValidationError, kserve_errors.InvalidInput, kserve_errors.ModelNotFound,
                  kserve_errors.ModelNotReady, kserve_errors.ServerNotReady):
        app.add_exception_handler(error, client_error_handler)
