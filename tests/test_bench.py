"""The benchmark and profiling tools run and report coherently (timings themselves are not asserted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from golemline.bench import report, suite
from golemline.bench.measure import interleave
from golemline.bench.profile import profile
from golemline.bench.sections.golems import thread_counts
from golemline.bench.sections.scribe_windows import mixed_lengths
from golemline.resources import SPOKEN
from golemline.settings import Settings


def test_interleave_alternates_configurations() -> None:
    order: list[str] = []
    times = interleave({"a": lambda s: order.append("a"), "b": lambda s: order.append("b")}, rounds=1)
    assert order[:4] == ["a", "b", "a", "b"] and len(times["a"]) == len(times["b"]) == len(SPOKEN)


def test_profile_reports_operators_and_a_batch_size(tmp_path: Path) -> None:
    result = profile("oracle", Settings(), tmp_path / "trace.json", batch=4)
    assert result["unbatched"]["top"] and result["batched"]["batch"] == 4
    assert 0 < result["batched"]["compute_share"] <= 1
    assert result["suggested_batch_size"] in result["per_item_ms_by_batch"]
    assert json.loads((tmp_path / "trace.json").read_text())["traceEvents"]


def test_report_renders_every_section(tmp_path: Path) -> None:
    stats = {"n": 1, "p50_s": 1.0, "p95_s": 1.0, "mean_s": 1.0}
    bench = {
        "machine": {"cpu_count": 2, "torch": "x", "python": "3.11", "cuda": False},
        "batching": {"concurrency_16": {"on_req_per_s": 30.0, "off_req_per_s": 10.0, "speedup": 3.0}},
        "lifecycle": {**{n: stats for n in ("resident", "sequential_prefetch", "sequential_no_prefetch",
                                            "naive_reload")},
                      "peak_golem_bytes": {"resident": 3, "sequential_prefetch": 1, "sequential_no_prefetch": 1,
                                           "largest_golem": 1},
                      "ratios": {"sequential_prefetch_vs_resident_p50": 1.2, "naive_vs_sequential_prefetch_p50": 2.0,
                                 "prefetch_gain_p50": 1.1, "sequential_peak_vs_largest_golem": 1.0}},
        "baseline": {"monolith": stats, "seed_style": stats, "ratios": {"seed_style_vs_monolith_p50": 1.5}},
    }
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    assert report.main([str(tmp_path / "bench.json"), "--out", str(tmp_path / "performance.md")]) == 0
    text = (tmp_path / "performance.md").read_text()
    assert "3.0× — met" in text and "1.5× faster at p50 (target ≥2×) — **not met**" in text
    assert (tmp_path / "bench-batching.png").read_bytes()[:4] == b"\x89PNG"


def test_the_cli_lists_every_bench_section() -> None:
    from golemline.cli import SECTION_NAMES

    assert tuple(suite.SECTIONS) == SECTION_NAMES


def test_the_committed_bench_report_renders_every_section_it_holds(tmp_path: Path) -> None:
    bench = Path(__file__).resolve().parents[1] / "docs" / "bench.json"
    assert report.main([str(bench), "--out", str(tmp_path / "performance.md")]) == 0
    text = (tmp_path / "performance.md").read_text()
    held = json.loads(bench.read_text())
    for section, heading in (("windows", "window buckets"), ("long", "The gate on long audio"),
                             ("mixed", "Length-bucketed batching"),
                             ("pipeline", "previous main"), ("plan", "planner against a measured load"),
                             ("threads", "Thread counts against the cores")):
        assert (heading in text) == (section in held), section


@pytest.mark.parametrize(("cores", "counts"), [(1, (1, 2)), (2, (1, 2, 4)), (6, (1, 2, 4, 6, 12)),
                                               (16, (1, 2, 4, 8, 16, 32))])
def test_thread_counts_run_up_to_the_cores_and_twice_them(cores: int, counts: tuple[int, ...]) -> None:
    assert thread_counts(cores) == counts


def test_the_mixed_length_workload_spans_1_to_25_seconds() -> None:
    workload = mixed_lengths(40)
    short = [a.duration_s for kind, a in workload if kind == "short"]
    long = [a.duration_s for kind, a in workload if kind == "long"]
    assert short and long and len(short) > len(long)
    assert all(1 <= d <= 5 for d in short) and all(10 <= d <= 25 for d in long)


def test_the_long_audio_section_counts_speech_refused_and_noise_let_through(tmp_path: Path) -> None:
    def scribe(verdicts: dict[str, int]) -> dict[str, Any]:
        window = {"cases": sum(verdicts.values()), "verdicts": verdicts, "reasons": {}, "mean_wer": 0.2,
                  "scribe_p50_s": 0.3}
        return {"30 s": window, "all": {"cases": window["cases"], "verdicts": verdicts}}
    fine = {"heard, passed": 3, "misheard, refused": 1, "non-speech refused": 2}
    for buckets, says in ((fine, "non-speech let through: 0 before, 0 with buckets"),
                          ({**fine, "non-speech passed": 1}, "non-speech let through: 0 before, 1 with buckets")):
        bench = {"machine": {"cpu_count": 2, "torch": "x", "python": "3.11", "cuda": False},
                 "long": {"cases": 6, "dictations": 4, "window_30s": scribe(fine), "buckets": scribe(buckets),
                          "same_verdict": "5/6"}}
        (tmp_path / "bench.json").write_text(json.dumps(bench))
        assert report.main([str(tmp_path / "bench.json"), "--out", str(tmp_path / "performance.md")]) == 0
        text = (tmp_path / "performance.md").read_text()
        assert "| buckets 10/20/30 s, prompt | 30 s | " in text and says in text, says


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("espeak-ng", "sox")),
                    reason="needs espeak-ng and sox (Debian packages; .ci/run installs them)")
def test_long_cases_reach_the_20_and_30_second_windows(tmp_path: Path) -> None:
    from golemline.bench.speech_set import SPEECH, TUNING_VOICE, long_cases
    from golemline.predictors.speech_window import window_for

    cases = long_cases(tmp_path, voices=(TUNING_VOICE,))
    dictations = [(kind, samples) for kind, expected, samples in cases if expected == "dictation"]
    assert len(dictations) == 4 and len(cases) == 12
    assert sorted(window_for(len(samples) / 16000, (10.0, 20.0, 30.0)) for _, samples in dictations) == [
        20.0, 20.0, 30.0, 30.0]
    sentences = [t for group in SPEECH.values() for t in group]
    for kind, _ in dictations:  # the kind ends in what was said: whole sentences of the set, three or more
        rest, said = kind.split(": ", 1)[1], 0
        while rest:
            sentence = next(s for s in sentences if rest.startswith(s))
            rest, said = rest[len(sentence):].lstrip(), said + 1
        assert said >= 3
    again = long_cases(tmp_path, voices=(TUNING_VOICE,))
    assert all(a[0] == b[0] and np.array_equal(a[2], b[2]) for a, b in zip(cases, again, strict=True))
