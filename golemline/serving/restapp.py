"""golemline's layer on KServe's REST app: error mapping, body limit, latency metric, access guard, OpenAPI document.

KServe's REST server serves one FastAPI app per process, so an app is configured once: configuring it again for the
same settings and models changes nothing, and for other settings (another token, another body limit) is an error
rather than a silent keep-the-first.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request

from golemline.errors import GolemlineError
from golemline.pipeline import STAGES
from golemline.serving import metrics, openapi
from golemline.serving.access import AccessGuard
from golemline.serving.handlers import MODEL_PATH, golemline_error_handler, model_of
from golemline.serving.middleware import BodyLimit, DocumentedMethods, JsonUnlessBinary
from golemline.serving.requestlog import RequestIds
from golemline.settings import Settings


def configure_app(app: FastAPI, settings: Settings, models: list[str]) -> None:
    """Add golemline's error mapping, body limit, latency metric, access guard and OpenAPI document (for the
    `models` this server hosts) to `app`, once."""
    configured = getattr(app.state, "golemline", None)
    if configured is not None:
        if configured == (settings, models):
            return
        raise GolemlineError("this process's REST app is already configured for other settings or models; run one "
                             "golemline server per process")
    description = openapi.document(settings, models)
    app.openapi = lambda: description  # type: ignore[method-assign]
    app.add_exception_handler(GolemlineError, golemline_error_handler)

    @app.middleware("http")
    async def observe_latency(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        if request.method == "POST" and MODEL_PATH.match(request.url.path):
            model = model_of(request)
            if model in (*STAGES, "pipeline"):
                metrics.REQUEST_SECONDS.labels(model).observe(time.perf_counter() - started)
        return response

    app.add_middleware(JsonUnlessBinary)
    app.add_middleware(DocumentedMethods, methods={path: [m.upper() for m in operations]
                                                  for path, operations in description["paths"].items()})
    app.add_middleware(RequestIds, model_path=MODEL_PATH)
    app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes)
    # Added last, so outermost: nothing answers an anonymous caller before the token is checked.
    app.add_middleware(AccessGuard, token=settings.server.auth_token,
                       repository_api=settings.server.model_repository_api)
    app.state.golemline = (settings, list(models))
