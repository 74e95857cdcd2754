"""Test doubles at the golem seam: fake golems for the lifecycle and fake stage callers for the chain, so the logic
tests run in milliseconds and the real-model tests stay few."""

from __future__ import annotations

from typing import Any


class FakeGolem:
    """Fits `golemline.lifecycle.ManagedGolem`. `estimate` is what it claims before loading, `holds` what it really
    holds once loaded (they differ when an estimate is wrong); `run` echoes its batch."""

    def __init__(self, name: str, estimate: int, holds: int | None = None, log: list[str] | None = None) -> None:
        self.name = name
        self.estimate = estimate
        self.holds = estimate if holds is None else holds
        self.loaded = False
        self.weightless = False
        self.footprint_key = f"fake:{name}"
        self.last_load_seconds = 0.0
        self.last_unload_seconds = 0.0
        self.log = log if log is not None else []

    def estimated_bytes(self) -> int:
        return self.estimate

    def memory_bytes(self) -> int:
        return self.holds if self.loaded else 0

    def load(self) -> None:
        self.loaded = True
        self.log.append(f"load {self.name}")

    def unload(self) -> None:
        self.loaded = False
        self.log.append(f"unload {self.name}")

    def prefetch(self) -> None:
        self.log.append(f"prefetch {self.name}")

    def warm_up_batch(self) -> list[Any]:
        return ["warm-up"]

    def run(self, batch: list[Any]) -> list[Any]:
        assert self.loaded, f"{self.name} ran while not loaded"
        self.log.append(f"run {self.name} x{len(batch)}")
        return [f"{self.name}({item})" for item in batch]
