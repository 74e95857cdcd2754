"""Capture for labelling: off by default, the verdict filter, the sample rate and the caps honoured, transcripts
only when asked, audio never in a log line; and the Label Studio round trip (capture → tasks → labelled export →
metadata.csv → `golem gate calibrate --data`) with the real golems."""

from __future__ import annotations

import base64
import csv
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from golemline import capture
from golemline.audio import Audio
from golemline.cli import main
from golemline.errors import ConfigError
from golemline.evaluation import labelstudio
from golemline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def audio(seed: int) -> Audio:
    samples = (0.1 * np.random.default_rng(seed).standard_normal(8000)).astype(np.float32)
    return Audio(samples=samples, source_rate=16000, source_channels=1)


def result(i: int, stage: str | None = None) -> dict[str, Any]:
    """A `PipelineResult.as_dict()`: accepted, or refused at `stage`."""
    scribe = {"signals": {"no_speech_prob": 0.1, "avg_logprob": -0.3, "compression_ratio": 1.1}}
    if stage is None:
        return {"input": f"in{i}", "request_id": f"req-{i}", "status": "ok", "transcript": "set a timer",
                "intent": {"label": "timer", "score": 0.7, "margin": 0.2, "none_score": 0.1}, "reply": "ok",
                "rejection": None, "stages": {"scribe": scribe}}
    return {"input": f"in{i}", "request_id": f"req-{i}", "status": "rejected", "transcript": "mumble",
            "intent": None, "reply": None, "stages": {"scribe": scribe},
            "rejection": {"stage": stage, "reason": "low_intent_score", "detail": "",
                          "signals": {"label": "music", "score": 0.2, "margin": 0.01}}}


def store(tmp_path: Path, **config: Any) -> capture.Capture:
    return capture.Capture(capture.CaptureConfig(str(tmp_path / "cap"), **config))


def rows_of(root: Path) -> list[dict[str, Any]]:
    path = root / "metadata.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_capture_is_off_by_default() -> None:
    assert Settings().capture_dir is None and capture.from_settings(Settings()) is None


def test_the_verdict_filter_keeps_only_the_verdicts_asked_for(tmp_path: Path) -> None:
    kept = store(tmp_path, verdicts=capture.parse_verdicts("rejected:interpreter"))
    inputs = [(f"in{i}", audio(i)) for i in range(3)]
    results = [result(0), result(1, "interpreter"), result(2, "scribe")]
    assert kept.offer(inputs, results) == 1
    [row] = rows_of(tmp_path / "cap")
    assert (row["request_id"], row["verdict"], row["stage"], row["reason"]) == (
        "req-1", "rejected", "interpreter", "low_intent_score")
    assert row["predicted_intent"] == "music" and row["signals"]["score"] == 0.2 and row["intent"] == ""
    assert (tmp_path / "cap" / row["file_name"]).is_file()
    everything = store(tmp_path / "b")
    assert everything.offer(inputs, results) == 3


def test_caps_on_files_and_bytes_hold_across_restarts(tmp_path: Path) -> None:
    inputs = [(f"in{i}", audio(i)) for i in range(5)]
    results = [result(i) for i in range(5)]
    assert store(tmp_path, max_files=3).offer(inputs, results) == 3
    assert store(tmp_path, max_files=4).offer(inputs, [result(i) for i in range(5, 10)]) == 1  # counts what is there
    assert len(list((tmp_path / "cap" / "audio").iterdir())) == 4 and len(rows_of(tmp_path / "cap")) == 4
    one_file = (tmp_path / "cap" / "audio").iterdir().__next__().stat().st_size
    assert store(tmp_path / "bytes", max_bytes=2 * one_file + 10).offer(inputs, results) == 2


def test_the_sample_rate_is_a_stable_share_of_request_ids() -> None:
    chosen = [capture.sampled(f"req-{i}", 0.25) for i in range(2000)]
    assert 400 <= sum(chosen) <= 600 and chosen == [capture.sampled(f"req-{i}", 0.25) for i in range(2000)]
    assert all(capture.sampled(f"req-{i}", 1.0) for i in range(10))


def test_transcripts_only_when_asked_and_audio_never_in_a_log_line(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    inputs = [("in0", audio(0))]
    with caplog.at_level(logging.DEBUG):
        store(tmp_path / "a").offer(inputs, [result(0)])
        store(tmp_path / "b", log_transcripts=True).offer(inputs, [result(0)])
    plain, kept = rows_of(tmp_path / "a" / "cap"), rows_of(tmp_path / "b" / "cap")
    assert "transcript" not in plain[0] and kept[0]["transcript"] == "set a timer"
    wav = (tmp_path / "a" / "cap" / plain[0]["file_name"]).read_bytes()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "captured req-0" in logged
    assert base64.b64encode(wav[44:200]).decode()[:40] not in logged and "RIFF" not in logged
    assert all(len(r.getMessage()) < 300 for r in caplog.records)


def test_an_fsspec_url_works(tmp_path: Path) -> None:
    import fsspec

    kept = capture.Capture(capture.CaptureConfig("memory://golem-capture-test"))
    assert kept.offer([("in0", audio(0))], [result(0)]) == 1
    fs = fsspec.filesystem("memory")
    [line] = fs.cat_file("/golem-capture-test/metadata.jsonl").decode().splitlines()
    assert fs.exists("/golem-capture-test/" + json.loads(line)["file_name"])
    fs.rm("/golem-capture-test", recursive=True)


@pytest.mark.parametrize("flags, message", [
    (["--capture-verdicts", "accepted,maybe"], "capture verdicts 'accepted,maybe'"),
    (["--capture-rate", "0"], "capture_rate 0 must be above 0"),
    (["--capture-max-files", "0"], "capture caps"),
])
def test_bad_capture_settings_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      flags: list[str], message: str) -> None:
    assert main(["run", "--capture-dir", str(tmp_path / "c"), *flags, str(ROOT / "samples" / "timer.wav")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("golem: error: ") and message in line
    assert not (tmp_path / "c").exists()
    with pytest.raises(ConfigError):
        capture.parse_verdicts("")


def labelled(tasks: list[dict[str, Any]], label: Any) -> list[dict[str, Any]]:
    """What a Label Studio JSON export of these tasks looks like once a person has labelled them: each task with an
    id and an annotation whose result holds the chosen intent (the prediction kept, as Label Studio does)."""
    out = []
    for n, task in enumerate(tasks, start=1):
        choice = label(task)
        annotations = [] if choice is None else [{"id": n, "was_cancelled": False, "result": [
            {"from_name": "intent", "to_name": "audio", "type": "choices", "value": {"choices": [choice]}}]}]
        out.append({"id": n, **task, "annotations": annotations})
    return out


def test_import_refuses_unknown_labels_and_foreign_tasks_and_writes_nothing(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    store(tmp_path).offer([(f"in{i}", audio(i)) for i in range(3)], [result(i) for i in range(3)])
    data = tmp_path / "cap"
    tasks = labelstudio.tasks(data)
    assert [t["predictions"][0]["result"][0]["value"]["choices"] for t in tasks] == [["timer"]] * 3
    export = tmp_path / "export.json"
    export.write_text(json.dumps(labelled(tasks, lambda t: "lights")))
    assert main(["capture", "import-labelstudio", str(export), "--data", str(data)]) == 2
    assert "is labelled 'lights', which is not in the intents file" in capsys.readouterr().err
    export.write_text(json.dumps([{**labelled(tasks, lambda t: "timer")[0], "data": {"file_name": "audio/x.wav"}}]))
    assert main(["capture", "import-labelstudio", str(export), "--data", str(data)]) == 2
    assert "names 'audio/x.wav'" in capsys.readouterr().err
    assert not (data / "metadata.csv").exists()


SAMPLE_LABELS = {"weather": "weather", "timer": "timer", "music": "music", "news": "news", "smalltalk": "smalltalk",
                 "misheard": None, "noise": "none", "silence": "none", "offtopic": "none"}


@pytest.mark.slow
def test_capture_label_studio_import_calibrate_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Must-show 5, three commands: `golem run --capture-dir` on the shipped samples with the real golems, the tasks
    exported with the predictions pre-filled, a person's labelling simulated by turning the tasks into a Label
    Studio export, imported into metadata.csv, and calibrated on with `--data --augment`."""
    data, samples = tmp_path / "capture", tmp_path / "samples"
    shutil.copytree(ROOT / "samples", samples, ignore=shutil.ignore_patterns("*.py"))
    assert main(["run", "--capture-dir", str(data), "--json", str(samples)]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    captured = rows_of(data)
    assert len(captured) == len(answers) == 9
    assert {r["verdict"] for r in captured} == {"accepted", "rejected"}
    assert "transcript" not in captured[0]  # no --log-transcripts

    tasks_path = tmp_path / "tasks.json"
    assert main(["capture", "export-labelstudio", str(data), "--out", str(tasks_path)]) == 0
    tasks = json.loads(tasks_path.read_text())
    by_input = {Path(a["input"]).stem: a for a in answers}
    for task in tasks:  # the prediction is what the pipeline answered (a refusal predicts none)
        answer = by_input[Path(task["data"]["input"]).stem]
        expected = answer["intent"]["label"] if answer["status"] == "ok" else "none"
        assert task["predictions"][0]["result"][0]["value"]["choices"] == [expected]
    assert '<Choice value="none"/>' in (tmp_path / "tasks-config.xml").read_text()

    export = tmp_path / "export.json"
    export.write_text(json.dumps(labelled(tasks, lambda t: SAMPLE_LABELS[Path(t["data"]["input"]).stem])))
    assert main(["capture", "import-labelstudio", str(export), "--data", str(data)]) == 0
    assert "8 labelled rows" in capsys.readouterr().out  # one task left unlabelled
    with (data / "metadata.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["intent"] for r in rows) == sorted(v for v in SAMPLE_LABELS.values() if v)

    out, report = tmp_path / "gating.yaml", tmp_path / "gating.md"
    assert main(["gate", "calibrate", "--data", str(data), "--augment", "--max-wrong", "0.5", "--delta", "0.5",
                 "--out", str(out), "--report", str(report)]) == 0
    assert "minIntentScore" in out.read_text() and "| heldout |" in report.read_text()


def test_the_served_pipeline_captures_what_it_answers_when_asked(tmp_path: Path) -> None:
    """`golem serve --capture-dir`: the pipeline model (the one V1, V2 and gRPC share) keeps each answered request,
    with its verdict, off the event loop; without the option it keeps nothing."""
    import asyncio
    import io

    import soundfile

    from golemline.pipeline import Chain
    from golemline.serving.pipeline_model import PipelineModel
    from tests.test_fakes import FakeStages, _tone, _transcript

    buffer = io.BytesIO()
    soundfile.write(buffer, _tone().samples, 16000, format="WAV")
    body = {"instances": [{"audio": base64.b64encode(buffer.getvalue()).decode()}]}

    async def serve_once(settings: Settings) -> PipelineModel:
        stages = FakeStages([_transcript("what is the weather")], {"what is the weather": ("weather", 0.8, 0.4)})

        async def none_down() -> list[str]:
            return []

        model = PipelineModel(settings, Chain(settings, stages.callers()), lambda: True, none_down)
        await model.predict(await model.preprocess(body))
        return model

    on = asyncio.run(serve_once(Settings(capture_dir=str(tmp_path / "cap"))))
    [row] = rows_of(tmp_path / "cap")
    assert on.capture is not None and row["verdict"] == "accepted" and row["predicted_intent"] == "weather"
    off = asyncio.run(serve_once(Settings()))
    assert off.capture is None and len(rows_of(tmp_path / "cap")) == 1
