"""Loopback servers for the tests: the launcher is `golem bench`'s (golemline.bench.loopback); the V2 request and
result helpers here are the tests' own."""

from __future__ import annotations

import json
from typing import Any

import httpx

from golemline.bench.loopback import Server, SplitDeployment, audio_b64, free_port, v1

__all__ = ["Server", "SplitDeployment", "audio_b64", "free_port", "v1", "v2", "v2_results"]


def v2(url: str, model: str, inputs: dict[str, list[str]], timeout: float = 60) -> httpx.Response:
    body = {"id": "test", "inputs": [{"name": k, "datatype": "BYTES", "shape": [len(v)], "data": v}
                                     for k, v in inputs.items()]}
    return httpx.post(f"{url}/v2/models/{model}/infer", json=body, timeout=timeout)


def v2_results(response: httpx.Response) -> list[Any]:
    [output] = response.json()["outputs"]
    assert output["name"] == "result" and output["datatype"] == "BYTES"
    return [json.loads(item) for item in output["data"]]
