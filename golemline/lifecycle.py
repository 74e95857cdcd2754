"""Summon and banish: which golems are loaded when, under a memory budget.

Policies:
- ``resident`` — load every golem once and keep it: fastest, needs room for all of them.
- ``sequential`` — load → run → unload, one golem at a time; while one runs, the next golem's weight files
  are prefetched into host memory on a background thread so its load is not disk-bound.
- ``lru`` — keep golems loaded while they fit the budget; to make room, banish the least recently used.

The budget is enforced on the golems' measured footprint: bytes of parameters and buffers on the device
(weight-file bytes before a golem's first load). On CUDA the manager also reports the allocator's peak; on CPU,
process RSS — both as measurements next to the accounted figure, not as the enforcement input, because
allocators keep freed memory and RSS does not fall when a model is deleted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from golemline.errors import BudgetError
from golemline.memory import cuda_allocated, max_rss_bytes, rss_bytes
from golemline.predictors.base import Golem
from golemline.settings import format_size


def _out_of_memory_errors() -> tuple[type[BaseException], ...]:
    import torch

    return (MemoryError, torch.OutOfMemoryError)


_OUT_OF_MEMORY = _out_of_memory_errors()


class LifecycleManager:
    """Loads and unloads golems according to a policy; reports memory and load/unload timings."""

    def __init__(self, golems: Mapping[str, Golem[Any, Any]], policy: str, budget_bytes: int | None,
                 device: str, on_event: Callable[[str, Golem[Any, Any], float], None] | None = None,
                 prefetch: bool = True) -> None:
        self.golems = dict(golems)
        self.policy = policy
        self.budget_bytes = budget_bytes
        self.device = device
        self._recent: OrderedDict[str, None] = OrderedDict()  # loaded golems, least recently used first
        self._lock = threading.RLock()
        self._prefetch: threading.Thread | None = None
        self.peak_bytes = 0
        self.peak_rss_bytes = rss_bytes()
        self.events: list[dict[str, Any]] = []
        self.on_event = on_event  # (event, golem, seconds): the server turns these into metrics
        self.prefetch = prefetch

    # -- budget ------------------------------------------------------------------------------------------
    def estimates(self) -> dict[str, int]:
        return {name: golem.estimated_bytes() for name, golem in self.golems.items()}

    def check_budget(self) -> None:
        """Fail before any work when the budget cannot hold what the policy needs."""
        if self.budget_bytes is None:
            return
        sizes = self.estimates()
        smallest = min(sizes, key=lambda n: sizes[n])
        largest = max(sizes, key=lambda n: sizes[n])
        budget = format_size(self.budget_bytes)
        if self.budget_bytes < sizes[smallest]:
            raise BudgetError(f"memory budget {budget} is smaller than the smallest golem ({smallest}: "
                              f"{format_size(sizes[smallest])}); raise --budget")
        if self.budget_bytes < sizes[largest]:
            raise BudgetError(f"memory budget {budget} cannot hold golem {largest} "
                              f"({format_size(sizes[largest])}); raise --budget to at least that")
        if self.policy == "resident" and self.budget_bytes < sum(sizes.values()):
            raise BudgetError(f"memory budget {budget} cannot keep all golems resident "
                              f"({format_size(sum(sizes.values()))}); use --policy lru or sequential")

    def loaded_bytes(self) -> int:
        return sum(g.memory_bytes() for g in self.golems.values() if g.loaded)

    # -- loading -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Check the budget; the resident policy summons everything now."""
        self.check_budget()
        if self.policy == "resident":
            for name in self.golems:
                self._load(name)

    def _load(self, name: str) -> float:
        golem = self.golems[name]
        if golem.loaded:
            self._recent.setdefault(name, None)  # loaded outside the manager: adopt it into the LRU order
            return 0.0
        golem.load()
        self._recent[name] = None
        self._record("load", name, golem.last_load_seconds)
        return golem.last_load_seconds

    def _unload(self, name: str) -> None:
        golem = self.golems[name]
        if not golem.loaded:
            return
        golem.unload()
        self._recent.pop(name, None)
        self._record("unload", name, golem.last_unload_seconds)

    def _make_room(self, name: str) -> None:
        if self.budget_bytes is None:
            return
        need = self.golems[name].estimated_bytes()
        while self.loaded_bytes() + need > self.budget_bytes:
            victims = [n for n in self._recent if n != name]
            if not victims:
                raise BudgetError(f"golem {name} needs {format_size(need)} but the budget is "
                                  f"{format_size(self.budget_bytes)}")
            self._unload(victims[0])

    def _record(self, event: str, name: str, seconds: float) -> None:
        current = self.loaded_bytes()
        self.peak_bytes = max(self.peak_bytes, current)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss_bytes())
        self.events.append({"event": event, "golem": name, "seconds": round(seconds, 4),
                            "loaded_bytes": current})
        if self.on_event is not None:
            self.on_event(event, self.golems[name], seconds)

    def _prefetch_async(self, name: str | None) -> None:
        if name is None or self.golems[name].loaded:
            return
        self._prefetch = threading.Thread(target=self.golems[name].prefetch, name=f"prefetch-{name}",
                                          daemon=True)
        self._prefetch.start()

    @contextmanager
    def use(self, name: str, next_name: str | None = None) -> Iterator[tuple[Golem[Any, Any], float]]:
        """Yield (loaded golem, seconds spent loading it now). Sequential banishes it afterwards."""
        with self._lock:
            if self._prefetch is not None:
                self._prefetch.join()
                self._prefetch = None
            if self.policy != "resident":
                self._make_room(name)
            load_seconds = self._load(name)
            self._recent.move_to_end(name)
            if self.policy == "sequential" and self.prefetch:
                self._prefetch_async(next_name)
            try:
                yield self.golems[name], load_seconds
            finally:
                self.peak_rss_bytes = max(self.peak_rss_bytes, rss_bytes())
                if self.policy == "sequential":
                    self._unload(name)

    def run(self, name: str, batch: list[Any], next_name: str | None = None) -> list[Any]:
        """Run a batch on a golem under the policy. Out of device memory: banish every other golem, empty the
        cache and retry once; if it still does not fit, a BudgetError (503) says what to change."""
        try:
            with self.use(name, next_name=next_name) as (golem, _):
                return golem.run(batch)
        except _OUT_OF_MEMORY as first:
            with self._lock:
                for other in [n for n in self._recent if n != name]:
                    self._unload(other)
            if self.device == "cuda":
                import torch

                torch.cuda.empty_cache()
            try:
                with self.use(name, next_name=next_name) as (golem, _):
                    return golem.run(batch)
            except _OUT_OF_MEMORY as second:
                raise BudgetError(f"golem {name} ran out of memory on {self.device} for a batch of {len(batch)} "
                                  f"even alone on the device ({second}); lower --max-batch-size or use a lighter "
                                  "--dtype") from first

    def shutdown(self) -> None:
        if self._prefetch is not None:
            self._prefetch.join()
        for name in list(self._recent):
            self._unload(name)

    # -- reporting ---------------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        loads = [e for e in self.events if e["event"] == "load"]
        unloads = [e for e in self.events if e["event"] == "unload"]
        report: dict[str, Any] = {
            "policy": self.policy,
            "device": self.device,
            "budget_bytes": self.budget_bytes,
            "peak_golem_bytes": self.peak_bytes,
            "loaded_bytes": self.loaded_bytes(),
            "golem_bytes": self.estimates(),
            "loads": len(loads),
            "unloads": len(unloads),
            "load_seconds": round(sum(e["seconds"] for e in loads), 4),
            "unload_seconds": round(sum(e["seconds"] for e in unloads), 4),
            "rss_bytes": rss_bytes(),
            "peak_rss_bytes": max(self.peak_rss_bytes, rss_bytes()),
            "process_max_rss_bytes": max_rss_bytes(),
        }
        if self.device == "cuda":
            report["cuda_allocated_bytes"], report["cuda_peak_allocated_bytes"] = cuda_allocated()
        return report
