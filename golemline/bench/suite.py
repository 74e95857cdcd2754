"""`golem bench`: one workload (the sample set, fixed order), several configurations, measured side by side and
interleaved in one run (the machines are noisy: only ratios from one run are reported).

  batching   micro-batching off vs on (eager dispatch) vs on (10 ms window) at concurrency 1/4/16/32 (three
             servers, interpreter requests)
  backends   the Oracle and the Interpreter on torch vs CTranslate2 at batch 1: ms per token, p50, same answers
  lifecycle  resident vs sequential+prefetch vs sequential without prefetch vs naive reload per request
  baseline   the monolith vs a seed-style chain (load → run → unload each model per request, no batching)
  dtype      fp32 vs int8 (CPU) or fp16 (GPU), with transcript WER and intent agreement next to the speed
  split      split (transformer + three golem servers) vs monolith server: per-hop overhead
  nli        zero-shot NLI: all N label hypotheses in one pass vs one pass per label (distilbart-mnli-12-3's shape)
  transport  one hop to a golem over V2 REST vs V2 gRPC (what split mode pays per hop)
  windows    the Scribe on window buckets (10/20/30 s, VAD trim) vs Whisper's 30 s window: speed, WER and gate
             verdicts side by side on the spoken evaluation set in four voices (espeak-ng, flite)
  long       the gate on the 20 s and 30 s windows: 14 s and 24 s dictations and non-speech through both Scribes
  mixed      length-bucketed vs unbucketed Scribe batching on a 1–25 s workload (p95 of short requests)
  pipeline   the whole pipeline vs a baseline checkout (--baseline), p50/p95 and req/s
  plan       `golem plan`'s predicted p95 against a measured open-loop (Poisson) load on a monolith server
  golems     each golem alone: seconds per batched pass at batch sizes 1..16 and the memory it holds (`golem plan`'s
             input)
  threads    each golem's batched pass at 1, 2, 4, ... threads up to the cores and at twice the cores (CTranslate2's
             intra_threads for the Scribe, torch.set_num_threads for the others)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from golemline.bench.backends import bench_backends
from golemline.bench.sections.golems import bench_golems, bench_nli, bench_threads
from golemline.bench.sections.hops import bench_batching, bench_split, bench_transport
from golemline.bench.sections.lifecycle import bench_baseline, bench_lifecycle
from golemline.bench.sections.precision import bench_dtype
from golemline.bench.sections.scribe_windows import bench_long, bench_mixed, bench_windows
from golemline.bench.sections.whole import bench_pipeline, bench_plan

SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "batching": bench_batching, "lifecycle": bench_lifecycle, "baseline": bench_baseline, "dtype": bench_dtype,
    "split": bench_split, "nli": bench_nli, "transport": bench_transport, "golems": bench_golems,
    "plan": bench_plan, "windows": bench_windows, "long": bench_long, "mixed": bench_mixed,
    "pipeline": bench_pipeline, "threads": bench_threads, "backends": bench_backends}


def run(sections: list[str], out: Path, baseline: Path | None = None) -> dict[str, Any]:
    import platform

    import torch

    load = os.getloadavg()[0]
    machine = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
               "cuda": torch.cuda.is_available(), "load_average_1m": round(load, 2)}
    warning = busy_warning(load, os.cpu_count() or 1)
    if warning:
        print(f"golem: warning: {warning}", file=sys.stderr, flush=True)
    report: dict[str, Any] = {"machine": machine}
    for i, name in enumerate(sections, 1):
        print(f"golem bench: section {name} ({i}/{len(sections)})…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        report[name] = bench_pipeline(baseline) if name == "pipeline" else SECTIONS[name]()
        report[name]["bench_seconds"] = round(time.perf_counter() - started, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")  # keep partial results if a later section fails
        print(f"golem bench: section {name} done in {report[name]['bench_seconds']:g} s → {out}", file=sys.stderr,
              flush=True)
    return report


BUSY_LOAD_PER_CPU = 0.5


def busy_warning(load_average: float, cpus: int) -> str | None:
    """A sentence when other work already keeps the CPUs busy (1-minute load average above half a CPU each):
    timings measured then are slower and noisier, and should not be compared with an idle machine's."""
    if load_average <= BUSY_LOAD_PER_CPU * cpus:
        return None
    return (f"the machine is busy (load average {load_average:.1f} on {cpus} CPUs): timings will be slower and "
            "noisier than on an idle machine; the report records the load")
