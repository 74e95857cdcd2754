"""Summon and banish: which golems are loaded when, under a memory budget.

Two parts with one job each:

- `MemoryLedger` knows what each golem costs: a pre-load estimate from its weight files until it has been loaded
  once, then what it really held (kept per model, backend, dtype and device). It records loads, unloads and the
  peak, and every time a plan turned out wrong.
- A `Policy` decides what to load and banish around each use:
  ``resident`` loads every golem once and keeps it (fastest; needs room for all);
  ``sequential`` loads → runs → unloads one golem at a time, prefetching the next golem's weight files into host
  memory on a background thread; ``lru`` keeps golems while they fit the budget and banishes the least recently
  used to make room.

The budget is enforced on the ledger's sizes, and re-planned after every load with the measured size: if a golem
turned out bigger than planned, the others are banished at once, and the report says so. A budget that cannot
hold a golem fails before any work, naming the golem and its size. Process RSS (CPU) and the CUDA allocator's peak
are reported next to the accounted figure, not used for enforcement: allocators keep freed memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from golemline.errors import BudgetError, ConfigError
from golemline.memory import cuda_allocated, max_rss_bytes, rss_bytes
from golemline.settings import format_size


class ManagedGolem(Protocol):
    """What the lifecycle needs from a golem (real golems and the tests' fakes both fit)."""

    name: str

    @property
    def loaded(self) -> bool: ...

    @property
    def footprint_key(self) -> str: ...

    def estimated_bytes(self) -> int: ...

    def memory_bytes(self) -> int: ...

    def load(self) -> None: ...

    def unload(self) -> None: ...

    def prefetch(self) -> None: ...

    def run(self, batch: list[Any]) -> list[Any]: ...

    last_load_seconds: float
    last_unload_seconds: float


def _out_of_memory_errors() -> tuple[type[BaseException], ...]:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency; the fakes in the tests do not need it
        return (MemoryError,)
    return (MemoryError, torch.OutOfMemoryError)


class MemoryLedger:
    """Sizes (measured beats estimated), what is loaded now, the peak, and the event log."""

    def __init__(self) -> None:
        self.measured: dict[str, int] = {}
        self.peak_bytes = 0
        self.peak_rss_bytes = rss_bytes()
        self.events: list[dict[str, Any]] = []
        self.warnings: list[str] = []

    def size(self, golem: ManagedGolem) -> int:
        """What the golem will hold once loaded: its measured size if it was loaded before, else the estimate."""
        return self.measured.get(golem.footprint_key) or golem.estimated_bytes()

    def is_measured(self, golem: ManagedGolem) -> bool:
        return golem.footprint_key in self.measured

    def record(self, event: str, golem: ManagedGolem, seconds: float, loaded_bytes: int) -> None:
        if event == "load":
            self.measured[golem.footprint_key] = golem.memory_bytes()
        self.peak_bytes = max(self.peak_bytes, loaded_bytes)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss_bytes())
        self.events.append({"event": event, "golem": golem.name, "seconds": round(seconds, 4),
                            "loaded_bytes": loaded_bytes})

    def count(self, event: str) -> int:
        return sum(e["event"] == event for e in self.events)

    def seconds(self, event: str) -> float:
        return round(sum(e["seconds"] for e in self.events if e["event"] == event), 4)


class Policy:
    """When to load and banish. Subclasses override the hooks they need."""

    name = ""

    def start(self, manager: LifecycleManager) -> None:
        """Called once before the first request."""

    def before_use(self, manager: LifecycleManager, name: str) -> None:
        """Called with the lock held, before `name` is loaded for a batch."""

    def after_use(self, manager: LifecycleManager, name: str, next_name: str | None) -> None:
        """Called with the lock held, after the batch (successful or not)."""

    def while_running(self, manager: LifecycleManager, name: str, next_name: str | None) -> None:
        """Called with the lock held, after `name` is loaded and before the batch runs."""


class Resident(Policy):
    name = "resident"

    def start(self, manager: LifecycleManager) -> None:
        for golem in manager.golems:
            manager.load(golem)


class Sequential(Policy):
    name = "sequential"

    def before_use(self, manager: LifecycleManager, name: str) -> None:
        manager.make_room(name)

    def while_running(self, manager: LifecycleManager, name: str, next_name: str | None) -> None:
        if manager.prefetch:
            manager.prefetch_async(next_name)

    def after_use(self, manager: LifecycleManager, name: str, next_name: str | None) -> None:
        manager.unload(name)


class LeastRecentlyUsed(Policy):
    name = "lru"

    def before_use(self, manager: LifecycleManager, name: str) -> None:
        manager.make_room(name)


POLICY_CLASSES: dict[str, type[Policy]] = {p.name: p for p in (Resident, Sequential, LeastRecentlyUsed)}
_OUT_OF_MEMORY = _out_of_memory_errors()


class LifecycleManager:
    """Loads and unloads golems as its policy says, within the budget, and reports memory and timings."""

    def __init__(self, golems: Mapping[str, ManagedGolem], policy: str, budget_bytes: int | None,
                 device: str, on_event: Callable[[str, ManagedGolem, float], None] | None = None,
                 prefetch: bool = True) -> None:
        if policy not in POLICY_CLASSES:
            raise ConfigError(f"unknown lifecycle policy {policy!r}: choose one of {', '.join(POLICY_CLASSES)}")
        self.golems = dict(golems)
        self.policy = POLICY_CLASSES[policy]()
        self.budget_bytes = budget_bytes
        self.device = device
        self.ledger = MemoryLedger()
        self.on_event = on_event  # (event, golem, seconds): the server turns these into metrics
        self.prefetch = prefetch
        self._recent: OrderedDict[str, None] = OrderedDict()  # loaded golems, least recently used first
        self._lock = threading.RLock()
        self._prefetch: threading.Thread | None = None

    # -- budget ------------------------------------------------------------------------------------------
    def sizes(self) -> dict[str, int]:
        return {name: self.ledger.size(golem) for name, golem in self.golems.items()}

    def _describe(self, name: str) -> str:
        golem = self.golems[name]
        how = "measured" if self.ledger.is_measured(golem) else "estimated before loading"
        return f"{name} ({format_size(self.ledger.size(golem))}, {how})"

    def check_budget(self) -> None:
        """Fail before any work when the budget cannot hold what the policy needs, naming each golem that
        does not fit and its size."""
        if self.budget_bytes is None or not self.golems:
            return
        sizes = self.sizes()
        budget = format_size(self.budget_bytes)
        too_big = [name for name, size in sizes.items() if size > self.budget_bytes]
        if too_big:
            need = format_size(max(sizes[name] for name in too_big), round_up=True)
            raise BudgetError(f"memory budget {budget} cannot hold golem "
                              f"{', '.join(self._describe(n) for n in too_big)}; raise --budget to at least {need}")
        if self.policy.name == "resident" and self.budget_bytes < sum(sizes.values()):
            raise BudgetError(f"memory budget {budget} cannot keep all golems resident "
                              f"({format_size(sum(sizes.values()))}); use --policy lru or sequential")

    def loaded_bytes(self) -> int:
        return sum(g.memory_bytes() for g in self.golems.values() if g.loaded)

    def make_room(self, name: str) -> None:
        """Banish least recently used golems until `name` fits beside what stays."""
        if self.budget_bytes is None:
            return
        need = self.ledger.size(self.golems[name])
        while self.loaded_bytes() + need > self.budget_bytes:
            victims = [n for n in self._recent if n != name]
            if not victims:
                raise BudgetError(f"memory budget {format_size(self.budget_bytes)} cannot hold golem "
                                  f"{self._describe(name)}; raise --budget")
            self.unload(victims[0])

    # -- loading -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Check the budget; the resident policy summons everything now."""
        self.check_budget()
        with self._lock:
            self.policy.start(self)

    def load(self, name: str) -> float:
        golem = self.golems[name]
        if golem.loaded:
            self._recent.setdefault(name, None)  # loaded outside the manager: adopt it into the LRU order
            return 0.0
        planned = self.ledger.size(golem)
        golem.load()
        self._recent[name] = None
        self.ledger.record("load", golem, golem.last_load_seconds, self.loaded_bytes())
        if self.on_event is not None:
            self.on_event("load", golem, golem.last_load_seconds)
        self._replan(name, planned)
        return golem.last_load_seconds

    def _replan(self, name: str, planned: int) -> None:
        """After a load: if the golem holds more than planned and the budget is now exceeded, banish the others at
        once (and say so); if it cannot fit even alone, banish it too and fail naming its measured size."""
        measured = self.golems[name].memory_bytes()
        if self.budget_bytes is None or self.loaded_bytes() <= self.budget_bytes:
            return
        self.ledger.warnings.append(
            f"{name} holds {format_size(measured)}, more than the {format_size(planned)} planned before loading: "
            f"the golems held {format_size(self.loaded_bytes())} for a moment, over the "
            f"{format_size(self.budget_bytes)} budget; the measured size is used from now on")
        for victim in [n for n in self._recent if n != name]:
            if self.loaded_bytes() <= self.budget_bytes:
                break
            self.unload(victim)
        if self.loaded_bytes() > self.budget_bytes:
            self.unload(name)
            raise BudgetError(f"memory budget {format_size(self.budget_bytes)} cannot hold golem {name}: it measured "
                              f"{format_size(measured)} once loaded; raise --budget to at least "
                              f"{format_size(measured, round_up=True)}")

    def unload(self, name: str) -> None:
        golem = self.golems[name]
        if not golem.loaded:
            return
        golem.unload()
        self._recent.pop(name, None)
        self.ledger.record("unload", golem, golem.last_unload_seconds, self.loaded_bytes())
        if self.on_event is not None:
            self.on_event("unload", golem, golem.last_unload_seconds)

    def prefetch_async(self, name: str | None) -> None:
        if name is None or self.golems[name].loaded:
            return
        self._prefetch = threading.Thread(target=self.golems[name].prefetch, name=f"prefetch-{name}",
                                          daemon=True)
        self._prefetch.start()

    @contextmanager
    def use(self, name: str, next_name: str | None = None) -> Iterator[tuple[ManagedGolem, float]]:
        """Yield (loaded golem, seconds spent loading it now); the policy decides what happens around it."""
        with self._lock:
            if self._prefetch is not None:
                self._prefetch.join()
                self._prefetch = None
            self.policy.before_use(self, name)
            load_seconds = self.load(name)
            self._recent.move_to_end(name)
            self.policy.while_running(self, name, next_name)
            try:
                yield self.golems[name], load_seconds
            finally:
                self.ledger.peak_rss_bytes = max(self.ledger.peak_rss_bytes, rss_bytes())
                self.policy.after_use(self, name, next_name)

    def run(self, name: str, batch: list[Any], next_name: str | None = None) -> list[Any]:
        """Run a batch on a golem under the policy. Out of device memory: banish every other golem, empty the
        cache and retry once; if it still does not fit, a BudgetError (503) says what to change."""
        try:
            with self.use(name, next_name=next_name) as (golem, _):
                return golem.run(batch)
        except _OUT_OF_MEMORY as first:
            with self._lock:
                for other in [n for n in self._recent if n != name]:
                    self.unload(other)
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
            self.unload(name)

    # -- reporting ---------------------------------------------------------------------------------------
    @property
    def peak_bytes(self) -> int:
        return self.ledger.peak_bytes

    def report(self) -> dict[str, Any]:
        ledger = self.ledger
        report: dict[str, Any] = {
            "policy": self.policy.name,
            "device": self.device,
            "budget_bytes": self.budget_bytes,
            "peak_golem_bytes": ledger.peak_bytes,
            "loaded_bytes": self.loaded_bytes(),
            "golem_bytes": self.sizes(),
            "loads": ledger.count("load"),
            "unloads": ledger.count("unload"),
            "load_seconds": ledger.seconds("load"),
            "unload_seconds": ledger.seconds("unload"),
            "rss_bytes": rss_bytes(),
            "peak_rss_bytes": max(ledger.peak_rss_bytes, rss_bytes()),
            "process_max_rss_bytes": max_rss_bytes(),
            "budget_warnings": list(ledger.warnings),
        }
        if self.device == "cuda":
            report["cuda_allocated_bytes"], report["cuda_peak_allocated_bytes"] = cuda_allocated()
        return report
