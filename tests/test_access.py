"""Default-deny access on real servers: every route KServe registers (hidden ones included) and every gRPC method,
called without the token; the model-repository API off by default, and behind the token once switched on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from golemline.serving.access import is_open
from tests.servers import Server, free_port, v1

pytestmark = pytest.mark.slow

TOKEN = "access-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MODEL = "interpreter"
SWITCH = "--model-repository-api"

ROUTES_SCRIPT = """
import json
import golemline.serving  # imports KServe with an empty command line
import kserve
from fastapi.routing import iter_route_contexts
from golemline.serving.handlers import quiet_client_errors
from golemline.serving.kserve_internals import InferencePlane, HostedRepositoryExtension, RestServer
from golemline.serving.readiness import Readiness

registry = kserve.ModelRepository()
app = RestServer(InferencePlane(registry, Readiness()), HostedRepositoryExtension(registry, []), "127.0.0.1", 8080,
                 30, quiet_client_errors).create_application()
print(json.dumps([[m, r.path] for r in iter_route_contexts(app.routes) for m in sorted(r.methods or ())]))
"""


def registered_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route on the app `golem serve` builds, from its own registration — not
    from /openapi.json, which leaves out KServe's hidden routes. In a process of its own: registering mutates
    KServe's module-level app."""
    proc = subprocess.run([sys.executable, "-c", ROUTES_SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [(method, path) for method, path in json.loads(proc.stdout.strip().splitlines()[-1])]


def concrete(path: str) -> str:
    return path.replace("{model_name}", MODEL).replace("{model_version}", "1")


def _wait_live(server: Server, timeout: float = 120) -> Server:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited: {server.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/v2/health/live", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"server on {server.port} not live in {timeout}s")


def _start(*args: str, token: str | None) -> Server:
    grpc_port = free_port()
    server = Server(*args, "--grpc-port", str(grpc_port), env={"GOLEM_AUTH_TOKEN": token} if token else None)
    server.grpc_target = f"127.0.0.1:{grpc_port}"  # type: ignore[attr-defined]
    return server


@pytest.fixture(scope="module")
def guarded() -> Iterator[Server]:
    """Auth on, repository API at its default (off)."""
    server = _start("--golem", MODEL, token=TOKEN)
    try:
        yield server.wait_model_ready(MODEL, timeout=600)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def unguarded() -> Iterator[Server]:
    """No token configured, repository API at its default; a transformer whose golems are elsewhere (nothing to
    load: it only has to be live)."""
    down = "http://127.0.0.1:9"
    server = _start("--transformer", "--scribe-url", down, "--interpreter-url", down, "--oracle-url", down,
                    token=None)
    try:
        yield _wait_live(server, timeout=600)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def repository_on() -> Iterator[Server]:
    server = _start("--golem", MODEL, SWITCH, "true", token=TOKEN)
    try:
        yield server.wait_model_ready(MODEL, timeout=600)
    finally:
        server.stop()


def _grpc(target: str, method: str, request: Any = None, token: str | None = None) -> tuple[str, str]:
    """Call one method of the Open Inference Protocol service; (status code name, details) — OK for success."""
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

    descriptor = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods_by_name[method]
    request_type, response_type = getattr(pb, descriptor.input_type.name), getattr(pb, descriptor.output_type.name)
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(f"/inference.GRPCInferenceService/{method}",
                                   request_serializer=request_type.SerializeToString,
                                   response_deserializer=response_type.FromString)
        metadata = [("authorization", f"Bearer {token}")] if token else None
        try:
            call(request if request is not None else request_type(), metadata=metadata, timeout=60)
        except grpc.RpcError as exc:
            return exc.code().name, exc.details() or ""
    return "OK", ""


def _grpc_methods() -> list[str]:
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

    return [m.name for m in pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods]


def _infer_ok(server: Server) -> bool:
    response = v1(server.url, MODEL, [{"text": "play some jazz"}], headers=AUTH)
    return response.status_code == 200 and response.json()["predictions"][0]["labels"][0] == "music"


def test_every_registered_route_needs_the_token_but_the_open_list(guarded: Server) -> None:
    routes = registered_routes()
    assert ("POST", "/v2/repository/models/{model_name}/unload") in routes  # the bypass of issue 26 is audited
    assert ("POST", "/v2/models/{model_name}/versions/{model_version}/infer") in routes  # and a hidden route
    answers: dict[tuple[str, str], tuple[int, str]] = {}
    # every registered method, plus one no route has: nothing (not even a 405) answers before the token
    for method, path in [*routes, *[("DELETE", p) for p in dict.fromkeys(p for _, p in routes)]]:
        response = httpx.request(method, f"{guarded.url}{concrete(path)}", json={}, timeout=60)
        answers[(method, path)] = (response.status_code, response.text)
    for (method, path), (status, body) in answers.items():
        if path.startswith("/v2/repository/"):
            assert status == 404 and SWITCH in json.loads(body)["error"], (method, path, status, body)
        elif is_open(method, concrete(path)):
            assert status not in (401, 403), (method, path, status, body)
        else:
            assert status == 401 and "bearer token" in json.loads(body)["error"], (method, path, status, body)
    opened = {(m, p) for (m, p) in answers if is_open(m, concrete(p))}
    assert {("GET", "/v2/health/ready"), ("GET", "/v2/models/{model_name}/ready"), ("GET", "/metrics"),
            ("GET", "/v1/models/{model_name}"), ("GET", "/openapi.json")} <= opened
    assert _infer_ok(guarded)  # the sweep changed nothing: the model is still served


def test_open_probes_answer_without_a_token(guarded: Server) -> None:
    for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}/ready", f"/v1/models/{MODEL}",
                 "/metrics", "/openapi.json"):
        assert httpx.get(f"{guarded.url}{path}", timeout=30).status_code == 200, path
    # …but a wrong token on a guarded route is 403, not 401
    response = v1(guarded.url, MODEL, [{"text": "play some jazz"}], headers={"Authorization": "Bearer " + "x" * 20})
    assert response.status_code == 403


def test_every_grpc_method_needs_the_token_but_the_probes(guarded: Server) -> None:
    target = guarded.grpc_target  # type: ignore[attr-defined]
    answers = {method: _grpc(target, method) for method in _grpc_methods()}
    assert set(answers) >= {"ModelInfer", "ModelMetadata", "ServerMetadata", "RepositoryModelUnload"}
    for method, (code, details) in answers.items():
        if method.startswith("Repository"):
            assert code == "UNIMPLEMENTED" and SWITCH in details, (method, code, details)
        elif method in ("ServerLive", "ServerReady", "ModelReady"):
            assert code not in ("UNAUTHENTICATED", "PERMISSION_DENIED"), (method, code, details)
        else:
            assert code == "UNAUTHENTICATED", (method, code, details)
    # with the token the repository methods are still off
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

    code, details = _grpc(target, "RepositoryModelUnload", pb.RepositoryModelUnloadRequest(model_name=MODEL), TOKEN)
    assert code == "UNIMPLEMENTED" and SWITCH in details
    assert _infer_ok(guarded)


def test_the_repository_api_is_off_without_auth_too(unguarded: Server) -> None:
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

    for action in ("load", "unload"):
        response = httpx.post(f"{unguarded.url}/v2/repository/models/pipeline/{action}", timeout=30)
        assert response.status_code == 404 and SWITCH in response.json()["error"], response.text
    target = unguarded.grpc_target  # type: ignore[attr-defined]
    code, details = _grpc(target, "RepositoryModelUnload", pb.RepositoryModelUnloadRequest(model_name="pipeline"))
    assert code == "UNIMPLEMENTED" and SWITCH in details
    assert httpx.get(f"{unguarded.url}/v2/models/pipeline", timeout=30).status_code == 200  # still registered


def test_an_enabled_repository_api_needs_the_token(repository_on: Server) -> None:
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

    unload = f"{repository_on.url}/v2/repository/models/{MODEL}/unload"
    load = f"{repository_on.url}/v2/repository/models/{MODEL}/load"
    assert httpx.post(unload, timeout=30).status_code == 401
    assert httpx.post(unload, headers={"Authorization": "Bearer " + "x" * 20}, timeout=30).status_code == 403
    target = repository_on.grpc_target  # type: ignore[attr-defined]
    code, _ = _grpc(target, "RepositoryModelUnload", pb.RepositoryModelUnloadRequest(model_name=MODEL))
    assert code == "UNAUTHENTICATED"
    assert _infer_ok(repository_on)  # none of the refused calls unloaded it

    # with the token: unload takes it out of service, load puts it back, an unknown name is 404 (not 503)
    response = httpx.post(unload, headers=AUTH, timeout=30)
    assert response.status_code == 200 and response.json() == {"name": MODEL, "unload": True}
    assert v1(repository_on.url, MODEL, [{"text": "play some jazz"}], headers=AUTH).status_code == 404
    response = httpx.post(load, headers=AUTH, timeout=30)
    assert response.status_code == 200 and response.json() == {"name": MODEL, "load": True}
    assert _infer_ok(repository_on)
    assert httpx.post(f"{repository_on.url}/v2/repository/models/nosuch/load", headers=AUTH,
                      timeout=30).status_code == 404
    # over gRPC too, with the token
    assert _grpc(target, "RepositoryModelUnload", pb.RepositoryModelUnloadRequest(model_name=MODEL), TOKEN)[0] == "OK"
    assert _grpc(target, "RepositoryModelLoad", pb.RepositoryModelLoadRequest(model_name=MODEL), TOKEN)[0] == "OK"
    assert _grpc(target, "RepositoryModelLoad", pb.RepositoryModelLoadRequest(model_name="nosuch"),
                 TOKEN)[0] == "NOT_FOUND"
    assert _infer_ok(repository_on)
