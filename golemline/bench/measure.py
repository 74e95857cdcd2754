"""What every `golem bench` section shares: the spoken samples, run configurations alternately, summarise times."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from golemline.audio import Audio, decode
from golemline.resources import SPOKEN
from golemline.resources import sample as sample_path


def spoken_samples() -> list[tuple[str, Audio]]:
    return [(name, decode(sample_path(name).read_bytes())) for name in SPOKEN]


def timing_stats(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"n": len(ordered), "p50_s": round(statistics.median(ordered), 4),
            "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 4), "mean_s": round(statistics.fmean(ordered), 4)}


def interleave(configs: dict[str, Callable[[tuple[str, Audio]], Any]], rounds: int) -> dict[str, list[float]]:
    """Run every config on every sample, round after round, alternating configs (drift hits all alike)."""
    times: dict[str, list[float]] = {name: [] for name in configs}
    samples = spoken_samples()
    for _ in range(rounds):
        for sample in samples:
            for name, run in configs.items():
                started = time.perf_counter()
                run(sample)
                times[name].append(time.perf_counter() - started)
    return times
