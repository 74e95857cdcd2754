"""golemline's own OpenAPI document (what a server really serves, every status it really answers), and Schemathesis
fuzzing a live server against it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from golemline.serving.openapi import document
from golemline.settings import Settings
from tests.servers import Server, v1

ROOT = Path(__file__).resolve().parent
CONFIG = ROOT / "schemathesis.toml"
TOKEN = "openapi-test-token-0123456789"


def test_inference_documents_every_status_golemline_answers() -> None:
    doc = document(Settings().with_overrides(server={"auth_token": TOKEN}), ["interpreter", "pipeline"])
    for path in ("/v1/models/interpreter:predict", "/v2/models/interpreter/infer", "/v1/models/pipeline:predict"):
        [operation] = doc["paths"][path].values()
        assert {"200", "400", "401", "403", "404", "413", "429", "503", "504"} <= set(operation["responses"]), path
        assert operation["responses"]["413"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}
    instances = doc["paths"]["/v1/models/interpreter:predict"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["instances"]
    assert instances["maxItems"] == 64 and set(instances["items"]["properties"]) == {"text", "labels"}
    assert doc["security"] == [{"bearer": []}]
    # the probes and /metrics are open, as the access guard has them
    for path in ("/v2/health/ready", "/v2/models/interpreter/ready", "/v1/models/interpreter", "/metrics"):
        assert doc["paths"][path]["get"]["security"] == [], path
    assert not any(path.startswith("/v2/repository") for path in doc["paths"])


def test_the_repository_api_is_documented_only_when_switched_on() -> None:
    doc = document(Settings().with_overrides(model_repository_api=True), ["interpreter"])
    assert {"/v2/repository/models/interpreter/load", "/v2/repository/models/interpreter/unload"} <= set(doc["paths"])
    assert "security" not in doc  # no token configured: nothing to send


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    started = Server("--golem", "interpreter")
    try:
        yield started.wait_ready(timeout=600)
    finally:
        started.stop()


@pytest.mark.slow
def test_the_served_document_is_golemlines(server: Server) -> None:
    doc = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    assert doc["info"]["title"] == "golemline"
    assert "/v2/models/interpreter/infer" in doc["paths"] and "/v2/models/pipeline/infer" not in doc["paths"]
    # a method the document does not give a path is 405 naming the ones it does (a GET on the V1 predict route
    # reached V1's status route, a 404 for a model named "interpreter:predict", and 405s said `Allow: GET`)
    for method in ("GET", "OPTIONS", "DELETE"):
        response = httpx.request(method, f"{server.url}/v1/models/interpreter:predict", timeout=30)
        assert response.status_code == 405 and response.headers["allow"] == "POST", (method, response.text)
        assert "use POST" in response.json()["error"]
    # FastAPI's own errors come in golemline's shape too: an unparsable V2 body is 400 {"error": …}
    response = httpx.post(f"{server.url}/v2/models/interpreter/infer", content=b"S\x00\xff\r",
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.slow
def test_schemathesis_finds_nothing_then_a_good_request_still_succeeds(server: Server) -> None:
    """Every Schemathesis check (two exceptions, argued in tests/schemathesis.toml), a fixed seed."""
    command = [str(Path(sys.executable).parent / "schemathesis"), "--no-color", "--config-file", str(CONFIG), "run",
               f"{server.url}/openapi.json", "--max-examples", "15", "--seed", "1", "--request-timeout", "60",
               "--generation-database", "none"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
    failures = proc.stdout[proc.stdout.find("FAILURES"):] if "FAILURES" in proc.stdout else proc.stdout
    assert proc.returncode == 0, failures[:6000] + proc.stderr[-2000:]
    assert "API Operations" in proc.stdout  # it ran
    response = v1(server.url, "interpreter", [{"text": "play some jazz"}])
    assert response.status_code == 200 and response.json()["predictions"][0]["labels"][0] == "music"
