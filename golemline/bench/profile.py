"""`golem profile --golem interpreter|oracle`: torch.profiler around unbatched and batched requests.

Prints the top operators, the share of wall time spent outside operator kernels (Python, dispatch and, on CUDA,
kernel launches such as cudaLaunchKernel), writes a Chrome trace, and suggests the batch size where that overhead
stops dominating. CTranslate2 runs outside torch, so the profiler cannot see inside it: the Scribe cannot be profiled,
and a golem configured on a CTranslate2 backend is profiled on its torch backend (`TORCH_BACKENDS`), the one whose
time outside kernels motivated CTranslate2 (docs/performance.md compares the two side by side).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from golemline.domain import IntentRequest, ReplyRequest
from golemline.predictors.interpreter import Interpreter
from golemline.predictors.oracle import Oracle
from golemline.resources import SPOKEN
from golemline.settings import Settings

TORCH_BACKENDS = {"interpreter": ("embedding", "nli"), "oracle": ("causal-lm",)}  # the first is the fallback

TEXTS = list(SPOKEN.values())


def _requests(golem: str, n: int) -> list[Any]:
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    if golem == "interpreter":
        return [IntentRequest.create(t) for t in texts]
    return [ReplyRequest.create(t, "weather") for t in texts]


def per_item_seconds(model: Any, golem: str, batch: int, repeats: int = 3) -> float:
    requests = _requests(golem, batch)
    model.run(requests)  # warm
    started = time.perf_counter()
    for _ in range(repeats):
        model.run(requests)
    return (time.perf_counter() - started) / (repeats * batch)


PROFILER_CHATTER = re.compile(r"^(USDT:|STAGE:|\[W[^\]]*(kineto|profiler)|.*ActivityProfiler)", re.IGNORECASE)
"""Lines Kineto (torch.profiler's native part) writes straight to file descriptor 2 when a profile starts and
stops (`USDT:... profiler_start`): they say nothing to the user, and Python's logging cannot silence them."""


@contextmanager
def without_profiler_chatter() -> Iterator[None]:
    """Capture native stderr around a profile; write back every line that is not the profiler's own."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not PROFILER_CHATTER.match(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def profile(golem: str, settings: Settings, trace: Path, batch: int = 16) -> dict[str, Any]:
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    if golem not in ("interpreter", "oracle"):
        raise SystemExit(f"{golem}: only torch golems can be profiled (the Scribe's CTranslate2 runs outside torch)")
    if settings.golems[golem].backend not in TORCH_BACKENDS[golem]:
        torch_backend: dict[str, Any] = {f"{golem}_backend": TORCH_BACKENDS[golem][0]}
        settings = settings.with_overrides(**torch_backend)
    model: Interpreter | Oracle = Interpreter(settings) if golem == "interpreter" else Oracle(settings)
    model.load()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    report: dict[str, Any] = {"golem": golem, "backend": settings.golems[golem].backend,
                              "device": settings.resolved_device}
    for label, size in (("unbatched", 1), ("batched", batch)):
        requests = _requests(golem, size)
        model.run(requests)
        with without_profiler_chatter(), torch_profile(activities=activities) as prof:
            started = time.perf_counter()
            for _ in range(3):
                model.run(requests)
            wall = time.perf_counter() - started
        events = prof.key_averages()
        kernel_us = sum(e.self_device_time_total for e in events) if torch.cuda.is_available() else sum(
            e.self_cpu_time_total for e in events if e.key.startswith("aten::") and e.key not in (
                "aten::empty", "aten::to", "aten::_to_copy", "aten::copy_", "aten::view", "aten::reshape"))
        launch_us = sum(e.self_cpu_time_total for e in events if "Launch" in e.key or e.key.startswith("cuda"))
        top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:8]
        report[label] = {
            "batch": size, "wall_ms": round(wall * 1000, 1), "per_item_ms": round(wall * 1000 / (3 * size), 2),
            "compute_share": round(min(1.0, kernel_us / 1e6 / wall), 3),
            "launch_ms": round(launch_us / 1000, 1),
            "top": [{"op": e.key, "self_ms": round(e.self_cpu_time_total / 1000, 2), "calls": e.count} for e in top],
        }
        if label == "batched":
            trace.parent.mkdir(parents=True, exist_ok=True)
            prof.export_chrome_trace(str(trace))
    sizes = [1, 2, 4, 8, 16, 32]
    per_item = {b: per_item_seconds(model, golem, b) for b in sizes}
    best = min(per_item.values())
    suggested = next(b for b in sizes if per_item[b] <= 1.15 * best)
    report["per_item_ms_by_batch"] = {b: round(v * 1000, 2) for b, v in per_item.items()}
    report["suggested_batch_size"] = suggested
    report["trace"] = str(trace)
    model.unload()
    return report


def print_report(report: dict[str, Any]) -> None:
    for label in ("unbatched", "batched"):
        part = report[label]
        print(f"{report['golem']} {label} (batch {part['batch']}): {part['per_item_ms']} ms per item, "
              f"compute share {part['compute_share']:.0%}, launch {part['launch_ms']} ms")
        for op in part["top"]:
            print(f"    {op['op']:<40} {op['self_ms']:>9.2f} ms  ×{op['calls']}")
    print("per-item ms by batch size:", report["per_item_ms_by_batch"])
    print(f"suggested --max-batch-size: {report['suggested_batch_size']} (per-item cost within 15% of the best)")
    print(f"Chrome trace: {report['trace']}")
