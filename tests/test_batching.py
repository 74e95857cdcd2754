"""Micro-batching: concurrent submissions share passes, a failing input does not fail its neighbours, and a full
queue refuses at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from golemline.serving.batching import MicroBatcher, Overloaded


def test_concurrent_requests_are_grouped_into_batches() -> None:
    seen: list[list[int]] = []

    def run(batch: list[int]) -> list[int]:
        seen.append(list(batch))
        time.sleep(0.02)
        return [x * 10 for x in batch]

    async def main() -> list[list[int]]:
        batcher = MicroBatcher("t", run, max_batch_size=8, max_latency_ms=20, max_queue=64)
        return await asyncio.gather(*(batcher.submit_many([i]) for i in range(16)))

    results = asyncio.run(main())
    assert results == [[i * 10] for i in range(16)]
    assert max(len(b) for b in seen) > 1 and all(len(b) <= 8 for b in seen)
    assert sorted(x for b in seen for x in b) == list(range(16))


def test_batch_size_one_turns_batching_off() -> None:
    sizes: list[int] = []

    def run(batch: list[int]) -> list[int]:
        sizes.append(len(batch))
        return batch

    async def main() -> None:
        batcher = MicroBatcher("t", run, max_batch_size=1, max_latency_ms=20, max_queue=64)
        await asyncio.gather(*(batcher.submit_many([i]) for i in range(6)))

    asyncio.run(main())
    assert sizes == [1] * 6


def test_a_failing_input_does_not_fail_its_neighbours() -> None:
    def run(batch: list[int]) -> list[int]:
        if 3 in batch:
            raise ValueError("three is poison")
        return batch

    async def main() -> list[object]:
        batcher = MicroBatcher("t", run, max_batch_size=8, max_latency_ms=30, max_queue=64)
        return await asyncio.gather(*(batcher.submit_many([i]) for i in range(6)), return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[3], ValueError)
    assert [r for i, r in enumerate(results) if i != 3] == [[0], [1], [2], [4], [5]]


def test_full_queue_refuses_with_overloaded() -> None:
    gate = threading.Event()

    def run(batch: list[int]) -> list[int]:
        gate.wait(5)
        return batch

    async def main() -> list[object]:
        batcher = MicroBatcher("t", run, max_batch_size=1, max_latency_ms=0, max_queue=2)
        tasks = [asyncio.ensure_future(batcher.submit_many([i])) for i in range(5)]
        await asyncio.sleep(0.1)
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    refused = [r for r in results if isinstance(r, Overloaded)]
    assert refused and all(r.http_status == 429 and "retry" in str(r) for r in refused)
    assert [r for r in results if not isinstance(r, Exception)]  # the queued ones were still answered


@pytest.mark.parametrize("size", [0, 300])
def test_batch_size_bounds_are_settings(size: int) -> None:
    from golemline.errors import ConfigError
    from golemline.settings import Settings

    with pytest.raises(ConfigError):
        Settings().with_overrides(server={"max_batch_size": size})


def test_keyed_batches_never_mix_keys_and_the_smallest_key_goes_first() -> None:
    """Length-bucketed batching: a long item (key 30) arriving first runs alone; the short ones (key 10) that queue
    behind it are batched together and run before the next long one."""
    seen: list[list[tuple[int, float]]] = []

    def run(batch: list[tuple[int, float]]) -> list[int]:
        seen.append(list(batch))
        time.sleep(0.05)
        return [i for i, _ in batch]

    async def main() -> list[list[int]]:
        batcher = MicroBatcher("t", run, max_batch_size=8, max_latency_ms=5, max_queue=64, key=lambda x: x[1])
        first = asyncio.ensure_future(batcher.submit_many([(0, 30.0)]))
        await asyncio.sleep(0.01)  # the long one is running; the rest queue behind it
        rest = [batcher.submit_many([(i, 30.0 if i % 3 == 0 else 10.0)]) for i in range(1, 10)]
        return [await first, *await asyncio.gather(*rest)]

    results = asyncio.run(main())
    assert results == [[i] for i in range(10)]
    assert all(len({key for _, key in batch}) == 1 for batch in seen)
    assert seen[0] == [(0, 30.0)]
    assert {key for _, key in seen[1]} == {10.0} and len(seen[1]) == 6  # all six short ones, before long ones
    assert [key for batch in seen[2:] for _, key in batch] == [30.0] * 3


def test_a_long_item_is_not_starved_by_a_stream_of_short_ones() -> None:
    order: list[float] = []

    def run(batch: list[float]) -> list[float]:
        order.extend(batch)
        time.sleep(0.03)
        return batch

    async def main() -> None:
        batcher = MicroBatcher("t", run, max_batch_size=1, max_latency_ms=0, max_queue=256, key=lambda x: x,
                               starvation_s=0.2)
        long = asyncio.ensure_future(batcher.submit_many([30.0]))
        shorts = []
        for _ in range(30):  # short items keep arriving faster than they are served
            shorts.append(asyncio.ensure_future(batcher.submit_many([10.0])))
            await asyncio.sleep(0.01)
        await long
        await asyncio.gather(*shorts)

    asyncio.run(main())
    position = order.index(30.0)
    assert 0 < position < 30  # it waited behind shorts, but ran before the stream ended
