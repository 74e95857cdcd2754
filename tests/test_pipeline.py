"""The chain end to end on real weights: answers, rejections at the right stage, and policy equivalence."""

from __future__ import annotations

from pathlib import Path

from golemline.pipeline import Pipeline
from golemline.settings import Settings

CLEAN = ("weather", "timer", "music", "news", "smalltalk")


def _run(pipeline: Pipeline, samples: Path, names: tuple[str, ...]) -> dict[str, dict]:  # type: ignore[type-arg]
    inputs = [(name, pipeline.decode_file(samples / f"{name}.wav")) for name in names]
    return {r.input: r.as_dict() for r in pipeline.run(inputs)}


def test_clean_samples_get_their_intent_and_a_reply(resident_pipeline: Pipeline, samples: Path) -> None:
    results = _run(resident_pipeline, samples, CLEAN)
    for name in CLEAN:
        result = results[name]
        assert result["status"] == "ok", result["rejection"]
        assert result["intent"]["label"] == name
        assert result["reply"] and result["rejection"] is None
        assert set(result["stages"]) == {"scribe", "interpreter", "oracle"}
    assert "weather" in results["weather"]["transcript"].lower()


def test_garbage_is_stopped_where_it_appears(resident_pipeline: Pipeline, samples: Path) -> None:
    results = _run(resident_pipeline, samples, ("noise", "silence", "offtopic", "misheard"))
    for name, stage, reason in (("noise", "scribe", "no_speech"), ("silence", "scribe", "no_speech"),
                                ("offtopic", "interpreter", "low_intent_score")):
        result = results[name]
        assert result["status"] == "rejected"
        assert result["reply"] is None and result["intent"] is None
        assert (result["rejection"]["stage"], result["rejection"]["reason"]) == (stage, reason)
        assert result["rejection"]["signals"]
    assert "oracle" not in results["offtopic"]["stages"]  # garbage never reached the Oracle
    assert results["silence"]["transcript"] is None       # silence never reached Whisper
    misheard = results["misheard"]  # "Tell me the latest news headlines.", badly heard: stopped, or news
    assert misheard["status"] == "rejected" or misheard["intent"]["label"] == "news"


def test_sequential_gives_the_same_answers_with_lower_peak_memory(resident_pipeline: Pipeline,
                                                                  samples: Path) -> None:
    names = ("weather", "timer", "noise")
    resident = _run(resident_pipeline, samples, names)
    sequential_pipeline = Pipeline(Settings().with_overrides(policy="sequential"))
    try:
        sequential = _run(sequential_pipeline, samples, names)
    finally:
        sequential_pipeline.close()
    for name in names:
        for key in ("status", "transcript", "intent", "reply", "rejection"):
            assert sequential[name][key] == resident[name][key], (name, key)
    assert sequential["weather"]["memory"]["policy"] == "sequential"
    assert (sequential["weather"]["memory"]["peak_golem_bytes"]
            < resident["weather"]["memory"]["peak_golem_bytes"])
