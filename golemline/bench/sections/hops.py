"""What crossing a process costs: split vs monolith, micro-batching, and one hop over REST vs gRPC."""

from __future__ import annotations

import statistics
import time
from typing import Any

from golemline.bench.measure import timing_stats
from golemline.resources import SPOKEN
from golemline.resources import sample as sample_path


# -- (e) split vs monolith ---------------------------------------------------------------------------------------
def bench_split(requests: int = 10) -> dict[str, Any]:
    from golemline.bench.loopback import Server, SplitDeployment, audio_b64, v1

    monolith = Server("--threads", "1")
    split = SplitDeployment("--threads", "1")
    transformer = split.transformer
    servers = [monolith, *split.servers]
    try:
        for server in servers:
            server.wait_ready()
        clips = [{"audio": audio_b64(sample_path(name))} for name in SPOKEN]
        times: dict[str, list[float]] = {"monolith": [], "split": []}
        for i in range(requests):
            for name, server in (("monolith", monolith), ("split", transformer)):
                started = time.perf_counter()
                assert v1(server.url, "pipeline", [clips[i % len(clips)]]).status_code == 200
                times[name].append(time.perf_counter() - started)
    finally:
        for server in servers:
            server.stop()
    result: dict[str, Any] = {name: timing_stats(t) for name, t in times.items()}
    hop = (result["split"]["p50_s"] - result["monolith"]["p50_s"]) / 3
    result["ratios"] = {"split_vs_monolith_p50": round(result["split"]["p50_s"] / result["monolith"]["p50_s"], 2),
                        "per_hop_overhead_ms": round(hop * 1000, 1)}
    return result


# -- (a) batching ------------------------------------------------------------------------------------------------
def bench_batching(concurrencies: tuple[int, ...] = (1, 4, 16, 32), requests: int = 64,
                   rounds: int = 4) -> dict[str, Any]:
    """Three interpreter servers side by side: batching off (batch 1), on with eager dispatch (today's default), and
    on with the 10 ms window (each batch waits for company: the dispatch before eager), alternating rounds.

    Four rounds, medians: at concurrency 1 a round lasts well under a second, and with two rounds the on ÷ off ratio
    of the same code moved between 0.94 and 1.04 from run to run on a quiet machine."""
    from golemline.bench.batching import _round
    from golemline.bench.loopback import Server

    servers = {"off": Server("--max-batch-size", "1", "--threads", "1"),
               "on": Server("--max-batch-size", "16", "--batch-dispatch", "eager", "--threads", "1"),
               "window": Server("--max-batch-size", "16", "--batch-dispatch", "window", "--max-latency-ms", "10",
                                "--threads", "1")}
    result: dict[str, Any] = {}
    try:
        for server in servers.values():
            server.wait_ready()
            _round(server.url, "interpreter", 8, 16)  # warm-up
        for concurrency in concurrencies:
            runs: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(rounds):
                for name, server in servers.items():
                    runs[name].append(_round(server.url, "interpreter", concurrency, requests)["req_per_s"])
            on, off, window = (statistics.median(runs[name]) for name in ("on", "off", "window"))
            result[f"concurrency_{concurrency}"] = {"on_req_per_s": round(on, 1), "off_req_per_s": round(off, 1),
                                                    "window_req_per_s": round(window, 1),
                                                    "speedup": round(on / off, 2),
                                                    "window_speedup": round(window / off, 2),
                                                    "eager_vs_window": round(on / window, 2)}
    finally:
        for server in servers.values():
            server.stop()
    return result


# -- one hop over REST vs gRPC --------------------------------------------------------------------------------------
def bench_transport(requests: int = 60) -> dict[str, Any]:
    """The cost of one hop to a golem: the same interpreter request over V2 REST (JSON) and over V2 gRPC, alternated
    against one server, so the difference is the transport (what split mode pays per hop)."""
    import grpc
    import httpx
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as stubs

    from golemline.bench.loopback import Server, free_port

    grpc_port = free_port()
    server = Server("--golem", "interpreter", "--grpc-port", str(grpc_port), "--threads", "1")
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [SPOKEN["music"]]}]}
    message = pb.ModelInferRequest(model_name="interpreter", inputs=[pb.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[1],
        contents=pb.InferTensorContents(bytes_contents=[SPOKEN["music"].encode()]))])
    times: dict[str, list[float]] = {"rest": [], "grpc": []}
    try:
        server.wait_ready()
        with httpx.Client(timeout=60) as client, grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            infer = stubs.GRPCInferenceServiceStub(channel).ModelInfer
            calls = {"rest": lambda: client.post(f"{server.url}/v2/models/interpreter/infer", json=body),
                     "grpc": lambda: infer(message)}
            for call in calls.values():  # warm-up: connections, first batch
                call()
            for _ in range(requests):
                for name, call in calls.items():
                    started = time.perf_counter()
                    call()
                    times[name].append(time.perf_counter() - started)
    finally:
        server.stop()
    result: dict[str, Any] = {name: timing_stats(t) for name, t in times.items()}
    result["ratios"] = {"grpc_vs_rest_p50": round(result["grpc"]["p50_s"] / result["rest"]["p50_s"], 2),
                        "rest_minus_grpc_p50_ms": round((result["rest"]["p50_s"] - result["grpc"]["p50_s"]) * 1000, 2)}
    return result
