"""The whole pipeline against a baseline checkout, and `golem plan`'s prediction against a measured load."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from golemline.bench.measure import timing_stats
from golemline.bench.sections.golems import (
    bench_golems,
)
from golemline.resources import SPOKEN
from golemline.resources import sample as sample_path
from golemline.settings import Settings


# -- the whole pipeline against a baseline checkout ----------------------------------------------------------------
def bench_pipeline(baseline: Path | None = None, commands: int = 15, requests: int = 64, rounds: int = 2
                   ) -> dict[str, Any]:
    """A monolith server from this code and one from `baseline` (a checkout of the code to compare with, e.g.
    `git worktree add /tmp/base main`), side by side: pipeline p50/p95 at concurrency 1 over `commands` short
    spoken commands, alternating request by request; req/s at concurrency 16, alternating rounds."""
    from golemline.bench.batching import _round
    from golemline.bench.loopback import Server, audio_b64, v1
    from golemline.errors import ConfigError

    if baseline is None or not (baseline / "golemline" / "cli.py").is_file():
        raise ConfigError("the pipeline section needs --baseline PATH: a checkout of the code to compare with "
                          "(e.g. git worktree add /tmp/base <commit>)")
    servers = {"baseline": Server(source=baseline.resolve()), "current": Server()}
    clips = [{"audio": audio_b64(sample_path(name))} for name in SPOKEN]
    times: dict[str, list[float]] = {name: [] for name in servers}
    throughput: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for server in servers.values():
            server.wait_ready()
            _round(server.url, "pipeline", 4, 8)  # warm-up
        for i in range(commands):
            for name, server in servers.items():
                started = time.perf_counter()
                assert v1(server.url, "pipeline", [clips[i % len(clips)]]).status_code == 200
                times[name].append(time.perf_counter() - started)
        for _ in range(rounds):
            for name, server in servers.items():
                throughput[name].append(_round(server.url, "pipeline", 16, requests)["req_per_s"])
    finally:
        for server in servers.values():
            server.stop()
    result: dict[str, Any] = {"baseline_source": str(baseline)}
    for name in servers:
        result[name] = {**timing_stats(times[name]), "req_per_s_c16": round(statistics.median(throughput[name]), 2)}
    result["ratios"] = {
        "speedup_p50_c1": round(result["baseline"]["p50_s"] / result["current"]["p50_s"], 2),
        "speedup_p95_c1": round(result["baseline"]["p95_s"] / result["current"]["p95_s"], 2),
        "req_per_s_c16": round(result["current"]["req_per_s_c16"] / result["baseline"]["req_per_s_c16"], 2)}
    return result


# -- the planner's prediction against a measured load ---------------------------------------------------------------
def bench_plan(rates: tuple[float, ...] = (0.5, 1.0, 2.0), requests: int = 60) -> dict[str, Any]:
    """Measure each golem alone (the planner's input), then a monolith `golem serve` on loopback under Poisson
    arrivals at each rate; the planner predicts the p95 for one pod on this machine from the first measurement.
    Interleaving does not apply: the prediction has to come first, from its own inputs."""
    from golemline.bench.loopback import Server, audio_b64
    from golemline.bench.open_loop import poisson_load
    from golemline.plan.layouts import Objective, monolith_estimate
    from golemline.plan.prices import Device
    from golemline.plan.profiles import golem_profiles

    measured = bench_golems()
    profiles = golem_profiles(measured)
    here = Device("this machine", "cpu", 1 << 40, 0.0)
    defaults = Settings().server
    server = Server()
    bodies = [{"instances": [{"audio": audio_b64(sample_path(name))}]} for name in SPOKEN]
    result: dict[str, Any] = {"golems": measured, "runs": []}
    try:
        server.wait_ready()
        poisson_load(server.url, "pipeline", bodies, rate=2.0, requests=5)  # warm-up
        for rate in rates:
            objective = Objective(rate, 1.0, defaults.max_batch_size, defaults.max_latency_ms / 1000)
            stations, predicted = monolith_estimate(profiles, here, 1, objective)
            load = poisson_load(server.url, "pipeline", bodies, rate=rate, requests=requests)
            load.pop("by_index")
            result["runs"].append({
                "rate": rate, "predicted_p95_s": round(predicted, 4), "measured_p95_s": load["p95_s"],
                "measured_p50_s": load["p50_s"], "statuses": load["statuses"],
                "error": round(predicted / load["p95_s"] - 1, 3),
                "utilisation": {name: round(s.utilisation, 3) for name, s in stations.items()}})
    finally:
        server.stop()
    return result
