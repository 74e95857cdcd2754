"""`golem gate calibrate --data`: a user's audiofolder dataset read, split and checked, the built-in corpus exported
as one and calibrated back to the shipped thresholds exactly, and every bad dataset refused in one line."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from golemline.cli import main
from golemline.evaluation import calibrate, dataset
from golemline.evaluation.command import read_signals, write_signals

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_SIGNALS = ROOT / "docs" / "gating-signals.jsonl.gz"
SHIPPED_MAX_WRONG = "0.05"  # docs/gating.md's command


def tone(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    soundfile.write(path, (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)


def write_dataset(root: Path, rows: list[dict[str, str]], audio: bool = True) -> None:
    for row in rows:
        if audio:
            tone(root / row["file_name"])
    dataset.write_metadata(root, rows, columns=list(rows[0]) if rows else ["file_name", "intent"])


def test_the_exported_corpus_calibrates_back_to_the_shipped_thresholds_exactly(tmp_path: Path) -> None:
    """Must-show 2. The built-in corpus exported as an audiofolder (metadata only: the audio is what the committed
    signals were recorded on, see the slow test below for that half), read back by `--data` with the committed
    signals matched by id: the gating config written is docs/gating.yaml, byte for byte. The labels, splits and
    takes come from the dataset, not the recording: relabelling one intent's calibration rows moves the result."""
    data, out = tmp_path / "corpus", tmp_path / "gating.yaml"
    assert main(["gate", "export-corpus", "--no-audio", "--out", str(data)]) == 0
    with (data / "metadata.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(read_signals(COMMITTED_SIGNALS))
    args = ["gate", "calibrate", "--data", str(data), "--signals", str(COMMITTED_SIGNALS),
            "--max-wrong", SHIPPED_MAX_WRONG, "--out", str(out)]
    assert main(args) == 0
    assert out.read_text() == (ROOT / "docs" / "gating.yaml").read_text()

    for row in rows:
        if row["split"] == "calibration" and row["intent"] == "weather":
            row["intent"] = "none"
    dataset.write_metadata(data, rows)
    assert main(args) == 0
    assert out.read_text() != (ROOT / "docs" / "gating.yaml").read_text()


def test_calibrating_a_recorded_dataset_writes_the_report_and_the_signals(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A user's dataset with recorded signals: the same outputs as the corpus path (config, report, signals)."""
    data = tmp_path / "data"
    assert main(["gate", "export-corpus", "--no-audio", "--out", str(data)]) == 0
    out, report, signals_out = tmp_path / "g.yaml", tmp_path / "report.md", tmp_path / "s.jsonl"
    assert main(["gate", "calibrate", "--data", str(data), "--signals", str(COMMITTED_SIGNALS), "--max-wrong",
                 "0.05", "--out", str(out), "--report", str(report), "--signals-out", str(signals_out)]) == 0
    text = report.read_text()
    assert f"Dataset `{data}`" in text and "| calibration |" in text
    assert (tmp_path / "report-tradeoff.png").exists()
    assert len(read_signals(signals_out)) == len(read_signals(COMMITTED_SIGNALS))
    assert "gating config written to" in capsys.readouterr().out


def test_held_out_rows_are_whole_speakers_else_a_stable_hash(tmp_path: Path) -> None:
    speakers = [f"spk{i}" for i in range(10)]
    rows = [{"file_name": f"{s}/{k}.wav", "intent": "weather" if k % 2 else "none", "speaker": s}
            for s in speakers for k in range(4)]
    write_dataset(tmp_path / "a", rows)
    read = dataset.read(tmp_path / "a", ["weather", "timer"])
    held = {r["speaker"] for r in read.rows if r["split"] == "heldout"}
    calib = {r["speaker"] for r in read.rows if r["split"] == "calibration"}
    assert len(held) == 3 and not held & calib and len(calib) == 7
    assert read.rows == dataset.read(tmp_path / "a", ["weather", "timer"]).rows  # stable
    assert {r["label"] for r in read.rows} == {"weather", "none"}
    assert {r["group"] for r in read.rows if r["label"] == "none"} == {"off-domain"}

    anonymous = [{"file_name": f"{k}.wav", "intent": "timer"} for k in range(200)]
    write_dataset(tmp_path / "b", anonymous)
    splits = [r["split"] for r in dataset.read(tmp_path / "b", ["timer"]).rows]
    assert 40 <= splits.count("heldout") <= 80 and splits == [r["split"] for r in dataset.read(
        tmp_path / "b", ["timer"]).rows]

    given = [{"file_name": f"{k}.wav", "intent": "timer", "speaker": "one", "split": "heldout" if k < 3 else
              "calibration"} for k in range(10)]
    write_dataset(tmp_path / "c", given)
    assert [r["split"] for r in dataset.read(tmp_path / "c", ["timer"]).rows].count("heldout") == 3


def test_augmenting_adds_a_noisy_and_a_channel_copy_of_each_take(tmp_path: Path) -> None:
    rows = [{"file_name": f"{k}.wav", "intent": "timer", "speaker": f"s{k % 3}"} for k in range(6)]
    write_dataset(tmp_path, rows)
    read = dataset.read(tmp_path, ["timer"])
    wider = dataset.augmented(read.rows)
    assert len(wider) == 18
    assert all(calibrate.take_of(r) == r["file_name"] for r in wider)  # copies stay with their take
    noisy = next(r for r in wider if r.get("snr_db") is not None)
    clean = dataset.samples(read, read.rows[0], 60)
    degraded = dataset.samples(read, noisy, 60)
    assert degraded.shape == clean.shape and not np.allclose(degraded, clean)
    assert np.array_equal(degraded, dataset.samples(read, noisy, 60))  # seeded by the row: the same every time


def recorded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": r["file_name"], "intent": r["intent"], "score": 0.8, "none_score": 0.1, "margin": 0.5,
             "no_speech_prob": 0.01, "avg_logprob": -0.1, "min_token_logprob": -0.5, "rms_dbfs": -20.0, "words": 4,
             "compression_ratio": 1.0} for r in rows]


def test_a_dataset_too_small_to_certify_says_how_many_answers_it_needs(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rows = [{"file_name": f"{k}.wav", "intent": "timer", "speaker": f"s{k % 4}"} for k in range(30)]
    write_dataset(tmp_path / "data", rows)
    write_signals(tmp_path / "s.jsonl", recorded(rows))
    out = tmp_path / "g.yaml"
    assert main(["gate", "calibrate", "--data", str(tmp_path / "data"), "--signals", str(tmp_path / "s.jsonl"),
                 "--max-wrong", "0.05", "--out", str(out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"needs at least {calibrate.fewest_to_certify(0.05, 0.1)} accepted answers" in line
    assert not out.exists()


GOOD = [{"file_name": f"{k}.wav", "intent": "timer", "speaker": f"s{k}"} for k in range(4)]


@pytest.mark.parametrize("case, message", [
    ("no metadata", "no metadata.csv or metadata.jsonl"),
    ("no intent column", "no intent column"),
    ("empty", "no rows (the dataset is empty)"),
    ("unknown intent", "row 3: intent 'lights' is not in the intents file"),
    ("missing file", "row 4: file_name '2.wav' names no file"),
    ("bad jsonl", "metadata.jsonl: line 2 is not valid JSON"),
    ("no folder", "no such dataset folder"),
])
def test_a_bad_dataset_is_one_line_exit_2_and_nothing_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              case: str, message: str) -> None:
    """Must-show 6: every fault named in one line before the golems load or anything is written."""
    data = tmp_path / "data"
    write_dataset(data, GOOD)
    if case == "no metadata":
        (data / "metadata.csv").unlink()
    elif case == "no intent column":
        dataset.write_metadata(data, GOOD, columns=["file_name", "speaker"])
    elif case == "empty":
        dataset.write_metadata(data, [], columns=["file_name", "intent"])
    elif case == "unknown intent":
        dataset.write_metadata(data, [GOOD[0], {**GOOD[1], "intent": "lights"}, *GOOD[2:]], columns=list(GOOD[0]))
    elif case == "missing file":
        (data / "2.wav").unlink()
    elif case == "bad jsonl":
        (data / "metadata.csv").unlink()
        (data / "metadata.jsonl").write_text(json.dumps(GOOD[0]) + "\n{not json\n")
    elif case == "no folder":
        shutil.rmtree(data)
    out, signals_out = tmp_path / "g.yaml", tmp_path / "s.jsonl"
    assert main(["gate", "calibrate", "--data", str(data), "--out", str(out), "--signals-out", str(signals_out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("golem: error: ") and message in line
    assert not out.exists() and not signals_out.exists()


def test_a_custom_intents_file_names_the_intents_a_row_may_carry(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    intents = tmp_path / "intents.yaml"
    intents.write_text("intents:\n  - {name: lights, description: switch lights, examples: [Turn on the light.]}\n"
                       "  - {name: heating, description: warm the house, examples: [Turn up the heating.]}\n")
    rows = [{"file_name": f"{k}.wav", "intent": ("lights", "heating", "none")[k % 3]} for k in range(6)]
    write_dataset(tmp_path / "data", rows)
    assert [r["label"] for r in dataset.read(tmp_path / "data", ["lights", "heating"]).rows][:3] == [
        "lights", "heating", "none"]
    assert main(["gate", "calibrate", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "g.yaml")]) == 2
    assert "intent 'lights' is not in the intents file" in capsys.readouterr().err


SIGNAL_KEYS = ("rms_dbfs", "transcript", "no_speech_prob", "avg_logprob", "min_token_logprob", "compression_ratio",
               "intent", "score", "margin", "none_score")


@pytest.mark.slow
@pytest.mark.skipif(any(shutil.which(t) is None for t in ("espeak-ng", "sox")), reason="needs espeak-ng and sox")
def test_the_exported_audio_is_what_the_corpus_path_measures(tmp_path: Path) -> None:
    """The other half of must-show 2: the exported audiofolder's audio, read back by `--data` and run through the
    real golems, gives the very signals the corpus path records for the same cases (clean, noisy, damaged and
    non-speech), so reusing recorded signals by id (the exactness test above) is reusing these measurements. On the
    CI slice (the full corpus needs festival), a dozen cases of every kind."""
    from golemline.evaluation import corpus, signals
    from golemline.settings import Settings

    built = corpus.build(tmp_path / "corpus", small=True, with_human=False)
    picked = [c for c in built.cases if c.split == "calibration"][:9] + [
        c for c in built.cases if c.group == "non-speech"][:3]
    settings = Settings()
    via_corpus = signals.record(built, settings, cases=picked)
    out = tmp_path / "exported"
    assert main(["gate", "export-corpus", "--small", "--no-human", "--cache", str(built.root), "--out", str(out)]) == 0
    read = dataset.read(out, ["weather", "timer", "music", "news", "smalltalk"])
    rows = {r["id"]: r for r in read.rows}
    via_data = signals.record_rows([rows[c.id] for c in picked], lambda r: dataset.samples(read, r, 60), settings)
    assert {c.condition for c in picked} >= {"clean", "reverb"}
    for a, b in zip(via_corpus, via_data, strict=True):
        assert a["id"] == b["id"] and {k: a[k] for k in SIGNAL_KEYS} == {k: b[k] for k in SIGNAL_KEYS}, a["id"]


def test_the_intents_file_lets_its_own_names_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --intents, rows naming its intents pass the checks (this tiny dataset then stops at its size)."""
    intents = tmp_path / "intents.yaml"
    intents.write_text("intents:\n  - {name: lights, description: switch lights, examples: [Turn on the light.]}\n"
                       "  - {name: heating, description: warm the house, examples: [Turn up the heating.]}\n")
    rows = [{"file_name": f"{k}.wav", "intent": ("lights", "heating", "none")[k % 3]} for k in range(6)]
    write_dataset(tmp_path / "data", rows)
    write_signals(tmp_path / "s.jsonl", recorded(rows))
    assert main(["gate", "calibrate", "--data", str(tmp_path / "data"), "--intents", str(intents), "--signals",
                 str(tmp_path / "s.jsonl"), "--out", str(tmp_path / "g.yaml")]) == 2
    assert "too small to certify" in capsys.readouterr().err
