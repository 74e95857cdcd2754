"""Open Inference Protocol conformance with the reference clients: NVIDIA's tritonclient (HTTP and gRPC, JSON and
binary data) and KServe's gRPC client, against a live `golem serve` — health, metadata, a good infer, a rejected
infer (noise) and a bad request (with its expected error code) on every model. No request may produce a 500."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from golemline.pipeline import Pipeline
from tests.servers import Server, free_port

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
MODELS = ("pipeline", "scribe", "interpreter", "oracle")
STABLE = ("status", "transcript", "intent", "reply", "rejection")


def _inputs(model: str, audio: bytes) -> dict[str, bytes]:
    """One instance per model: raw file bytes for audio (BYTES elements), UTF-8 text for the rest."""
    return {"pipeline": {"audio": audio}, "scribe": {"audio": audio},
            "interpreter": {"text": b"will it rain tomorrow?"},
            "oracle": {"text": b"will it rain tomorrow?", "intent": b"weather"}}[model]


@pytest.fixture(scope="module")
def server(monolith: Server) -> Server:
    """The session's default server (conftest), with its gRPC port."""
    return monolith


@pytest.fixture(scope="module")
def expected(resident_pipeline: Pipeline) -> dict[str, Any]:
    [result] = resident_pipeline.run([("weather", resident_pipeline.decode_file(SAMPLES / "weather.wav"))])
    return {key: result.as_dict()[key] for key in STABLE}


def _triton_inputs(module: Any, values: dict[str, bytes], binary: bool) -> list[Any]:
    """BYTES tensors; in JSON mode audio travels as base64 text (JSON cannot carry raw bytes), as the README says."""
    tensors = []
    for name, value in values.items():
        if not binary and name == "audio":
            value = base64.b64encode(value)
        tensor = module.InferInput(name, [1], "BYTES")
        tensor.set_data_from_numpy(np.array([value], dtype=np.object_), **({"binary_data": binary}
                                                                           if module.__name__.endswith("http") else {}))
        tensors.append(tensor)
    return tensors


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_http(server: Server, expected: dict[str, Any], binary: bool) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server.url.removeprefix("http://"), network_timeout=120)
    assert client.is_server_live() and client.is_server_ready()
    audio = (SAMPLES / "weather.wav").read_bytes()
    for model in MODELS:
        assert client.is_model_ready(model)
        metadata = client.get_model_metadata(model)
        assert [t["name"] for t in metadata["inputs"]][:1] == list(_inputs(model, audio))[:1]
        outputs = [triton.InferRequestedOutput("result", binary_data=binary)]
        response = client.infer(model, _triton_inputs(triton, _inputs(model, audio), binary), outputs=outputs)
        [result] = [json.loads(item) for item in response.as_numpy("result")]
        if model == "pipeline":
            assert {key: result[key] for key in STABLE} == expected
        assert result
    noise = client.infer("pipeline", _triton_inputs(triton, {"audio": (SAMPLES / "noise.wav").read_bytes()}, binary))
    assert json.loads(noise.as_numpy("result")[0])["rejection"]["reason"] == "no_speech"
    with pytest.raises(triton.InferenceServerException) as refused:
        client.infer("interpreter", _triton_inputs(triton, {"text": b"hi", "labels": b"[\"only-one\"]"}, binary))
    assert refused.value.status() == "400" and "at least 2 candidate labels" in refused.value.message()


TRITON_GRPC = """
import base64, json, sys
import numpy as np
import tritonclient.grpc as triton

url, calls = sys.argv[1], json.loads(sys.stdin.read())
client = triton.InferenceServerClient(url)
out = {"live": client.is_server_live(), "ready": client.is_server_ready(), "answers": []}
for call in calls:
    tensors = []
    for name, value in call["inputs"].items():
        tensor = triton.InferInput(name, [1], "BYTES")
        tensor.set_data_from_numpy(np.array([base64.b64decode(value)], dtype=np.object_))
        tensors.append(tensor)
    answer = {"model": call["model"]}
    try:
        if call.get("metadata"):
            answer["ready"] = client.is_model_ready(call["model"])
            answer["metadata"] = client.get_model_metadata(call["model"], as_json=True)
        response = client.infer(call["model"], tensors, headers=call.get("headers"))
        answer["result"] = json.loads(response.as_numpy("result")[0])
    except triton.InferenceServerException as exc:
        answer["status"], answer["message"] = exc.status(), exc.message()
    out["answers"].append(answer)
out["live_after"] = client.is_server_live()
print(json.dumps(out))
"""


def _triton_grpc(url: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    """tritonclient.grpc in a process of its own: its generated protobuf modules and KServe's (loaded here by
    golemline.serving) register the same `inference.*` symbols, and one process cannot hold both."""
    encoded = [{**c, "inputs": {k: base64.b64encode(v).decode() for k, v in c["inputs"].items()}} for c in calls]
    proc = subprocess.run([sys.executable, "-c", TRITON_GRPC, url], input=json.dumps(encoded), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_tritonclient_grpc(server: Server, expected: dict[str, Any]) -> None:
    audio = (SAMPLES / "weather.wav").read_bytes()
    calls = [{"model": m, "inputs": _inputs(m, audio), "metadata": True} for m in MODELS]
    calls.append({"model": "pipeline", "inputs": {"audio": (SAMPLES / "noise.wav").read_bytes()}})
    out = _triton_grpc(server.grpc_url, calls)  # type: ignore[attr-defined]
    assert out["live"] and out["ready"]
    *good, noise = out["answers"]
    for answer in good:
        assert answer["ready"] and answer["metadata"]["platform"] == "golemline", answer
        assert answer["metadata"]["inputs"][0]["name"] == list(_inputs(answer["model"], audio))[0]
        assert "result" in answer, answer
    assert {key: good[0]["result"][key] for key in STABLE} == expected
    assert noise["result"]["rejection"]["reason"] == "no_speech"


BAD_GRPC = [
    ("interpreter", {"text": b"hi", "labels": b"[\"one\"]"}, "INVALID_ARGUMENT", "at least 2 candidate labels"),
    ("scribe", {"audio": b"not audio at all"}, "INVALID_ARGUMENT", "undecodable audio"),
    ("pipeline", {"audio": b""}, "INVALID_ARGUMENT", "empty audio"),
    ("oracle", {"text": b"bake bread", "intent": b"cooking"}, "INVALID_ARGUMENT", "unknown intent 'cooking'"),
    ("oracle", {"text": b"hi"}, "INVALID_ARGUMENT", "missing input(s) ['intent']"),
    ("interpreter", {"words": b"hi"}, "INVALID_ARGUMENT", "unknown input 'words'"),
    ("nosuchmodel", {"text": b"hi"}, "NOT_FOUND", "nosuchmodel"),
]


def test_bad_requests_over_grpc_get_a_status_code_and_a_message(server: Server) -> None:
    out = _triton_grpc(server.grpc_url,  # type: ignore[attr-defined]
                       [{"model": model, "inputs": values} for model, values, _, _ in BAD_GRPC])
    for (model, _, code, fragment), answer in zip(BAD_GRPC, out["answers"], strict=True):
        assert answer.get("status") == f"StatusCode.{code}", (model, answer)
        assert fragment in answer["message"], (model, answer)
    assert out["live_after"]  # the server stays up


def test_a_message_over_the_body_limit_is_resource_exhausted() -> None:
    grpc_port = free_port()
    small = Server("--golem", "interpreter", "--grpc-port", str(grpc_port), "--max-body-bytes", "20000")
    try:
        small.wait_ready()
        out = _triton_grpc(f"127.0.0.1:{grpc_port}", [{"model": "interpreter", "inputs": {"text": b"x" * 50_000}}])
        assert out["answers"][0]["status"] == "StatusCode.RESOURCE_EXHAUSTED"
    finally:
        small.stop()


KSERVE_GRPC_CLIENT = """
import asyncio, json, sys
from kserve import InferenceGRPCClient, InferInput, InferRequest

url, audio_path = sys.argv[1], sys.argv[2]
audio = open(audio_path, "rb").read()
INPUTS = {"pipeline": {"audio": audio}, "scribe": {"audio": audio}, "interpreter": {"text": b"will it rain tomorrow?"},
          "oracle": {"text": b"will it rain tomorrow?", "intent": b"weather"}}

async def main():
    client = InferenceGRPCClient(url, timeout=120)
    results = {"server_ready": await client.is_server_ready()}
    for model, values in INPUTS.items():
        results[model + "_ready"] = await client.is_model_ready(model)
        inputs = [InferInput(name, [1], "BYTES", [value]) for name, value in values.items()]
        response = await client.infer(InferRequest(model, inputs, request_id="kserve-" + model))
        [output] = response.outputs
        [item] = output.data
        results[model] = json.loads(item)
    await client.close()
    print(json.dumps(results))

asyncio.run(main())
"""


def test_kserve_grpc_client_on_every_model(server: Server, expected: dict[str, Any]) -> None:
    """In a process of its own: KServe's and tritonclient's generated gRPC modules register the same protobuf
    symbols, and one process cannot hold both."""
    proc = subprocess.run([sys.executable, "-c", KSERVE_GRPC_CLIENT, server.grpc_url,  # type: ignore[attr-defined]
                           str(SAMPLES / "weather.wav")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["server_ready"] and all(results[f"{m}_ready"] for m in MODELS)
    assert {key: results["pipeline"][key] for key in STABLE} == expected
    assert "weather" in results["scribe"]["text"].lower() and results["interpreter"]["labels"][0] == "weather"
    assert results["oracle"]["text"]


def test_grpc_auth_uses_bearer_metadata_and_leaves_probes_open() -> None:
    token = "s3cret-token-0123456789"
    grpc_port = free_port()
    guarded = Server("--golem", "interpreter", "--grpc-port", str(grpc_port), env={"GOLEM_AUTH_TOKEN": token})
    try:
        guarded.wait_model_ready("interpreter")
        jazz = {"text": b"play some jazz"}
        out = _triton_grpc(f"127.0.0.1:{grpc_port}", [
            {"model": "interpreter", "inputs": jazz},
            {"model": "interpreter", "inputs": jazz, "headers": {"authorization": "Bearer wrong-token-000000000"}},
            {"model": "interpreter", "inputs": jazz, "headers": {"authorization": f"Bearer {token}"}}])
        assert out["live"] and out["ready"]  # probes stay open
        missing, wrong, right = out["answers"]
        assert missing["status"] == "StatusCode.UNAUTHENTICATED"
        assert wrong["status"] == "StatusCode.PERMISSION_DENIED"
        assert right["result"]["labels"][0] == "music"
        assert token not in guarded.log.read_text()
    finally:
        guarded.stop()


def _grpc_tensor(name: str, datatype: str, shape: list[int], values: list[Any]) -> Any:
    """A V2 gRPC input tensor; over gRPC, audio is the raw file (base64 text in the catalogue is decoded)."""
    import binascii

    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

    if datatype != "BYTES":
        contents = pb.InferTensorContents(fp32_contents=[float(v) for v in values])
    else:
        elements = []
        for value in values:
            if name == "audio" and isinstance(value, str):
                try:
                    elements.append(base64.b64decode(value, validate=True))
                    continue
                except (binascii.Error, ValueError):
                    pass
            elements.append(value.encode() if isinstance(value, str) else json.dumps(value).encode())
        contents = pb.InferTensorContents(bytes_contents=elements)
    return pb.ModelInferRequest.InferInputTensor(name=name, datatype=datatype, shape=shape, contents=contents)


def _as_grpc(case: Any) -> Any:
    """A catalogue case as a gRPC ModelInferRequest, or None where the case has no gRPC form (malformed JSON, a
    body that is not an object, V1-only envelope faults)."""
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb

    body = case.body
    if not isinstance(body, dict):
        return None
    if case.protocol == "v1":
        instances = body.get("instances")
        if set(body) != {"instances"} or not isinstance(instances, list) or not instances or \
                not all(isinstance(i, dict) for i in instances):
            return None
        names = list(dict.fromkeys(k for i in instances for k in i))
        if any(set(i) != set(names) for i in instances):
            return None
        inputs = [_grpc_tensor(n, "BYTES", [len(instances)], [i[n] for i in instances]) for n in names]
    else:
        inputs = [_grpc_tensor(t["name"], t["datatype"], t["shape"], t["data"]) for t in body["inputs"]]
    return pb.ModelInferRequest(model_name=case.model, inputs=inputs)


def test_the_bad_input_catalogue_over_grpc(server: Server) -> None:
    """Every catalogue case that has a gRPC form gets the status code of its HTTP answer and a message; good
    requests in between still succeed, and the server stays up."""
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as stubs

    from golemline.serving.grpc_server import STATUS_OF_HTTP
    from tests.bad_inputs import REFUSED, SPEECH

    good = pb.ModelInferRequest(model_name="scribe", inputs=[_grpc_tensor("audio", "BYTES", [1], [SPEECH])])
    checked = 0
    with grpc.insecure_channel(server.grpc_url) as channel:  # type: ignore[attr-defined]
        stub = stubs.GRPCInferenceServiceStub(channel)
        for case in REFUSED:
            request = _as_grpc(case)
            if request is None:
                continue
            with pytest.raises(grpc.RpcError) as refused:
                stub.ModelInfer(request, timeout=60)
            assert refused.value.code() == STATUS_OF_HTTP[case.status], (case.name, refused.value.details())
            assert refused.value.details(), case.name
            checked += 1
            assert "weather" in json.loads(stub.ModelInfer(good, timeout=60).outputs[0].contents.bytes_contents[0])[
                "text"].lower()
        assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert checked >= 25  # most of the catalogue has a gRPC form


def test_no_request_in_this_module_produced_a_500(server: Server) -> None:
    """Runs last in this module: every good and bad request above (and those of the modules that shared the server
    before it) was answered without a server error."""
    import re

    log = server.log.read_text()
    assert "HTTP/1.1\" 200" in log or "POST /v2/models" in log or "grpc" in log.lower()
    assert not re.search(r'" 500|StatusCode.INTERNAL|Internal server error|Traceback', log), log[-3000:]
