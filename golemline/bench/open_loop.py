"""Open-loop load at a fixed mean rate (Poisson arrivals): how users arrive, unlike a closed loop of N clients that
slows down when the server does. `golem bench --sections plan` compares its measured p95 with `golem plan`'s."""

from __future__ import annotations

import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx


def poisson_load(url: str, model: str, bodies: list[dict[str, Any]], rate: float, requests: int,
                 seed: int = 0, timeout_s: float = 120) -> dict[str, Any]:
    """Send `requests` requests (cycling `bodies`) at exponential gaps of mean 1/rate, each on its own worker, and
    time each from its scheduled send. Returns latency percentiles, every status seen and each answered
    request's seconds by its index (to split a mixed workload by class)."""
    rng = random.Random(seed)
    gaps = [rng.expovariate(rate) for _ in range(requests)]
    latencies: list[float] = []
    by_index: dict[int, float] = {}
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    with httpx.Client(timeout=timeout_s, limits=httpx.Limits(max_connections=64)) as client, \
            ThreadPoolExecutor(64) as pool:
        def one(i: int, scheduled: float) -> None:
            wait = scheduled - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            try:
                status = str(client.post(f"{url}/v1/models/{model}:predict", json=bodies[i % len(bodies)]).status_code)
            except httpx.HTTPError as exc:
                status = f"lost ({type(exc).__name__})"
            elapsed = time.perf_counter() - scheduled
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == "200":
                    latencies.append(elapsed)
                    by_index[i] = elapsed

        start = time.perf_counter() + 0.1
        offsets = [start + sum(gaps[:i + 1]) for i in range(requests)]
        list(pool.map(one, range(requests), offsets))
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4) if ordered else float("nan")

    return {"rate": rate, "requests": requests, "statuses": statuses, "p50_s": pct(0.5), "p95_s": pct(0.95),
            "mean_s": round(statistics.fmean(ordered), 4) if ordered else None,
            "offered_s": round(offsets[-1] - start, 1), "by_index": by_index}
