"""Risk-controlled gate calibration: the statistics against textbook values, the procedure on rows whose true
error rate is known, the gating config file on every surface that takes it, and the shipped defaults against
the committed calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from golemline.errors import ConfigError
from golemline.evaluation import calibrate, report, stability
from golemline.evaluation.command import read_signals
from golemline.settings import GatingPolicy, Settings, gating_from_file

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_SIGNALS = ROOT / "docs" / "gating-signals.jsonl.gz"


def test_clopper_pearson_and_the_binomial_p_value_match_textbook_values() -> None:
    low, high = calibrate.interval(0, 10)
    assert low == 0 and high == pytest.approx(0.3085, abs=1e-4)  # 1 - 0.025^(1/10)
    low, high = calibrate.interval(5, 10)
    assert (low, high) == pytest.approx((0.1871, 0.8129), abs=1e-4)
    # zero wrong in n accepted, true rate 2%: p = 0.98^n; 114 is the fewest that certifies at delta 0.1
    assert calibrate.p_value(0, 114, 0.02) == pytest.approx(0.98**114)
    assert calibrate.fewest_to_certify(0.02, 0.1) == 114 and 0.98**113 > 0.1 >= 0.98**114
    assert calibrate.p_value(0, 0, 0.02) == 1.0


def synthetic_rows(n: int, seed: int, split: str = "calibration") -> list[dict[str, Any]]:
    """Cases whose intent score is informative: a case is answered right with probability rising with its score
    (true wrong rate among cases scoring >= s is known in closed form), every other signal clean."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        score = float(rng.uniform(0.2, 0.9))
        right = bool(rng.random() < min(1.0, 0.3 + score))  # P(wrong | score) = max(0, 0.7 - score)
        rows.append({"id": f"{split}/{i}", "split": split, "source": f"s{i}", "group": "in-domain",
                     "category": "weather", "label": "weather", "intent": "weather" if right else "music",
                     "condition": "clean", "snr_db": None, "rms_dbfs": -20.0, "words": 4, "compression_ratio": 1.0,
                     "no_speech_prob": 0.05, "avg_logprob": -0.2, "min_token_logprob": -0.5, "score": score,
                     "margin": 0.5, "none_score": score - 0.5})
    return rows


def true_wrong_rate(min_score: float) -> float:
    """E[max(0, 0.7 - s) | s >= min_score] for s ~ U(0.2, 0.9)."""
    lo = max(min_score, 0.2)
    if lo >= 0.7:
        return 0.0
    return ((0.7 - lo) ** 2 / 2) / (0.9 - lo)


def test_calibration_meets_its_bound_on_fresh_draws_and_is_deterministic() -> None:
    """Learn then Test on rows with a known error curve: the chosen score threshold's true wrong rate is under the
    target, fresh rows from the same distribution agree, and the same rows give the same thresholds."""
    rows = synthetic_rows(3000, seed=1)
    first = calibrate.calibrate(rows, GatingPolicy(), max_wrong=0.05, delta=0.1)
    again = calibrate.calibrate(rows, GatingPolicy(), max_wrong=0.05, delta=0.1)
    assert first.thresholds == again.thresholds and first.chosen_index == again.chosen_index >= 0
    chosen = first.thresholds["min_intent_score"]
    assert true_wrong_rate(chosen) <= 0.05
    scores = calibrate.GRID["min_intent_score"][1]
    looser = scores[scores.index(chosen) + 1]
    assert true_wrong_rate(looser) >= 0.8 * 0.05  # and not needlessly strict: the next step is near the target
    fresh = calibrate.Signals.of(synthetic_rows(20000, seed=2), GatingPolicy())
    point = calibrate.evaluate(fresh, first.thresholds)
    assert point.wrong_rate <= 0.05 + 0.01


def test_resampling_keeps_a_take_together_and_the_spread_is_deterministic() -> None:
    rows = synthetic_rows(600, seed=4)
    for row in rows[:300]:  # 300 takes, each with a noisy copy
        rows.append(dict(row, id=row["id"] + "/noisy", condition="white 10 dB"))
    drawn = stability.resample_by_take(rows, np.random.default_rng(0))
    assert len({r["id"] for r in drawn}) == len(drawn)
    by_source: dict[str, set[str]] = {}
    for row in drawn:
        by_source.setdefault(row["source"], set()).add(row["id"].split("#")[1])
    for source, draws in by_source.items():  # every draw of a take brings all of that take's rows
        copies = sum(1 for r in drawn if r["source"] == source)
        assert copies == len(draws) * (2 if int(source[1:]) < 300 else 1)
    # independent rows whose true error curve is known: at delta 0.1 the bound should hold on fresh rows for about
    # nine resamples in ten or more
    independent = synthetic_rows(3000, seed=1)
    heldout = calibrate.Signals.of(synthetic_rows(5000, seed=5, split="heldout"), GatingPolicy())
    shipped = calibrate.calibrate(independent, GatingPolicy(), 0.05, 0.1).thresholds
    first = stability.stability(independent, shipped, heldout, GatingPolicy(), 0.05, 0.1, draws=30)
    assert first == stability.stability(independent, shipped, heldout, GatingPolicy(), 0.05, 0.1, draws=30)
    assert first.chose_shipped >= 1
    assert first.bound_held >= 24 and len(first.heldout_wrong) == 30
    assert f"the bound (0.05) held in {first.bound_held} of 30" in first.summary()


def test_nothing_certifiable_falls_back_to_the_strictest_point() -> None:
    rows = synthetic_rows(40, seed=3)  # far too few accepted answers to certify 2%
    result = calibrate.calibrate(rows, GatingPolicy(), max_wrong=0.02, delta=0.1)
    assert result.chosen_index == -1 and result.thresholds == calibrate.strictest()


def test_bad_levels_are_refused() -> None:
    with pytest.raises(ValueError):
        calibrate.calibrate(synthetic_rows(10, seed=0), GatingPolicy(), max_wrong=0, delta=0.1)


def test_the_ceiling_is_the_best_grid_point_under_the_wrong_answer_level() -> None:
    """Clean commands scoring 0.9, 0.8 (right), 0.55 (wrong), 0.42 (right), and one noisy wrong answer at 0.9 that
    only an all-refusing point avoids: the best any point does for the clean ones at each level of wrong answers."""
    def row(i: int, score: float, right: bool, condition: str = "clean") -> dict[str, Any]:
        return {**synthetic_rows(1, seed=i)[0], "id": f"r{i}", "score": score, "none_score": score - 0.5,
                "intent": "weather" if right else "music", "condition": condition}
    rows = [row(0, 0.9, True), row(1, 0.8, True), row(2, 0.55, False), row(3, 0.42, True),
            row(4, 0.9, False, "white noise")]
    signals = calibrate.Signals.of(rows, GatingPolicy())
    clean = np.array([r["condition"] == "clean" for r in rows])
    assert calibrate.ceiling(signals, clean, [0.0, 1 / 3, 0.5]) == [
        (0, 0),  # the noisy wrong answer passes wherever any right does
        (2, 2),  # score >= 0.6: two right, one wrong of three
        (3, 4)]  # score >= 0.4: three right and two wrong of five
    table = report.ceiling_table(signals, [1 / 3, 0.5])
    assert table[2] == "| 0.333333 | 0.500 (2/4) | 0.500 (2/4) |" and table[3] == "| 0.5 | 0.750 (3/4) | 0.000 (0/4) |"


def test_the_report_splits_clean_commands_by_whether_the_scribe_heard_them() -> None:
    """In-domain commands, clean and at 10 dB, counted by WER 0 or not and by the gate's verdict; other groups are
    left out, and the ungated column counts the intent before any gate."""
    def row(i: int, wer: float, intent: str, score: float, **extra: Any) -> dict[str, Any]:
        return {**synthetic_rows(1, seed=i)[0], "id": f"r{i}", "wer": wer, "intent": intent, "score": score, **extra}
    rows = [row(0, 0.0, "weather", 0.8), row(1, 0.0, "weather", 0.3),  # heard: right; refused (right ungated)
            row(2, 0.5, "music", 0.8), row(3, 0.5, "music", 0.3),  # misheard: wrong; refused
            row(4, 0.2, "weather", 0.8),  # misheard, still right
            row(5, 0.0, "music", 0.8, condition="white noise", snr_db=10),  # at 10 dB, heard, wrong
            row(6, 0.0, "music", 0.8, group="off-domain", label="none")]
    thresholds = {**calibrate.strictest(), "max_no_speech_prob": 1.0, "min_avg_logprob": -100.0,
                  "min_token_logprob": -100.0, "min_intent_score": 0.5, "min_intent_margin": 0.0,
                  "min_open_set_margin": -1.0}
    outcome = report.Outcome.of(calibrate.Signals.of(rows, GatingPolicy()), thresholds)
    table = report.heard_or_not(outcome)
    assert table[2] == "| clean, heard word for word (WER 0) | 2 | 1 | 1 | 0 | 2 |"
    assert table[3] == "| clean, misheard (WER > 0) | 3 | 1 | 1 | 1 | 1 |"
    assert table[4] == "| clean, all | 5 | 2 | 2 | 1 | 3 |"
    assert table[5:] == ["| at 10 dB, heard word for word (WER 0) | 1 | 0 | 0 | 1 | 0 |",
                         "| at 10 dB, misheard (WER > 0) | 0 | 0 | 0 | 0 | 0 |",
                         "| at 10 dB, all | 1 | 0 | 0 | 1 | 0 |"]


def test_the_gating_config_feeds_golem_run_and_is_valid_chart_values(tmp_path: Path) -> None:
    result = calibrate.calibrate(synthetic_rows(3000, seed=1), GatingPolicy(), max_wrong=0.05, delta=0.1)
    policy = result.policy(GatingPolicy())
    path = tmp_path / "gating.yaml"
    path.write_text(report.config_yaml(policy, result, report.Rate("wrong among accepted", 1, 100)))
    values = gating_from_file(path)
    assert values["min_intent_score"] == result.thresholds["min_intent_score"]
    settings = Settings().with_overrides(gating=values)
    assert settings.gating == policy


@pytest.mark.parametrize("text, message", [
    ("pipeline: {spec: {gating: {minScoreOfDoom: 1}}}", "unknown gating thresholds min_score_of_doom"),
    ("gating: {maxNoSpeechProb: high}", "is not a number"),
    ("[1, 2", "not valid YAML"),
])
def test_a_bad_gating_config_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gating.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        gating_from_file(path)


def test_golem_run_takes_the_file_and_flags_and_variables_override_it(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from golemline.cli import build_parser, main, settings_from_args

    path = tmp_path / "gating.yaml"
    path.write_text("pipeline:\n  spec:\n    gating:\n      maxNoSpeechProb: 0.3\n      minIntentScore: 0.5\n")
    args = build_parser().parse_args(["run", "--gating-config", str(path), "--gate-min-intent-score", "0.4", "x.wav"])
    settings = settings_from_args(args, environ={"GOLEM_GATE_MAX_NO_SPEECH_PROB": "0.6"})
    assert settings.gating.max_no_speech_prob == 0.6 and settings.gating.min_intent_score == 0.4
    from_env = settings_from_args(argparse.Namespace(), environ={"GOLEM_GATING_CONFIG": str(path)})
    assert from_env.gating.max_no_speech_prob == 0.3 and from_env.gating.min_intent_score == 0.5
    assert main(["run", "--gating-config", str(tmp_path / "missing.yaml"), "x.wav"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "cannot read the gating config" in line


@pytest.mark.skipif(not COMMITTED_SIGNALS.exists(), reason="docs/gating-signals.jsonl.gz is not committed")
def test_the_shipped_defaults_are_the_committed_calibration() -> None:
    """Recalibrating from the committed signals (recorded by `golem gate calibrate`) gives the thresholds the code
    ships: the default gate is a calibration, not a hand-set guess, and cannot drift from its report."""
    from golemline.gating import GatePolicy

    rows = read_signals(COMMITTED_SIGNALS)
    result = calibrate.calibrate([r for r in rows if r["split"] == "calibration"], GatingPolicy(),
                                 max_wrong=SHIPPED_MAX_WRONG, delta=SHIPPED_DELTA)
    assert result.chosen_index >= 0
    policy = result.policy(GatingPolicy())
    shipped = Settings()
    for name in ("max_no_speech_prob", "min_avg_logprob", "min_token_logprob"):
        assert getattr(shipped.gating, name) == getattr(policy, name), name
    gate = GatePolicy.of(shipped)
    assert (gate.min_intent_score, gate.min_intent_margin, gate.min_open_set_margin) == (
        policy.min_intent_score, policy.min_intent_margin, policy.min_open_set_margin)
    report_text = (ROOT / "docs" / "gating.md").read_text()
    assert f"max-wrong {SHIPPED_MAX_WRONG}" in report_text or f"--max-wrong {SHIPPED_MAX_WRONG}" in report_text


SHIPPED_MAX_WRONG = 0.05
SHIPPED_DELTA = 0.1


@pytest.mark.skipif(not (ROOT / "docs" / "gating.yaml").exists(), reason="docs/gating.yaml is not committed")
def test_the_committed_gating_config_flows_from_chart_values_to_the_golems_settings() -> None:
    """`helm install -f docs/gating.yaml`: the chart renders a GolemPipeline whose spec.gating is the file's and
    validates against the CRD; the operator turns it into GOLEM_GATE_* variables; settings read back the policy
    the file holds, the same policy `golem run --gating-config` reads."""
    import helm_python
    import yaml

    from golemline_operator.builders import build_inference_services
    from tests.k8s_schemas import validate

    values = yaml.safe_load((ROOT / "docs" / "gating.yaml").read_text())
    files = helm_python.Chart.load(str(ROOT / "charts" / "golemline")).render(values, name="g", namespace="ml")
    docs = [d for path, text in files.items() if not path.endswith(".txt") for d in yaml.safe_load_all(text) if d]
    [pipeline] = [d for d in docs if d["kind"] == "GolemPipeline"]
    validate(pipeline)
    assert pipeline["spec"]["gating"] == values["pipeline"]["spec"]["gating"]
    expected = Settings().with_overrides(gating=gating_from_file(ROOT / "docs" / "gating.yaml")).gating
    pipeline["metadata"] |= {"namespace": "ml", "uid": "u"}
    for isvc in build_inference_services(pipeline):
        env = {e["name"]: e["value"] for e in isvc["spec"]["predictor"]["containers"][0]["env"] if "value" in e}
        if any(name.startswith("GOLEM_GATE_") for name in env):
            assert Settings.from_env({k: v for k, v in env.items() if k.startswith("GOLEM_")}).gating == expected
