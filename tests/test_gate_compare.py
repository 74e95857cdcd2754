"""`golem gate compare`: two recordings side by side, each under its own calibration, on rows whose differences are
known; a clear error for recordings of different corpora; the committed comparison regenerates exactly."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from golemline.errors import ConfigError
from golemline.evaluation import compare
from golemline.settings import GatingPolicy
from tests.test_gate_calibration import synthetic_rows

ROOT = Path(__file__).resolve().parents[1]


def recording(seed: int) -> list[dict[str, Any]]:
    return synthetic_rows(3000, seed=seed) + synthetic_rows(1000, seed=seed + 1, split="heldout")


def test_a_configuration_that_answers_more_right_is_better_and_its_wrong_answers_are_paired() -> None:
    before = recording(1)
    side_before = compare.Side.of("a", before, GatingPolicy(), 0.05, 0.1)
    heldout_at = [i for i, r in enumerate(before) if r["split"] == "heldout"]
    outcome = side_before.outcome
    wrong = [heldout_at[k] for k in range(len(heldout_at)) if outcome.accepted[k] and not outcome.right[k]]
    assert len(wrong) >= 3
    after = [dict(r) for r in before]
    for i in wrong[:3]:  # the same cases, three accepted wrong answers made right: nothing else moves
        after[i]["intent"] = after[i]["label"]
    side_after = compare.Side.of("b", after, GatingPolicy(), 0.05, 0.1)
    assert side_before.calibration.thresholds == side_after.calibration.thresholds  # same calibration rows
    text = "\n".join(compare.markdown(side_before, side_after))
    row = next(line for line in text.splitlines() if line.startswith("| wrong among accepted |"))
    assert row.endswith("| better |") and f"({len(wrong)}/" in row and f"({len(wrong) - 3}/" in row
    assert "| clean in-domain accuracy |" in text and "| non-speech rejected | — | — | — |" in text
    frontier_before, frontier_after = side_before.frontier(), side_after.frontier()
    assert compare.frontier_change(frontier_before, frontier_after) == "better"
    assert compare.wrong_only(side_before.outcome, side_after.outcome, lambda r: True) == (3, 0, len(wrong) - 3)


def test_the_wer_rows_average_the_held_out_speech_by_condition() -> None:
    rows = recording(1)
    heldout = [i for i, r in enumerate(rows) if r["split"] == "heldout"]
    for k, i in enumerate(heldout):  # clean: WER 0.1 and 2.0 (capped to 1) alternately; noisy: 0.3; one silent case
        noisy = k % 3 == 2
        rows[i] = {**rows[i], "text": "say this", "condition": "white noise" if noisy else "clean",
                   "wer": 0.3 if noisy else (0.1 if k % 2 else 2.0)}
    rows[heldout[0]] = {**rows[heldout[0]], "text": "", "wer": None}
    side = compare.Side.of("a", rows, GatingPolicy(), 0.05, 0.1)
    clean = [min(1.0, rows[i]["wer"]) for i in heldout[1:] if rows[i]["condition"] == "clean"]
    assert side.mean_wer(True) == (pytest.approx(sum(clean) / len(clean)), len(clean))
    assert side.mean_wer(False) == (pytest.approx(0.3), sum(rows[i]["condition"] != "clean" for i in heldout))
    text = "\n".join(compare.markdown(side, side))
    assert "| mean WER of held-out speech, noisy and damaged (each capped at 1) | 0.3000 (" in text
    assert text.count("| +0.0000 |") == 2


def test_changes_read_in_the_direction_of_each_measure() -> None:
    from golemline.evaluation.report import Rate

    assert compare.change("clean in-domain rejected", Rate("", 30, 150), Rate("", 16, 150)) == "better"
    assert compare.change("clean in-domain accuracy", Rate("", 130, 150), Rate("", 120, 150)) == "worse"
    assert compare.change("wrong among accepted", Rate("", 1, 10), Rate("", 2, 20)) == "same"
    assert compare.frontier_change([1, 2], [2, 1]) == "mixed" and compare.frontier_change([3, 3], [2, 3]) == "worse"


def test_recordings_of_different_corpora_are_one_clear_error(tmp_path: Path) -> None:
    rows = recording(1)
    with pytest.raises(ConfigError, match="not of the same corpus"):
        compare.same_cases(rows, rows[:-1])
    from golemline.evaluation.command import write_signals

    write_signals(tmp_path / "a.jsonl", rows)
    write_signals(tmp_path / "b.jsonl", rows[1:])
    proc = subprocess.run([sys.executable, "-m", "golemline.cli", "gate", "compare", str(tmp_path / "a.jsonl"),
                           str(tmp_path / "b.jsonl")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "not of the same corpus" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("doc", ["gating-compare.md", "gating-compare-calibration-fresh.md",
                                 "gating-compare-prompt.md"])
def test_the_committed_comparison_regenerates_from_the_committed_recordings(tmp_path: Path, doc: str) -> None:
    """docs/gating-compare*.md (the Scribe before window buckets against today's; held-out, and the calibration
    split's utterances under fresh noise) are what their own commands print."""
    if not (ROOT / "docs" / doc).exists():
        pytest.skip(f"docs/{doc} is not committed")
    committed = (ROOT / "docs" / doc).read_text()
    command = committed.split("`golem gate compare ", 1)[1].split("`", 1)[0]
    args = shlex.split(command)
    report_at = args.index("--report")
    args[report_at + 1] = str(tmp_path / "again.md")
    proc = subprocess.run([sys.executable, "-m", "golemline.cli", "gate", "compare", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == committed.split("\n\n", 1)[1]


def fresh_rows(seed: int, wrong_share: float, utterances: int = 300, unsure: float = 0.0) -> list[dict[str, Any]]:
    """Held-out rows shaped like `golem gate fresh`'s: each utterance under four noises, the accepted answer wrong
    on a known share of utterances (all four copies alike: the copies of one utterance are not independent). A
    share `unsure` of the wrong ones score low enough for a stricter gate to refuse them."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(utterances):
        wrong = bool(rng.random() < wrong_share)
        score = 0.5 if wrong and rng.random() < unsure else 0.95
        for noise in ("white", "pink", "babble", "music"):
            rows.append({"id": f"heldout/v/{u}/{noise}10/fresh", "split": "heldout", "source": f"s{u}",
                         "group": "in-domain", "category": "weather", "label": "weather", "speaker": "v",
                         "text": f"sentence {u}", "intent": "music" if wrong else "weather",
                         "condition": f"{noise} 10 dB", "snr_db": 10, "rms_dbfs": -20.0, "words": 4,
                         "compression_ratio": 1.0, "no_speech_prob": 0.05, "avg_logprob": -0.2,
                         "min_token_logprob": -0.5, "score": score, "margin": 0.5, "none_score": 0.2})
    return rows


def test_the_difference_interval_is_paired_and_resamples_utterances() -> None:
    same = compare.Side.of("a", recording(1), GatingPolicy(), 0.05, 0.1, fresh_rows(1, 0.1))
    assert same.fresh is not None and same.fresh.accepted.all()
    assert compare.wrong_difference_interval(same.fresh, same.fresh) == (0.0, 0.0)  # the same answers: no spread
    worse = compare.Side.of("b", recording(1), GatingPolicy(), 0.05, 0.1, fresh_rows(2, 0.3))
    assert worse.fresh is not None
    truth = worse.fresh.wrong("").value - same.fresh.wrong("").value
    low, high = compare.wrong_difference_interval(same.fresh, worse.fresh)
    assert 0 < low < truth < high
    # resampling cases as if independent would be four times too confident: the interval must be about as wide as
    # one over utterances (300), not over cases (1200)
    spread = np.sqrt(0.1 * 0.9 / 300 + 0.3 * 0.7 / 300)
    assert 0.7 * 2 * 1.96 * spread < high - low < 1.3 * 2 * 1.96 * spread


def test_the_fresh_noise_table_compares_each_side_under_its_own_thresholds(tmp_path: Path) -> None:
    from golemline.evaluation.command import write_signals

    rows = recording(1)
    for name, fresh in (("a", fresh_rows(1, 0.04, unsure=0.5)), ("b", fresh_rows(2, 0.2, unsure=0.5))):
        write_signals(tmp_path / f"{name}.jsonl", rows)
        write_signals(tmp_path / f"fresh-{name}.jsonl", fresh)
    proc = subprocess.run([sys.executable, "-m", "golemline.cli", "gate", "compare", str(tmp_path / "a.jsonl"),
                           str(tmp_path / "b.jsonl"), "--max-wrong", "0.05", "--fresh", str(tmp_path / "fresh-a.jsonl"),
                           str(tmp_path / "fresh-b.jsonl")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Fresh noise: 1200 cases, the 300 held-out utterances through each of babble, music, pink, white at 10 dB" \
        in proc.stdout
    rows_of = {line.split(" | ")[0]: line for line in proc.stdout.splitlines() if line.startswith("| ")}
    assert rows_of["| wrong among accepted"].endswith("| worse |")
    assert rows_of["| in-domain answered right"].endswith("| worse |")
    assert rows_of["|   wrong among accepted, babble"].endswith("| worse |")
    assert "Wrong answers only before / only after / both: " in proc.stdout
    fresh_part = proc.stdout.split("Fresh noise:", 1)[1]  # b: more wrong answers a stricter gate cannot refuse
    assert "| right answers at the grid's best point, wrong ≤ 0.01 / 0.02 / 0.03 / 0.05 |" in fresh_part
    assert next(line for line in fresh_part.splitlines() if "grid's best point" in line).endswith("| worse |")
    write_signals(tmp_path / "fresh-b.jsonl", fresh_rows(2, 0.2)[4:])
    proc = subprocess.run([sys.executable, "-m", "golemline.cli", "gate", "compare", str(tmp_path / "a.jsonl"),
                           str(tmp_path / "b.jsonl"), "--fresh", str(tmp_path / "fresh-a.jsonl"),
                           str(tmp_path / "fresh-b.jsonl")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "not of the same corpus" in proc.stderr and "Traceback" not in proc.stderr
