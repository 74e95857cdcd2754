"""Split mode: one server per golem plus the transformer, wired by URLs — as `golem serve --split` starts them."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from golemline.serving.split import child_commands
from golemline.settings import Settings
from tests.servers import Server, SplitDeployment, audio_b64, free_port, v1, v2, v2_results

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STAGE_TIMEOUT_S = 5


@pytest.fixture(scope="module")
def split() -> Iterator[dict[str, Server]]:
    deployment = SplitDeployment(transformer_args=("--stage-timeout-s", str(STAGE_TIMEOUT_S)))
    try:
        yield {**deployment.wait_ready().golems, "transformer": deployment.transformer}
    finally:
        deployment.stop()


def test_transformer_gives_the_same_results_as_the_monolith(split: dict[str, Server], resident_pipeline) -> None:  # type: ignore[no-untyped-def]
    names = ("weather", "timer", "noise", "misheard")
    expected = {r.input: r.as_dict() for r in resident_pipeline.run(
        [(n, resident_pipeline.decode_file(SAMPLES / f"{n}.wav")) for n in names])}
    response = v2(split["transformer"].url, "pipeline", {"audio": [audio_b64(SAMPLES / f"{n}.wav") for n in names]})
    assert response.status_code == 200, response.text
    for name, result in zip(names, v2_results(response), strict=True):
        for key in ("status", "transcript", "reply"):
            assert result[key] == expected[name][key], (name, key)
        assert (result["rejection"] or {}).get("reason") == (expected[name]["rejection"] or {}).get("reason")


def test_the_request_id_crosses_every_hop(split: dict[str, Server]) -> None:
    """Before the test below, which kills a golem of this module's deployment."""
    response = httpx.post(f"{split['transformer'].url}/v1/models/pipeline:predict",
                          json={"instances": [{"audio": audio_b64(SAMPLES / "weather.wav")}]},
                          headers={"X-Request-Id": "split-hop-42"}, timeout=120)
    assert response.status_code == 200 and response.headers["x-request-id"] == "split-hop-42"
    assert response.json()["predictions"][0]["request_id"] == "split-hop-42"
    deadline = time.monotonic() + 10  # a server writes its access line once the response has gone
    for name in ("scribe", "interpreter", "oracle", "transformer"):
        while '"request_id": "split-hop-42"' not in split[name].log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert '"request_id": "split-hop-42"' in split[name].log.read_text(), name


def test_a_dead_golem_gives_503_naming_it_within_the_deadline(split: dict[str, Server]) -> None:
    split["scribe"].kill()
    started = time.monotonic()
    response = v1(split["transformer"].url, "pipeline", [{"audio": audio_b64(SAMPLES / "weather.wav")}])
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "golem scribe" in response.json()["error"] and "unavailable" in response.json()["error"]
    assert elapsed < STAGE_TIMEOUT_S + 2
    ready = split["transformer"].url + "/v2/health/ready"
    assert httpx.get(ready).status_code != 200 or httpx.get(ready).json()["ready"] is False
    assert v1(split["transformer"].url, "interpreter", [{"text": "x"}]).status_code == 404  # not hosted there


def test_split_launcher_wires_four_servers() -> None:
    port = free_port()
    settings = Settings().with_overrides(server={"http_port": port})
    commands = child_commands(settings, ["serve", "--split", "--http-port", str(port), "--policy", "resident"])
    assert len(commands) == 4
    assert [c[c.index("--golem") + 1] for c in commands[:3]] == ["scribe", "interpreter", "oracle"]
    transformer = commands[3]
    assert "--transformer" in transformer and "--split" not in transformer
    assert transformer[transformer.index("--scribe-url") + 1] == f"http://127.0.0.1:{port + 1}"
    assert all("--policy" in c for c in commands)


def test_the_split_supervisor_restarts_a_dead_child_and_exits_only_on_sigterm() -> None:
    supervisor = Server("--split", port=free_port())
    try:
        supervisor.wait_ready(timeout=240)
        started = re.search(r"split: started oracle \(pid (\d+)\)", supervisor.log.read_text())
        assert started, supervisor.log.read_text()[-2000:]
        os.kill(int(started.group(1)), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while "split: oracle" not in supervisor.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        died = r"split: oracle \(pid \d+\) exited with code -9; restarting it in 1 s"
        assert re.search(died, supervisor.log.read_text())
        # while it is down, the pipeline model's readiness and the server's agree, and a request names the golem
        model_ready = httpx.get(f"{supervisor.url}/v2/models/pipeline/ready", timeout=10)
        server_ready = httpx.get(f"{supervisor.url}/v2/health/ready", timeout=10)
        assert (model_ready.status_code, server_ready.status_code) == (503, 503)
        response = v1(supervisor.url, "pipeline", [{"audio": audio_b64(SAMPLES / "weather.wav")}])
        assert response.status_code == 503 and "golem oracle" in response.json()["error"]
        supervisor.wait_ready(timeout=240)  # restarted, and the supervisor never left
        assert supervisor.process.poll() is None
        response = v1(supervisor.url, "pipeline", [{"audio": audio_b64(SAMPLES / "weather.wav")}])
        assert response.status_code == 200 and response.json()["predictions"][0]["status"] == "ok"
    finally:
        code = supervisor.stop()
    assert code == 0
