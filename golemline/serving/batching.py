"""Dynamic micro-batching: concurrent requests to one golem share one forward pass.

Why: small models are launch-bound (the seeds' `cudaLaunchKernel` lesson) — one pass over 8 inputs costs little
more than one pass over 1. A worker runs a batch on a thread (the event loop stays free) and fans results back. The
queue is bounded: when full, a request is refused at once (429) instead of waiting without limit.

Two ways to form a batch (`dispatch`):
- ``eager`` (the default, as continuous batching does): when the golem is idle, a lone request runs at once; while a
  batch runs, arrivals gather, and they form the next batch as soon as it ends. Why: waiting `max_latency_ms` for
  company made a lone request pay the window while the device sat idle (batching on was slower than off at
  concurrency 1, docs/performance.md); under load the running batch is the window, so batches still fill.
- ``window``: the worker takes the first waiting request and waits up to `max_latency_ms` for more (up to
  `max_batch_size`) before running — the behaviour before eager dispatch, kept for comparison (`golem bench`).

Length-bucketed batching: with a `key` (the Scribe's encoder window), requests with different keys never share a
batch, so a 3 s command never pays for a 25 s one's window; and the smallest key waiting goes first (shortest job
first), so it does not queue behind long ones either. A request that has waited `starvation_s` goes first whatever
its key, so long requests are delayed, never starved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from golemline.errors import Overloaded
from golemline.serving import metrics

DISPATCH = ("eager", "window")


@dataclass
class _Waiting:
    key: float
    item: Any
    future: asyncio.Future[Any]
    since: float


class MicroBatcher:
    """An async queue in front of a synchronous batch function."""

    def __init__(self, name: str, run_batch: Callable[[list[Any]], list[Any]], max_batch_size: int,
                 max_latency_ms: float, max_queue: int, device: str = "cpu",
                 key: Callable[[Any], float] | None = None, starvation_s: float = 2.0,
                 dispatch: str = "eager") -> None:
        if dispatch not in DISPATCH:
            raise ValueError(f"dispatch must be one of {', '.join(DISPATCH)} (got {dispatch!r})")
        self.name = name
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_ms / 1000 if dispatch == "window" else 0.0
        self.dispatch = dispatch
        self.max_queue = max_queue
        self.device = device
        self.key = key
        self.starvation_s = starvation_s
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._pending: list[_Waiting] = []  # arrived, not yet batched, in arrival order
        self._worker: asyncio.Task[None] | None = None
        self.batches: list[int] = []  # sizes of the batches run, for tests and benchmarks
        self.batch_keys: list[float] = []  # the key of each batch run, in order

    def _ensure_worker(self) -> asyncio.Queue[_Waiting]:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._pending = []
            self._worker = asyncio.get_running_loop().create_task(self._work(self._queue), name=f"batch-{self.name}")
        return self._queue

    def _waiting(self) -> int:
        return (self._queue.qsize() if self._queue is not None else 0) + len(self._pending)

    async def submit_many(self, items: list[Any]) -> list[Any]:
        """Queue items (one request's instances) and wait for their results, in order."""
        queue = self._ensure_worker()
        if self._waiting() + len(items) > self.max_queue:
            raise Overloaded(f"{self.name}: {self._waiting()} requests already queued (limit {self.max_queue}); "
                             "retry shortly")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        now = time.monotonic()
        for item, future in zip(items, futures, strict=True):
            queue.put_nowait(_Waiting(self.key(item) if self.key else 0.0, item, future, now))
        metrics.QUEUE_DEPTH.labels(self.name).set(self._waiting())
        return list(await asyncio.gather(*futures))

    def _drain(self, queue: asyncio.Queue[_Waiting]) -> None:
        while not queue.empty():
            self._pending.append(queue.get_nowait())

    def _next_key(self) -> float:
        oldest = self._pending[0]
        if time.monotonic() - oldest.since >= self.starvation_s:
            return oldest.key
        return min(waiting.key for waiting in self._pending)

    async def _collect(self, queue: asyncio.Queue[_Waiting]) -> list[_Waiting]:
        """The next batch: the key's waiting requests, up to `max_batch_size`. Eager dispatch does not wait: what
        gathered while the previous batch ran (or the lone arrival at an idle golem) goes at once."""
        if not self._pending:
            self._pending.append(await queue.get())
        self._drain(queue)
        key = self._next_key()
        deadline = time.monotonic() + self.max_latency_s
        while sum(w.key == key for w in self._pending) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                self._pending.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
            self._drain(queue)
        batch = [w for w in self._pending if w.key == key][: self.max_batch_size]
        taken = {id(w) for w in batch}
        self._pending = [w for w in self._pending if id(w) not in taken]
        return batch

    async def _work(self, queue: asyncio.Queue[_Waiting]) -> None:
        while True:
            batch = await self._collect(queue)
            metrics.QUEUE_DEPTH.labels(self.name).set(self._waiting())
            live = [w for w in batch if not w.future.cancelled()]
            if not live:
                continue
            items = [w.item for w in live]
            started = time.perf_counter()
            outcomes: list[tuple[Any, BaseException | None]]
            try:
                outcomes = [(r, None) for r in await asyncio.to_thread(self.run_batch, items)]
            except Exception as exc:  # isolate the failing input: one bad request must not fail its neighbours
                outcomes = [await self._run_one(item) for item in items] if len(items) > 1 else [(None, exc)]
            busy = time.perf_counter() - started
            metrics.DEVICE_BUSY.labels(self.name, self.device).inc(busy)
            metrics.BATCH_SIZE.labels(self.name).observe(len(items))
            self.batches.append(len(items))
            self.batch_keys.append(live[0].key)
            for waiting, (result, error) in zip(live, outcomes, strict=True):
                if waiting.future.done():
                    continue
                if error is not None:
                    waiting.future.set_exception(error)
                else:
                    waiting.future.set_result(result)

    async def _run_one(self, item: Any) -> tuple[Any, BaseException | None]:
        try:
            [result] = await asyncio.to_thread(self.run_batch, [item])
            return result, None
        except Exception as exc:
            return None, exc
