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


def test_eager_dispatch_runs_a_lone_request_at_once() -> None:
    """An idle golem does not wait `max_latency_ms` for company: with a ten-minute window, the lone request is
    answered (the old windowed batcher would hold it the whole ten minutes, so the wait below would time out)."""
    seen: list[list[int]] = []

    def run(batch: list[int]) -> list[int]:
        seen.append(list(batch))
        return batch

    async def main() -> list[int]:
        batcher = MicroBatcher("t", run, max_batch_size=8, max_latency_ms=600_000, max_queue=64)
        return await asyncio.wait_for(batcher.submit_many([7]), 120)

    assert asyncio.run(main()) == [7]
    assert seen == [[7]]


def test_eager_dispatch_gathers_arrivals_during_a_running_batch_into_the_next() -> None:
    """Continuous-batching style: the first request runs alone at once; everything that arrives while it runs forms
    the next batch, in arrival order, and runs as soon as the first batch ends."""
    seen: list[list[int]] = []
    running, release = threading.Event(), threading.Event()

    def run(batch: list[int]) -> list[int]:
        seen.append(list(batch))
        running.set()
        assert release.wait(120)
        return [x * 10 for x in batch]

    async def main() -> list[list[int]]:
        batcher = MicroBatcher("t", run, max_batch_size=8, max_latency_ms=600_000, max_queue=64)
        first = asyncio.ensure_future(batcher.submit_many([0]))
        for _ in range(12000):  # poll until the first batch is on the device thread (no timing asserted)
            if running.is_set():
                break
            await asyncio.sleep(0.01)
        assert running.is_set()
        rest = [asyncio.ensure_future(batcher.submit_many([i])) for i in range(1, 6)]
        await asyncio.sleep(0)  # let the five enqueue while the first batch still runs
        release.set()
        return [await first, *await asyncio.gather(*rest)]

    results = asyncio.run(main())
    assert results == [[i * 10] for i in range(6)]
    assert seen == [[0], [1, 2, 3, 4, 5]]


def test_window_dispatch_still_waits_for_company() -> None:
    """The window dispatch (kept for comparison) holds the first request until the batch fills or the window ends:
    three requests arriving apart share one batch."""
    seen: list[list[int]] = []

    def run(batch: list[int]) -> list[int]:
        seen.append(list(batch))
        return batch

    async def main() -> list[list[int]]:
        batcher = MicroBatcher("t", run, max_batch_size=3, max_latency_ms=600_000, max_queue=64, dispatch="window")
        first = asyncio.ensure_future(batcher.submit_many([0]))
        await asyncio.sleep(0.05)
        rest = [batcher.submit_many([1]), batcher.submit_many([2])]
        return await asyncio.wait_for(asyncio.gather(first, *rest), 120)

    assert asyncio.run(main()) == [[0], [1], [2]]
    assert seen == [[0, 1, 2]]


def test_an_unknown_dispatch_is_refused() -> None:
    from golemline.errors import ConfigError
    from golemline.settings import Settings

    with pytest.raises(ValueError, match="dispatch"):
        MicroBatcher("t", lambda b: b, max_batch_size=2, max_latency_ms=0, max_queue=4, dispatch="sometimes")
    with pytest.raises(ConfigError, match="batch_dispatch"):
        Settings().with_overrides(server={"batch_dispatch": "sometimes"})
