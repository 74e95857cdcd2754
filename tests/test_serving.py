"""`golem serve` (monolith) on loopback: V1 and V2, readiness, concurrency, bad input — a real server process."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from golemline.pipeline import Pipeline
from tests.bad_inputs import REFUSED
from tests.servers import Server, audio_b64, v1, v2, v2_results

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server("--max-batch-size", "8", "--max-latency-ms", "25")
    try:
        yield running.wait_ready()
    finally:
        running.stop()


def test_readiness_was_false_until_the_models_loaded(server: Server) -> None:
    assert server.seen_not_ready
    log = server.log.read_text()
    warmed = [log.find(f"warmed {golem} with a forward pass") for golem in ("scribe", "interpreter", "oracle")]
    assert -1 not in warmed and max(warmed) < log.find("golems ready")  # each golem ran once before readiness
    assert httpx.get(f"{server.url}/v2/health/live").status_code == 200
    for model in ("scribe", "interpreter", "oracle", "pipeline"):
        response = httpx.get(f"{server.url}/v2/models/{model}/ready")
        assert response.status_code == 200 and response.json()["ready"] is True


def test_v1_and_v2_match_golem_run(server: Server, resident_pipeline: Pipeline) -> None:
    [expected] = resident_pipeline.run([("weather", resident_pipeline.decode_file(SAMPLES / "weather.wav"))])
    assert expected.transcript is not None and expected.reply is not None
    audio = audio_b64(SAMPLES / "weather.wav")
    response = v1(server.url, "pipeline", [{"audio": audio}])
    assert response.status_code == 200, response.text
    [by_v1] = response.json()["predictions"]
    response = v2(server.url, "pipeline", {"audio": [audio]})
    assert response.status_code == 200, response.text
    [by_v2] = v2_results(response)
    for result in (by_v1, by_v2):
        assert set(result) == set(expected.as_dict())
        assert result["status"] == "ok"
        assert result["transcript"] == expected.transcript.text and "weather" in result["transcript"].lower()
        assert result["intent"]["label"] == "weather"
        assert result["reply"] == expected.reply.text


def test_noise_is_rejected_with_stage_and_reason(server: Server) -> None:
    response = v1(server.url, "pipeline", [{"audio": audio_b64(SAMPLES / "noise.wav")},
                                           {"audio": audio_b64(SAMPLES / "silence.wav")}])
    assert response.status_code == 200
    for result in response.json()["predictions"]:
        assert result["status"] == "rejected" and result["reply"] is None
        assert result["rejection"]["stage"] == "scribe" and result["rejection"]["reason"] == "no_speech"


def test_golems_are_callable_on_their_own(server: Server) -> None:
    [transcript] = v1(server.url, "scribe", [{"audio": audio_b64(SAMPLES / "timer.wav")}]).json()["predictions"]
    assert "timer" in transcript["text"].lower() and transcript["no_speech_prob"] < 0.5
    [intent] = v2_results(v2(server.url, "interpreter", {"text": ["play some jazz"],
                                                           "labels": [json.dumps(["music", "news"])]}))
    assert intent["labels"] == ["music", "news"]
    [reply] = v2_results(v2(server.url, "oracle", {"text": ["will it rain?"], "intent": ["weather"]}))
    assert reply["text"] and reply["tokens"] > 0


def _batch_count_above_one(metrics_text: str, golem: str) -> float:
    def value(le: str) -> float:
        pattern = rf'golemline_batch_size_bucket{{golem="{golem}",le="{re.escape(le)}"}} ([0-9.e+]+)'
        match = re.search(pattern, metrics_text)
        return float(match.group(1)) if match else 0.0

    return value("+Inf") - value("1.0")


def test_concurrent_clients_share_batches(server: Server) -> None:
    texts = [f"please play song number {i}" for i in range(32)]
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda t: v1(server.url, "interpreter", [{"text": t}]), texts))
    assert all(r.status_code == 200 and r.json()["predictions"][0]["labels"][0] == "music" for r in responses)
    assert _batch_count_above_one(httpx.get(f"{server.url}/metrics").text, "interpreter") > 0


def _post(server: Server, model: str, protocol: str, body: object) -> httpx.Response:
    path = f"/v1/models/{model}:predict" if protocol == "v1" else f"/v2/models/{model}/infer"
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(server.url + path, content=content, headers={"content-type": "application/json"},
                      timeout=60)


def test_oversized_body_is_413(server: Server) -> None:
    response = httpx.post(f"{server.url}/v1/models/scribe:predict", content=b"x" * (33 * 1024 * 1024),
                          headers={"content-type": "application/json"}, timeout=60)
    assert response.status_code == 413 and "exceeds" in response.json()["error"]


def test_wrong_content_type_is_a_400(server: Server) -> None:
    response = httpx.post(f"{server.url}/v1/models/pipeline:predict", content=b"RIFF....WAVE",
                          headers={"content-type": "audio/wav"}, timeout=30)
    assert response.status_code == 400
    assert "the body is not JSON" in response.json()["error"] and "application/json" in response.json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_with_another_content_type_is_read_as_json(server: Server, content_type: str) -> None:
    """curl's default form type or text/plain: the body is exactly the V1 JSON, so it is answered, not refused."""
    body = json.dumps({"instances": [{"text": "play some jazz"}]})
    response = httpx.post(f"{server.url}/v1/models/interpreter:predict", content=body,
                          headers={"content-type": content_type}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["labels"][0] == "music"


def test_a_v2_json_body_without_the_binary_header_is_json_whatever_its_content_type(server: Server) -> None:
    body = json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["play some jazz"]}]})
    for headers in ({"content-type": "text/plain"}, {}):
        response = httpx.post(f"{server.url}/v2/models/interpreter/infer", content=body, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        assert json.loads(response.json()["outputs"][0]["data"][0])["labels"][0] == "music"


def test_v2_malformed_json_is_a_400_with_an_error(server: Server) -> None:
    response = httpx.post(f"{server.url}/v2/models/pipeline/infer", content=b'{"inputs": [',
                          headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 400 and set(response.json()) == {"error"}
    assert "malformed request body" in response.json()["error"]


def test_client_errors_leave_one_log_line_and_no_traceback(server: Server) -> None:
    httpx.get(f"{server.url}/v2/models/nosuchmodel/ready", timeout=10)
    httpx.post(f"{server.url}/v2/models/pipeline/infer", content=b'{"inputs": [',
               headers={"content-type": "application/json"}, timeout=30)
    log = server.log.read_text()
    assert "Traceback" not in log and "DeprecationWarning" not in log
    assert re.search(r"POST /v2/models/pipeline/infer -> 400: malformed request body", log)
    assert re.search(r"golemline listening on http://127\.0\.0\.1:\d+ \(gRPC \w+\) — models scribe, interpreter, "
                     r"oracle, pipeline, policy resident", log)


def test_audio_longer_than_the_limit_is_413(server: Server) -> None:
    import base64
    import io

    import numpy as np
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(8000 * 61, dtype=np.int16), 8000, format="WAV")  # 61 s > 60 s limit
    response = v1(server.url, "pipeline", [{"audio": base64.b64encode(buffer.getvalue()).decode()}])
    assert response.status_code == 413 and "exceeds the 60 s limit" in response.json()["error"]


def test_good_requests_succeed_while_bad_ones_arrive(server: Server) -> None:
    good = {"instances": [{"audio": audio_b64(SAMPLES / "music.wav")}]}
    jobs = [("pipeline", "v1", good, 200)] * 4 + [(c.model, c.protocol, c.body, c.status) for c in REFUSED[:10]]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda job: (job, _post(server, *job[:3])), jobs))
    for (_, _, _, status), response in responses:
        assert response.status_code == status
    answers = [r.json()["predictions"][0] for (_, _, _, s), r in responses if s == 200]
    assert len(answers) == 4 and all(a["intent"]["label"] == "music" and a["reply"] for a in answers)
    assert httpx.get(f"{server.url}/v2/health/ready").json()["ready"] is True


V2_TENSORS = {"pipeline": ["audio"], "scribe": ["audio"], "interpreter": ["text", "labels"],
              "oracle": ["text", "intent"]}
EXAMPLE_VALUES = {"audio": lambda: audio_b64(SAMPLES / "weather.wav"), "text": lambda: "will it rain tomorrow?",
                  "labels": lambda: json.dumps(["weather", "music"]), "intent": lambda: "weather"}


def _readme_v2_inputs() -> dict[str, list[str]]:
    """The V2 inputs column of the model table in docs/serving.md."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]+) \|", readme, flags=re.M)
    return {model: re.findall(r"`(\w+)`", column) for model, column in rows if model in V2_TENSORS}


def test_model_metadata_publishes_the_tensors_a_client_needs(server: Server) -> None:
    """Discover each model's tensors from its V2 metadata, then call it with KServe's own REST client."""
    import asyncio

    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    assert {m: [n for n in names if n in V2_TENSORS[m]] for m, names in _readme_v2_inputs().items()} == V2_TENSORS

    async def call_every_model() -> dict[str, list[dict[str, object]]]:
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
        results = {}
        try:
            for model in V2_TENSORS:
                metadata = httpx.get(f"{server.url}/v2/models/{model}").json()
                assert metadata["platform"] == "golemline"
                assert [t["name"] for t in metadata["inputs"]] == V2_TENSORS[model]
                assert all(t["datatype"] == "BYTES" and t["shape"] == [-1] for t in metadata["inputs"])
                assert metadata["outputs"] == [{"name": "result", "datatype": "BYTES", "shape": [-1]}]
                assert await client.is_model_ready(server.url, model)
                inputs = [InferInput(t["name"], [1], t["datatype"], [EXAMPLE_VALUES[t["name"]]()])
                          for t in metadata["inputs"]]
                response = await client.infer(server.url, InferRequest(model, inputs, request_id="meta"),
                                              model_name=model)
                [output] = response.outputs
                results[model] = [json.loads(item) for item in output.data]
        finally:
            await client.close()
        return results

    results = asyncio.run(call_every_model())
    assert results["pipeline"][0]["status"] == "ok" and results["pipeline"][0]["intent"]["label"] == "weather"
    assert "weather" in results["scribe"][0]["text"].lower()
    assert results["interpreter"][0]["labels"][0] == "weather"
    assert results["oracle"][0]["text"]


def _request_lines(log: str, request_id: str) -> list[dict[str, object]]:
    lines = [line[line.index("{"):] for line in log.splitlines() if "golemline.requests" in line and "{" in line]
    return [entry for entry in map(json.loads, lines) if entry.get("request_id") == request_id]


def test_a_request_id_is_honoured_returned_logged_once_and_no_audio_is_logged(server: Server) -> None:
    audio = audio_b64(SAMPLES / "weather.wav")
    response = httpx.post(f"{server.url}/v1/models/pipeline:predict", json={"instances": [{"audio": audio}]},
                          headers={"X-Request-Id": "abc"}, timeout=60)
    assert response.status_code == 200 and response.headers["x-request-id"] == "abc"
    [result] = response.json()["predictions"]
    assert result["request_id"] == "abc"
    time.sleep(0.5)  # the line is written when the response is done
    log = server.log.read_text()
    [line] = _request_lines(log, "abc")
    assert line["model"] == "pipeline" and line["status"] == 200
    [entry] = line["results"]  # type: ignore[misc]
    assert entry["verdict"] == "ok" and entry["intent"] == "weather" and set(entry["stages"]) == {
        "scribe", "interpreter", "oracle"}
    assert "transcript" not in entry and audio[:200] not in log and result["transcript"] not in log


def test_without_a_request_id_one_is_issued(server: Server) -> None:
    response = v1(server.url, "interpreter", [{"text": "play some jazz"}])
    issued = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", issued)
    evil = httpx.post(f"{server.url}/v1/models/interpreter:predict", json={"instances": [{"text": "hi there"}]},
                      headers={"X-Request-Id": "x\\n{\"forged\": true}"}, timeout=30)
    assert re.fullmatch(r"[0-9a-f]{32}", evil.headers["x-request-id"])  # no log injection through the header
