"""golemline's layer on a REST app is added once per app: the same configuration again changes nothing; another
(a second token, say) is refused rather than silently ignored."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from golemline.errors import GolemlineError
from golemline.serving.restapp import configure_app
from golemline.settings import Settings

TOKEN = "restapp-test-token-0123456789"


def status_without_token(app: FastAPI) -> int:
    async def call() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await client.get("/v2/models/interpreter")).status_code

    return asyncio.run(call())


def test_configuring_the_same_app_again_the_same_way_changes_nothing() -> None:
    app, settings = FastAPI(), Settings().with_overrides(server={"auth_token": TOKEN})
    configure_app(app, settings, ["interpreter"])
    middlewares = len(app.user_middleware)
    configure_app(app, settings, ["interpreter"])
    assert len(app.user_middleware) == middlewares
    assert status_without_token(app) == 401


def test_configuring_the_same_app_with_another_token_is_an_error() -> None:
    app = FastAPI()
    configure_app(app, Settings().with_overrides(server={"auth_token": TOKEN}), ["interpreter"])
    with pytest.raises(GolemlineError, match="already configured for other settings"):
        configure_app(app, Settings().with_overrides(server={"auth_token": TOKEN + "-other"}), ["interpreter"])


def test_each_app_gets_its_own_configuration() -> None:
    """Per app, not per process: a second app is configured with its own token (here: none, so it is open)."""
    guarded, open_ = FastAPI(), FastAPI()
    configure_app(guarded, Settings().with_overrides(server={"auth_token": TOKEN}), ["interpreter"])
    configure_app(open_, Settings(), ["interpreter"])
    assert status_without_token(guarded) == 401
    assert status_without_token(open_) == 404
