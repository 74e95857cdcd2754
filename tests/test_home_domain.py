"""Must-show: a domain of one's own (examples/intents/home.yaml, six home-automation intents), defined only in a
YAML file, runs through `golem run` and `golem serve` (V1, V2 and gRPC) with no code edited: the intent returned is
one of the file's, and the reply is one of the file's replies for it (the template Oracle)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from golemline.intents import load_intents
from tests.servers import Server, audio_b64, free_port, v1, v2, v2_results

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "examples" / "intents" / "home.yaml"
SPOKEN = ROOT / "tests" / "data" / "home"  # espeak-ng recordings (tests/data/home/README.md)
EXPECTED = {"lights": "lights", "locks": "locks", "shopping": "shopping_list"}
DOMAIN = load_intents(HOME)


def _answered_from_the_file(result: dict[str, Any], expected: str) -> None:
    assert result["status"] == "ok", result
    assert result["intent"]["label"] == expected and set(result["intent"]["ranking"]) == set(DOMAIN.names)
    assert result["reply"] in DOMAIN.label(expected).replies


def test_golem_run_answers_in_the_file_s_domain() -> None:
    proc = subprocess.run([sys.executable, "-m", "golemline.cli", "run", "--intents", str(HOME), "--json",
                           *(str(SPOKEN / f"{name}.wav") for name in EXPECTED), str(ROOT / "samples" / "noise.wav")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    for result, expected in zip(results, EXPECTED.values(), strict=False):
        _answered_from_the_file(result, expected)
    assert results[-1]["status"] == "rejected"  # the gate still stops noise


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    grpc_port = free_port()
    running = Server("--intents", str(HOME), "--grpc-port", str(grpc_port))
    running.grpc_url = f"127.0.0.1:{grpc_port}"  # type: ignore[attr-defined]
    try:
        yield running.wait_ready(timeout=300)
    finally:
        running.stop()


def test_serve_v1_and_v2_answer_in_the_file_s_domain(server: Server) -> None:
    audio = audio_b64(SPOKEN / "lights.wav")
    response = v1(server.url, "pipeline", [{"audio": audio}], timeout=300)
    assert response.status_code == 200, response.text
    [result] = response.json()["predictions"]
    _answered_from_the_file(result, "lights")
    response = v2(server.url, "pipeline", {"audio": [audio_b64(SPOKEN / "locks.wav")]}, timeout=300)
    assert response.status_code == 200, response.text
    [result] = v2_results(response)
    _answered_from_the_file(result, "locks")


def test_served_golems_know_only_the_file_s_intents(server: Server) -> None:
    response = v1(server.url, "interpreter", [{"text": "Close the curtains in the bedroom."}], timeout=300)
    assert response.status_code == 200, response.text
    [ranked] = response.json()["predictions"]
    assert set(ranked["labels"]) == set(DOMAIN.names) and ranked["labels"][0] == "blinds"
    assert ranked["none_score"] is not None  # the file's background: the open-set gate applies
    response = v1(server.url, "oracle", [{"text": "Start the dishwasher.", "intent": "appliances"}], timeout=300)
    assert response.status_code == 200 and response.json()["predictions"][0]["text"] in DOMAIN.label(
        "appliances").replies
    response = v1(server.url, "oracle", [{"text": "Will it rain?", "intent": "weather"}], timeout=300)
    assert response.status_code == 400 and "unknown intent 'weather'" in response.text
    assert "lights" in response.text  # the error names the known intents: the file's
    metadata = httpx.get(f"{server.url}/v2/models/oracle", timeout=60)
    assert metadata.status_code == 200


GRPC_CLIENT = """
import asyncio, json, sys
from kserve import InferenceGRPCClient, InferInput, InferRequest

async def main():
    client = InferenceGRPCClient(sys.argv[1], timeout=300)
    audio = open(sys.argv[2], "rb").read()
    response = await client.infer(InferRequest("pipeline", [InferInput("audio", [1], "BYTES", [audio])],
                                               request_id="home-grpc"))
    [item] = response.outputs[0].data
    await client.close()
    print(item if isinstance(item, str) else item.decode())

asyncio.run(main())
"""


def test_serve_grpc_answers_in_the_file_s_domain(server: Server) -> None:
    proc = subprocess.run([sys.executable, "-c", GRPC_CLIENT, server.grpc_url,  # type: ignore[attr-defined]
                           str(SPOKEN / "shopping.wav")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _answered_from_the_file(json.loads(proc.stdout.strip().splitlines()[-1]), "shopping_list")
