"""Captured audio to Label Studio and back: capture → label → calibrate in three commands (docs/calibration.md).

Why Label Studio's JSON and not a client: its task import format (`data`, `predictions`) and its JSON export
(`annotations[].result[].value.choices`) are documented and stable, so a file is all that crosses over and nothing
needs installing here. Tasks carry the golems' predicted intent as a pre-filled prediction, so a labeller mostly
confirms; the import writes `metadata.csv` beside the captured `metadata.jsonl` (which stays as captured), and
`golem gate calibrate --data DIR` then reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from golemline.evaluation.calibrate import NONE
from golemline.evaluation.dataset import DatasetError, write_metadata

FROM_NAME, TO_NAME = "intent", "audio"
"""The names of the labelling config's Choices and Audio tags (the export's `from_name` / `to_name`)."""
IMPORTED_COLUMNS = ("file_name", "intent", "speaker", "transcript", "predicted_intent", "input", "request_id", "time",
                    "verdict", "stage", "reason")


def captured_rows(root: Path) -> list[dict[str, Any]]:
    """The rows `golem serve|run --capture-dir` wrote (metadata.jsonl)."""
    path = root / "metadata.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the captured rows ({exc.strerror}); capture writes it") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise DatasetError(f"{path}: line {number} is not valid JSON") from None
    if not rows:
        raise DatasetError(f"{path}: no captured rows")
    return rows


def labelling_config(intents: Iterable[str]) -> str:
    """Label Studio's labelling interface for these intents (paste into the project's settings)."""
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in [*intents, NONE])
    return (f'<View>\n  <Audio name="{TO_NAME}" value="${TO_NAME}"/>\n'
            f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInline="true">\n{choices}\n'
            "  </Choices>\n</View>\n")


def tasks(root: Path, audio_prefix: str | None = None) -> list[dict[str, Any]]:
    """One Label Studio task per captured row, the predicted intent pre-filled (refusals predict `none`).
    `audio_prefix`: the URL under which Label Studio reaches the folder (default: its local-files storage)."""
    out = []
    for row in captured_rows(root):
        name = row["file_name"]
        url = (f"{audio_prefix.rstrip('/')}/{name}" if audio_prefix
               else f"/data/local-files/?d={(root.resolve() / name).as_posix().lstrip('/')}")
        predicted = row.get("predicted_intent") if row.get("verdict") == "accepted" else NONE
        data = {TO_NAME: url, **{k: v for k, v in row.items() if k in IMPORTED_COLUMNS and k != "intent"}}
        score = (row.get("signals") or {}).get("score")
        prediction: dict[str, Any] = {"model_version": "golemline", "result": [
            {"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices",
             "value": {"choices": [predicted or NONE]}}]}
        if isinstance(score, int | float):
            prediction["score"] = score
        out.append({"data": data, "predictions": [prediction]})
    return out


def export(root: Path, out: Path, intents: Iterable[str], audio_prefix: str | None = None) -> Path:
    """Write the tasks to `out` and the labelling config beside it (`<out stem>-config.xml`)."""
    rows = tasks(root, audio_prefix)
    config = out.with_name(out.stem + "-config.xml")
    out.write_text(json.dumps(rows, indent=1))
    config.write_text(labelling_config(intents))
    return config


def _label(task: dict[str, Any]) -> tuple[str | None, str | None]:
    """The latest completed annotation's choice and transcript text (None: not labelled)."""
    choice = text = None
    for annotation in task.get("annotations") or []:
        if annotation.get("was_cancelled"):
            continue
        for result in annotation.get("result") or []:
            value = result.get("value") or {}
            if value.get("choices"):
                choice = str(value["choices"][0])
            if value.get("text"):
                text = " ".join(map(str, value["text"]))
    return choice, text


def import_export(export_path: Path, root: Path, intents: Iterable[str]) -> tuple[int, int]:
    """Write `root/metadata.csv` from a Label Studio JSON export: every labelled task's captured row with the
    label as `intent`. Unlabelled tasks are left out. Every fault is raised before the file is written.
    Returns (rows written, tasks left unlabelled)."""
    try:
        document = json.loads(export_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DatasetError(f"{export_path}: cannot read the Label Studio export ({exc.strerror})") from exc
    except json.JSONDecodeError:
        raise DatasetError(f"{export_path}: not valid JSON (export the project as JSON)") from None
    if not isinstance(document, list):
        raise DatasetError(f"{export_path}: a Label Studio JSON export is a list of tasks")
    captured = {row["file_name"]: row for row in captured_rows(root)}
    known = set(intents)
    rows, unlabelled = [], 0
    for number, task in enumerate(document, start=1):
        data = task.get("data") if isinstance(task, dict) else None
        name = (data or {}).get("file_name")
        if name not in captured:
            raise DatasetError(f"{export_path}: task {number} names {name!r}, which {root}/metadata.jsonl does not "
                               "hold (export tasks with `golem capture export-labelstudio` from this folder)")
        choice, text = _label(task)
        if choice is None:
            unlabelled += 1
            continue
        if choice != NONE and choice not in known:
            raise DatasetError(f"{export_path}: task {number} ({name}) is labelled {choice!r}, which is not in the "
                               "intents file nor `none`")
        row = {**captured[name], "intent": choice}
        if text:
            row["transcript"] = text
        rows.append(row)
    if not rows:
        raise DatasetError(f"{export_path}: no task is labelled yet")
    write_metadata(root, rows, IMPORTED_COLUMNS)
    return len(rows), unlabelled
