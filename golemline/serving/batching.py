"""Dynamic micro-batching: concurrent requests to one golem share one forward pass.

Why: small models are launch-bound (the seeds' `cudaLaunchKernel` lesson) — one pass over 8 inputs costs little
more than one pass over 1. A worker takes the first waiting request, waits up to `max_latency_ms` for more (up to
`max_batch_size`), runs the batch on a thread (the event loop stays free), and fans results back. The queue is
bounded: when full, a request is refused at once (429) instead of waiting without limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from golemline.errors import Overloaded
from golemline.serving import metrics


class MicroBatcher:
    """An async queue in front of a synchronous batch function."""

    def __init__(self, name: str, run_batch: Callable[[list[Any]], list[Any]], max_batch_size: int,
                 max_latency_ms: float, max_queue: int, device: str = "cpu") -> None:
        self.name = name
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_ms / 1000
        self.max_queue = max_queue
        self.device = device
        self._queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches: list[int] = []  # sizes of the batches run, for tests and benchmarks

    def _ensure_worker(self) -> asyncio.Queue[tuple[Any, asyncio.Future[Any]]]:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._work(self._queue), name=f"batch-{self.name}")
        return self._queue

    async def submit_many(self, items: list[Any]) -> list[Any]:
        """Queue items (one request's instances) and wait for their results, in order."""
        queue = self._ensure_worker()
        if queue.qsize() + len(items) > self.max_queue:
            raise Overloaded(f"{self.name}: {queue.qsize()} requests already queued (limit {self.max_queue}); "
                             "retry shortly")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        for item, future in zip(items, futures, strict=True):
            queue.put_nowait((item, future))
        metrics.QUEUE_DEPTH.labels(self.name).set(queue.qsize())
        return list(await asyncio.gather(*futures))

    async def _collect(self, queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]]) -> list[tuple[Any, Any]]:
        batch = [await queue.get()]
        deadline = time.monotonic() + self.max_latency_s
        while len(batch) < self.max_batch_size:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _work(self, queue: asyncio.Queue[tuple[Any, asyncio.Future[Any]]]) -> None:
        while True:
            batch = await self._collect(queue)
            metrics.QUEUE_DEPTH.labels(self.name).set(queue.qsize())
            live = [(item, future) for item, future in batch if not future.cancelled()]
            if not live:
                continue
            items = [item for item, _ in live]
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
            for (_, future), (result, error) in zip(live, outcomes, strict=True):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)

    async def _run_one(self, item: Any) -> tuple[Any, BaseException | None]:
        try:
            [result] = await asyncio.to_thread(self.run_batch, [item])
            return result, None
        except Exception as exc:
            return None, exc
