"""Micro-batching on vs off: two `golem serve` processes (max batch 1 vs N), hit in interleaved rounds.

Usage: python -m golemline.bench.batching [--concurrency 16] [--requests 96] [--rounds 3] [--model interpreter]
Writes JSON to stdout (and --out FILE): req/s and latency percentiles per configuration, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from golemline.bench.loopback import Server, audio_b64
from golemline.resources import SPOKEN, sample


def _instance(model: str, i: int) -> dict[str, Any]:
    if model == "interpreter":
        return {"text": list(SPOKEN.values())[i % len(SPOKEN)]}
    if model == "oracle":
        return {"text": SPOKEN["weather"], "intent": "weather"}
    names = list(SPOKEN)
    return {"audio": audio_b64(sample(names[i % len(names)]))}


def _round(url: str, model: str, concurrency: int, requests: int) -> dict[str, Any]:
    bodies = [{"instances": [_instance(model, i)]} for i in range(requests)]
    latencies: list[float] = []
    statuses: list[int] = []
    with httpx.Client(timeout=120) as client:
        def call(body: dict[str, Any]) -> None:
            started = time.perf_counter()
            response = client.post(f"{url}/v1/models/{model}:predict", json=body)
            latencies.append(time.perf_counter() - started)
            statuses.append(response.status_code)

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(call, bodies))
        wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"req_per_s": requests / wall, "p50_s": statistics.median(ordered),
            "p95_s": ordered[int(0.95 * (len(ordered) - 1))], "errors": sum(s != 200 for s in statuses)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m golemline.bench.batching", description=__doc__)
    parser.add_argument("--model", default="interpreter", choices=["interpreter", "oracle", "scribe", "pipeline"])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="max batch size of the batching server")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    configs = {"batching_off": ("--max-batch-size", "1"),
               "batching_on": ("--max-batch-size", str(args.batch), "--max-latency-ms", "10")}
    servers = {name: Server(*flags, "--threads", "1") for name, flags in configs.items()}
    try:
        for server in servers.values():
            server.wait_ready()
        for server in servers.values():  # warm-up, not measured
            _round(server.url, args.model, args.concurrency, args.concurrency)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for _ in range(args.rounds):  # interleaved: on, off, on, off ... so drift hits both alike
            for name, server in servers.items():
                runs[name].append(_round(server.url, args.model, args.concurrency, args.requests))
    finally:
        for server in servers.values():
            server.stop()
    summary = {name: {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
               for name, rounds in runs.items()}
    report = {"model": args.model, "concurrency": args.concurrency, "requests_per_round": args.requests,
              "rounds": args.rounds, "threads_per_server": 1, "median_of_rounds": summary, "rounds_detail": runs,
              "speedup_req_per_s": summary["batching_on"]["req_per_s"] / summary["batching_off"]["req_per_s"]}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
