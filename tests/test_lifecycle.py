"""Summon and banish: policies, budgets and memory accounting on the real offline golems."""

from __future__ import annotations

import pytest

from golemline.domain import IntentRequest
from golemline.errors import BudgetError
from golemline.lifecycle import LifecycleManager
from golemline.pipeline import build_golems
from golemline.settings import Settings


@pytest.fixture
def golems():  # type: ignore[no-untyped-def]
    built = build_golems(Settings())
    yield built
    for golem in built.values():
        golem.unload()


def test_resident_loads_everything_once_and_keeps_it(golems) -> None:  # type: ignore[no-untyped-def]
    manager = LifecycleManager(golems, "resident", None, "cpu")
    manager.start()
    assert all(g.loaded for g in golems.values())
    for name in golems:
        with manager.use(name) as (_, load_seconds):
            assert load_seconds == 0.0
    report = manager.report()
    assert report["loads"] == 3 and report["unloads"] == 0
    assert report["peak_golem_bytes"] == sum(g.memory_bytes() for g in golems.values())


def test_sequential_banishes_after_use_and_peaks_at_one_golem(golems) -> None:  # type: ignore[no-untyped-def]
    manager = LifecycleManager(golems, "sequential", None, "cpu")
    manager.start()
    assert not any(g.loaded for g in golems.values())
    sizes = {}
    for name, nxt in (("scribe", "interpreter"), ("interpreter", "oracle"), ("oracle", None)):
        with manager.use(name, next_name=nxt) as (golem, load_seconds):
            assert golem.loaded and load_seconds > 0
            assert [n for n, g in golems.items() if g.loaded] == [name]
            sizes[name] = golem.memory_bytes()
        assert not golems[name].loaded
    report = manager.report()
    assert report["loads"] == report["unloads"] == 3
    assert report["peak_golem_bytes"] == max(sizes.values())
    assert report["peak_golem_bytes"] < sum(sizes.values())


def test_lru_evicts_the_least_recently_used_to_fit_the_budget(golems) -> None:  # type: ignore[no-untyped-def]
    sizes = {name: g.estimated_bytes() for name, g in golems.items()}
    # Room for the interpreter and the oracle together, and for the oracle and the scribe, but not for all three.
    budget = max(sizes["scribe"], sizes["interpreter"]) + sizes["oracle"] + 1024**2
    assert budget < sum(sizes.values())
    manager = LifecycleManager(golems, "lru", budget, "cpu")
    manager.start()
    with manager.use("interpreter"):
        pass
    with manager.use("oracle"):
        pass
    assert golems["interpreter"].loaded and golems["oracle"].loaded
    with manager.use("scribe"):
        assert not golems["interpreter"].loaded  # least recently used went first
    assert manager.report()["peak_golem_bytes"] <= budget
    assert manager.report()["unloads"] >= 1


def test_budget_below_the_smallest_golem_fails_clearly(golems) -> None:  # type: ignore[no-untyped-def]
    manager = LifecycleManager(golems, "sequential", 1024**2, "cpu")
    with pytest.raises(BudgetError, match=r"cannot hold golem scribe \(.* MiB, estimated before loading\), "
                                          r"interpreter .*, oracle .*; raise --budget to at least"):
        manager.start()
    assert not any(g.loaded for g in golems.values())


def test_a_budget_too_small_for_one_golem_names_only_that_golem(golems) -> None:  # type: ignore[no-untyped-def]
    sizes = {name: g.estimated_bytes() for name, g in golems.items()}
    budget = sorted(sizes.values())[-2] + 1  # holds every golem but the largest
    largest = max(sizes, key=sizes.__getitem__)
    with pytest.raises(BudgetError, match=rf"cannot hold golem {largest} \(") as raised:
        LifecycleManager(golems, "sequential", budget, "cpu").start()
    assert not any(name in str(raised.value) for name in sizes if name != largest)


def test_resident_that_does_not_fit_suggests_another_policy(golems) -> None:  # type: ignore[no-untyped-def]
    largest = max(g.estimated_bytes() for g in golems.values())
    with pytest.raises(BudgetError, match="use --policy lru or sequential"):
        LifecycleManager(golems, "resident", largest + 1, "cpu").start()


def test_estimates_follow_the_dtype() -> None:
    oracle = build_golems(Settings().with_overrides(dtype="fp32"))["oracle"]
    fp32 = oracle.estimated_bytes()
    fp16 = build_golems(Settings().with_overrides(dtype="fp16"))["oracle"].estimated_bytes()
    assert fp16 * 2 == fp32
    oracle.load()
    assert oracle.memory_bytes() == fp32  # the estimate matches what actually loads
    oracle.unload()


class _OutOfMemoryOnce:
    """Fault injection: the wrapped golem's next `failures` runs raise a device out-of-memory error."""

    def __init__(self, golem, failures: int) -> None:  # type: ignore[no-untyped-def]
        self.golem, self.failures, self.original = golem, failures, golem.run

    def __call__(self, batch):  # type: ignore[no-untyped-def]
        import torch

        if self.failures > 0:
            self.failures -= 1
            raise torch.OutOfMemoryError("simulated: CUDA out of memory")
        return self.original(batch)


def test_out_of_memory_evicts_the_others_and_retries_once(golems) -> None:  # type: ignore[no-untyped-def]
    manager = LifecycleManager(golems, "lru", None, "cpu")
    manager.start()
    with manager.use("oracle"):
        pass
    with manager.use("interpreter"):
        pass
    golems["interpreter"].run = _OutOfMemoryOnce(golems["interpreter"], failures=1)
    [result] = manager.run("interpreter", [IntentRequest.create("play some jazz")])
    assert result.label == "music"
    assert not golems["oracle"].loaded  # banished to make room for the retry


def test_out_of_memory_twice_is_a_clear_503(golems) -> None:  # type: ignore[no-untyped-def]
    manager = LifecycleManager(golems, "lru", None, "cpu")
    manager.start()
    golems["interpreter"].load()  # loaded outside the manager: it must still manage it
    golems["interpreter"].run = _OutOfMemoryOnce(golems["interpreter"], failures=2)
    with pytest.raises(BudgetError, match="ran out of memory .* even alone") as raised:
        manager.run("interpreter", [IntentRequest.create("play some jazz")])
    assert raised.value.http_status == 503
