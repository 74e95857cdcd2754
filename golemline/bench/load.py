"""Bounded load test against a `golem serve` on loopback: N requests at concurrency C, every one accounted for.

Usage: python -m golemline.bench.load [--requests 1000] [--concurrency 64] [--time-limit 900] [--report FILE.md]
The mix cycles pipeline (a spoken sample), oracle and interpreter requests. Each answer is counted by status;
a request with no answer (exception or client timeout) is "lost". The server's RSS is sampled throughout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil

from golemline.bench.loopback import Server, audio_b64
from golemline.resources import SPOKEN, sample

CLEAN = tuple(SPOKEN)


def request_for(i: int) -> tuple[str, dict[str, Any]]:
    """One in ten is a whole spoken pipeline request, two are replies, seven are intents."""
    slot = i % 10
    if slot == 0:
        return "pipeline", {"instances": [{"audio": audio_b64(sample(CLEAN[i // 10 % 5]))}]}
    if slot in (1, 2):
        return "oracle", {"instances": [{"text": SPOKEN["weather"], "intent": "weather"}]}
    return "interpreter", {"instances": [{"text": f"please play song number {i}"}]}


def run_load(url: str, pid: int, requests: int, concurrency: int, time_limit_s: float,
             request_timeout_s: float = 120) -> dict[str, Any]:
    stop_at = time.monotonic() + time_limit_s
    statuses: Counter[str] = Counter()
    latencies: dict[str, list[float]] = {"pipeline": [], "oracle": [], "interpreter": []}
    lock = threading.Lock()
    rss: list[int] = []
    done = threading.Event()
    process = psutil.Process(pid)

    def sample() -> None:
        while not done.is_set():
            rss.append(process.memory_info().rss)
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with httpx.Client(timeout=request_timeout_s, limits=httpx.Limits(max_connections=concurrency)) as client:
        def one(i: int) -> None:
            if time.monotonic() > stop_at:
                with lock:
                    statuses["not sent (time limit)"] += 1
                return
            model, body = request_for(i)
            started = time.perf_counter()
            try:
                response = client.post(f"{url}/v1/models/{model}:predict", json=body)
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                key = f"lost ({type(exc).__name__})"
            with lock:
                statuses[key] += 1
                if key == "200":
                    latencies[model].append(time.perf_counter() - started)

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(requests)))
        wall = time.perf_counter() - started
    done.set()
    sampler.join()

    def pct(values: list[float], q: float) -> float | None:
        return round(sorted(values)[int(q * (len(values) - 1))], 3) if values else None

    return {
        "requests": requests, "concurrency": concurrency, "wall_s": round(wall, 1),
        "statuses": dict(statuses), "answered": sum(v for k, v in statuses.items() if k.isdigit()),
        "lost": sum(v for k, v in statuses.items() if k.startswith("lost")),
        "latency_s": {m: {"n": len(v), "p50": pct(v, 0.5), "p95": pct(v, 0.95), "p99": pct(v, 0.99),
                          "max": round(max(v), 3) if v else None} for m, v in latencies.items()},
        "rss_mib": {"start": rss[0] // 2**20, "max": max(rss) // 2**20, "end": rss[-1] // 2**20,
                    "median": int(statistics.median(rss)) // 2**20},
    }


def markdown(report: dict[str, Any]) -> str:
    lat = report["latency_s"]
    lines = [
        "# Reliability: load test", "",
        f"`python -m golemline.bench.load --requests {report['requests']} --concurrency {report['concurrency']}` "
        "against `golem serve` (monolith, offline profile, CPU, defaults: max batch 8, queue 64) on loopback, "
        "on the project's 2-core machine. Mix: 10% pipeline (a spoken sample), 20% oracle, 70% interpreter.", "",
        f"- answered: **{report['answered']}/{report['requests']}**, lost or hung: **{report['lost']}**, "
        f"wall time {report['wall_s']} s",
        "- answers by HTTP status: " + ", ".join(f"{k}: {v}" for k, v in sorted(report["statuses"].items())),
        f"- server RSS (MiB): start {report['rss_mib']['start']}, median {report['rss_mib']['median']}, "
        f"max {report['rss_mib']['max']}, end {report['rss_mib']['end']}", "",
        "| model | answered (200) | p50 s | p95 s | p99 s | max s |", "| --- | --- | --- | --- | --- | --- |",
        *[f"| {m} | {v['n']} | {v['p50']} | {v['p95']} | {v['p99']} | {v['max']} |" for m, v in lat.items()], "",
        "Each request is answered with a result or an explicit 429 (queue full) / 503 (not ready); none may be "
        "lost. `tests/test_load.py` runs the same generator (200 requests) in CI.", "",
        "```json", json.dumps(report, indent=2), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m golemline.bench.load", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--time-limit", type=float, default=900, help="stop sending after this many seconds")
    parser.add_argument("--report", type=Path, help="write a Markdown report here")
    args = parser.parse_args(argv)
    server = Server().wait_ready()
    try:
        report = run_load(server.url, server.process.pid, args.requests, args.concurrency, args.time_limit)
    finally:
        server.stop()
    if args.report:
        args.report.write_text(markdown(report))
    print(json.dumps(report, indent=2))
    return 0 if report["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
