"""A user's labelled recordings as a calibration dataset, in the Hugging Face `audiofolder` layout.

Why this layout: it is what `datasets.load_dataset("audiofolder", data_dir=DIR)` reads, what Label Studio exports
can be turned into, and what `golem capture` writes, so one folder carries a team's recordings from production
capture through labelling to `golem gate calibrate --data DIR` without a conversion step. The folder holds audio
files and one `metadata.csv` (or `metadata.jsonl`) with a row per file:

- `file_name` (required): the audio file, relative to the folder;
- `intent` (required): an intent name from the intents file, or `none` for speech that asks for no intent;
- `speaker`, `transcript` (optional): who spoke (held-out rows are whole speakers), what was said;
- `split`, `take`, `id`, `group`, `category`, `condition`, `snr_db`, `synth` (optional): what `golem gate
  export-corpus` writes so that the built-in corpus read back is the very corpus calibration knows.

Every fault of the folder (no metadata, a missing column, a row naming a missing file or an unknown intent, no
rows) is one `DatasetError` naming the file, the row and the problem, raised before anything is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from golemline.errors import ConfigError
from golemline.evaluation.calibrate import NONE, take_of

SPLITS = ("calibration", "heldout")
REQUIRED = ("file_name", "intent")
HELDOUT_SHARE = 0.3
"""About this share of speakers (or of recordings, when no speaker is given) is held out for the report."""
COLUMNS = ("file_name", "intent", "speaker", "transcript", "split", "take", "id", "group", "category", "condition",
           "snr_db", "synth")
"""The columns `export_corpus` writes, in order; other columns of a user's metadata are kept but unused."""


class DatasetError(ConfigError):
    """A calibration dataset that cannot be used: one line naming the folder or row and the problem (exit 2)."""


@dataclass(frozen=True)
class Dataset:
    """A read dataset: its folder and one calibration row per recording (the keys `golemline.evaluation` rows use,
    without the signals)."""

    root: Path
    rows: list[dict[str, Any]]

    def audio_path(self, row: dict[str, Any]) -> Path:
        return self.root / row["file_name"]


def _stable(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def read_metadata(root: Path) -> tuple[Path, list[dict[str, str]]]:
    """The metadata file of `root` (metadata.csv, else metadata.jsonl) and its rows as strings."""
    if not root.is_dir():
        raise DatasetError(f"{root}: no such dataset folder")
    csv_path, jsonl_path = root / "metadata.csv", root / "metadata.jsonl"
    if csv_path.is_file():
        text = csv_path.read_text(encoding="utf-8-sig")
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{csv_path}: no {' or '.join(missing)} column (the header must name file_name and "
                               "intent)")
        return csv_path, [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    if jsonl_path.is_file():
        rows = []
        for number, line in enumerate(jsonl_path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                raise DatasetError(f"{jsonl_path}: line {number} is not valid JSON") from None
            if not isinstance(value, dict):
                raise DatasetError(f"{jsonl_path}: line {number} is not a JSON object")
            missing = [c for c in REQUIRED if c not in value]
            if missing:
                raise DatasetError(f"{jsonl_path}: line {number} has no {' or '.join(missing)}")
            rows.append({k: "" if v is None else str(v).strip() for k, v in value.items()})
        return jsonl_path, rows
    raise DatasetError(f"{root}: no metadata.csv or metadata.jsonl (an audiofolder dataset lists its audio files "
                       "with file_name and intent columns)")


def _split_by(rows: list[dict[str, str]]) -> list[str]:
    """Per row: calibration or heldout. A `split` column wins; else whole speakers are held out (the speakers whose
    stable hash ranks in the first HELDOUT_SHARE, at least one, never all); else recordings by a stable hash."""
    if any(r.get("split") for r in rows):
        return [r.get("split", "") for r in rows]
    speakers = sorted({r["speaker"] for r in rows if r.get("speaker")}, key=_stable)
    if len(speakers) >= 2 and all(r.get("speaker") for r in rows):
        count = min(len(speakers) - 1, max(1, round(HELDOUT_SHARE * len(speakers))))
        held_out = set(speakers[:count])
        return ["heldout" if r["speaker"] in held_out else "calibration" for r in rows]
    keys = [_stable(r.get("take") or r["file_name"]) for r in rows]
    held = [key % 1000 < HELDOUT_SHARE * 1000 for key in keys]
    if len(set(keys)) >= 2 and len(set(held)) == 1:  # a small dataset all on one side: move the lowest-ranked take
        edge = min(keys) if not held[0] else max(keys)
        held = [h != (key == edge) for h, key in zip(held, keys, strict=True)]
    return ["heldout" if h else "calibration" for h in held]


def read(root: Path, intents: Iterable[str], check_files: bool = True) -> Dataset:
    """Read and check a dataset folder. `intents`: the names a row may carry besides `none`. `check_files`: every
    row's audio must exist (off only when recorded signals stand in for the audio)."""
    source, raw = read_metadata(root)
    if not raw:
        raise DatasetError(f"{source}: no rows (the dataset is empty)")
    known = set(intents)
    seen: set[str] = set()
    for number, row in enumerate(raw, start=2 if source.suffix == ".csv" else 1):
        where = f"{source}: {'row' if source.suffix == '.csv' else 'line'} {number}"
        name = row.get("file_name", "")
        if not name:
            raise DatasetError(f"{where} has an empty file_name")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise DatasetError(f"{where}: file_name {name!r} must be a path inside the dataset folder")
        if check_files and not (root / name).is_file():
            raise DatasetError(f"{where}: file_name {name!r} names no file in {root}")
        intent = row.get("intent", "")
        if intent != NONE and intent not in known:
            raise DatasetError(f"{where}: intent {intent!r} is not in the intents file ({', '.join(sorted(known))}) "
                               "nor `none`")
        if row.get("split") and row["split"] not in SPLITS:
            raise DatasetError(f"{where}: split {row['split']!r} is neither calibration nor heldout")
        key = row.get("id") or name
        if key in seen:
            raise DatasetError(f"{where}: {key!r} appears twice")
        seen.add(key)
    splits = _split_by(raw)
    rows = [_row(r, split) for r, split in zip(raw, splits, strict=True)]
    return Dataset(root, rows)


def _row(raw: dict[str, str], split: str) -> dict[str, Any]:
    """A metadata row as a calibration row (the keys `golemline.evaluation.corpus.Case` has)."""
    intent = raw["intent"]
    snr = raw.get("snr_db", "")
    return {
        "id": raw.get("id") or raw["file_name"], "file_name": raw["file_name"], "split": split,
        "group": raw.get("group") or ("in-domain" if intent != NONE else "off-domain"),
        "category": raw.get("category") or intent, "label": intent, "text": raw.get("transcript", ""),
        "speaker": raw.get("speaker") or "-", "synth": raw.get("synth") or "recorded",
        "condition": raw.get("condition") or "clean", "snr_db": int(snr) if snr else None,
        "source": raw.get("take") or raw["file_name"],
    }


def with_signals(dataset: Dataset, recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dataset's rows with signals recorded before (`golem gate calibrate --signals-out`), matched by id: the
    dataset says what the right answer, the split and the take are; the recording only what the golems measured."""
    by_id = {r["id"]: r for r in recorded}
    missing = [r["id"] for r in dataset.rows if r["id"] not in by_id]
    if missing:
        raise DatasetError(f"{dataset.root}: {len(missing)} rows have no recorded signals, e.g. id {missing[0]!r} "
                           "(record them: calibrate without --signals)")
    return [{**by_id[r["id"]], **{k: v for k, v in r.items() if k != "file_name"}} for r in dataset.rows]


def shortfall(accepted: int, needed: int, max_wrong: float, delta: float) -> str:
    """What a dataset too small to certify the asked risk is missing, in the user's terms."""
    return (f"the dataset is too small to certify at most {max_wrong:g} wrong answers at delta {delta:g}: that needs "
            f"at least {needed} accepted answers on each half of the calibration split, all of them right "
            f"(this dataset's calibration split has {accepted} recordings in all); record more, or ask for a "
            "looser --max-wrong or --delta")


def augmented(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per clean recording, one noisy copy and one through a damaged channel, cycling the corpus's noises, SNRs and
    channels as the built-in corpus does (`corpus._speech_cases`). A copy keeps its recording's take, so a take's
    copies stay in one half of Learn then Test."""
    from golemline.evaluation import degrade
    from golemline.evaluation.corpus import SNRS_DB

    out = []
    for k, row in enumerate(r for r in rows if r["condition"] == "clean"):
        noise, snr = degrade.NOISES[k % 4], SNRS_DB[(k // 4) % 4]
        channel = degrade.CHANNELS[k % 3]
        out.append({**row, "id": f"{row['id']}#{noise}{snr}", "condition": f"{noise} {snr} dB", "snr_db": snr,
                    "augmented": True})
        out.append({**row, "id": f"{row['id']}#{channel}", "condition": channel, "augmented": True})
    return rows + out


def samples(dataset: Dataset, row: dict[str, Any], max_seconds: float) -> np.ndarray:
    """A row's audio at 16 kHz mono, degraded as its condition says (augmented copies), noise seeded by its id."""
    from golemline.audio import decode
    from golemline.evaluation import degrade

    path = dataset.audio_path(row)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        speech = decode(data, max_seconds=max_seconds, max_bytes=max(len(data), 1), name=str(path)).samples
    except Exception as exc:  # an undecodable file is the dataset's fault: one line
        raise DatasetError(str(exc)) from exc
    condition = row["condition"]
    if not row.get("augmented"):
        return speech
    rng = np.random.default_rng(_stable(row["id"]))
    if row.get("snr_db") is None:
        return degrade.channel(speech, condition)
    kind = condition.split()[0]
    if kind == "pink":
        noise = degrade.pink(len(speech), rng)
    elif kind == "music":
        noise = degrade.music(len(speech), rng)
    elif kind == "babble":  # other recordings of the same split, as the corpus does
        others = [r for r in dataset.rows if r["split"] == row["split"] and r["file_name"] != row["file_name"]]
        picks: list[int] = ([int(i) for i in rng.choice(len(others), size=min(4, len(others)), replace=False)]
                            if others else [])
        voices = [samples(dataset, others[i], max_seconds) for i in picks]
        noise = degrade.babble(len(speech), voices, rng) if voices else rng.standard_normal(len(speech))
    else:
        noise = rng.standard_normal(len(speech)).astype(np.float32)
    return degrade.add_noise(speech, noise, row["snr_db"])


def corpus_metadata(cases: Iterable[Any]) -> list[dict[str, str]]:
    """The metadata rows `export_corpus` writes for the built-in corpus's cases: every column that makes the read
    dataset the corpus calibration knows (split, take, id, group, condition)."""
    rows = []
    for case in cases:
        name = f"{case.split}/{hashlib.sha256(case.id.encode()).hexdigest()[:16]}.wav"
        rows.append({"file_name": name, "intent": case.label, "speaker": case.speaker, "transcript": case.text,
                     "split": case.split, "take": take_of({"id": case.id, "source": case.source}), "id": case.id,
                     "group": case.group, "category": case.category, "condition": case.condition,
                     "snr_db": "" if case.snr_db is None else str(case.snr_db), "synth": case.synth})
    return rows


def write_metadata(root: Path, rows: list[dict[str, str]], columns: Iterable[str] = COLUMNS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = root / "metadata.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def export_corpus(corpus: Any, out: Path, audio: bool = True) -> int:
    """Write the built-in corpus as an audiofolder dataset: each case's exact audio (32-bit float WAV, so reading
    it back gives the samples the corpus path measures) and metadata.csv. `audio=False`: metadata only, to pair
    with signals recorded before (`golem gate calibrate --data DIR --signals FILE`)."""
    import soundfile

    from golemline.audio import TARGET_RATE

    rows = corpus_metadata(corpus.cases)
    if audio:
        for split in SPLITS:
            (out / split).mkdir(parents=True, exist_ok=True)
        for case, row in zip(corpus.cases, rows, strict=True):
            soundfile.write(out / row["file_name"], corpus.samples(case), TARGET_RATE, subtype="FLOAT")
    write_metadata(out, rows)
    return len(rows)


def describe(rows: list[dict[str, Any]], root: Path) -> list[str]:
    """Markdown lines for the report: what the dataset holds per split (counted from the rows)."""
    from collections import Counter

    lines = [f"Dataset `{root}` (audiofolder: metadata and audio).", "",
             "| split | speakers | in-domain | `none` | conditions | total |", "| --- | --- | --- | --- | --- | --- |"]
    for split in SPLITS:
        part = [r for r in rows if r["split"] == split]
        labels = Counter("none" if r["label"] == NONE else "in" for r in part)
        lines.append(f"| {split} | {len({r['speaker'] for r in part})} | {labels['in']} | {labels['none']} | "
                     f"{len({r['condition'] for r in part})} | {len(part)} |")
    return lines
