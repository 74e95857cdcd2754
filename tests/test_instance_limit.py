"""`--max-instances`: a request with more instances than a golem's queue could ever hold is 413 naming the
per-request limit on V1, V2 and gRPC (not 429 "retry shortly", which no retry could honour); within the limit it
is served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from golemline.errors import ConfigError, InvalidInput, PayloadTooLarge
from golemline.serving.protocol import SIGNATURES, instances_from
from golemline.settings import Settings
from tests.servers import Server, free_port, v1, v2, v2_results

LIMIT = 16


def test_the_limit_defaults_to_the_queue_and_cannot_exceed_it() -> None:
    assert Settings().server.instance_limit == Settings().server.max_queue == 64
    assert Settings().with_overrides(max_queue=32).server.instance_limit == 32
    assert Settings().with_overrides(max_instances=8).server.instance_limit == 8
    with pytest.raises(ConfigError, match="max_instances 65 must be between 1 and max_queue"):
        Settings().with_overrides(max_instances=65)
    with pytest.raises(ConfigError, match="max_instances"):
        Settings.from_env({"GOLEM_MAX_INSTANCES": "0"})


def test_the_count_is_checked_before_any_instance_is_decoded() -> None:
    fields = SIGNATURES["interpreter"].inputs
    with pytest.raises(PayloadTooLarge, match=r"5000 instances .* per-request limit of 64 \(--max-instances\)"):
        instances_from({"instances": [{"text": "x"}] * 5000}, "interpreter", fields, limit=64)
    instances, _ = instances_from({"instances": [{"text": "x"}] * 64}, "interpreter", fields, limit=64)
    assert len(instances) == 64
    with pytest.raises(InvalidInput, match="'parameters' must be an object"):  # found by Schemathesis
        instances_from({"instances": [{"text": "x"}], "parameters": [None]}, "interpreter", fields, limit=64)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    grpc_port = free_port()
    started = Server("--golem", "interpreter", "--max-instances", str(LIMIT), "--grpc-port", str(grpc_port))
    started.grpc_target = f"127.0.0.1:{grpc_port}"  # type: ignore[attr-defined]
    try:
        yield started.wait_ready(timeout=600)
    finally:
        started.stop()


def _grpc_infer(target: str, texts: list[str]) -> tuple[str, str, int]:
    """(status code name, details, results) of one gRPC ModelInfer on the interpreter."""
    import grpc
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc

    tensor = pb.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[len(texts)],
        contents=pb.InferTensorContents(bytes_contents=[t.encode() for t in texts]))
    with grpc.insecure_channel(target) as channel:
        try:
            response = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
                pb.ModelInferRequest(model_name="interpreter", inputs=[tensor]), timeout=120)
        except grpc.RpcError as exc:
            return exc.code().name, exc.details() or "", 0
    [output] = response.outputs
    return "OK", "", len(output.contents.bytes_contents) or len(response.raw_output_contents)


@pytest.mark.slow
@pytest.mark.parametrize("count", [LIMIT + 1, 5000])
def test_over_the_limit_is_413_naming_it_on_v1_v2_and_grpc(server: Server, count: int) -> None:
    texts = ["play some jazz"] * count
    for response in (v1(server.url, "interpreter", [{"text": t} for t in texts]),
                     v2(server.url, "interpreter", {"text": texts})):
        assert response.status_code == 413, response.text
        assert f"per-request limit of {LIMIT} (--max-instances)" in response.json()["error"]
    code, details, _ = _grpc_infer(server.grpc_target, texts)  # type: ignore[attr-defined]
    assert code == "RESOURCE_EXHAUSTED" and f"per-request limit of {LIMIT} (--max-instances)" in details


@pytest.mark.slow
def test_a_request_at_the_limit_is_served_on_v1_v2_and_grpc(server: Server) -> None:
    texts = ["play some jazz"] * LIMIT
    response = v1(server.url, "interpreter", [{"text": t} for t in texts])
    assert response.status_code == 200 and [p["labels"][0] for p in response.json()["predictions"]] == ["music"] * LIMIT
    response = v2(server.url, "interpreter", {"text": texts})
    assert response.status_code == 200 and len(v2_results(response)) == LIMIT
    assert _grpc_infer(server.grpc_target, texts) == ("OK", "", LIMIT)  # type: ignore[attr-defined]
