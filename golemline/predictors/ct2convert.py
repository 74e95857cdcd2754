"""Transformers weights to a CTranslate2 model, in memory, at load time.

Why: the small golems are launch-bound — the bundled Oracle's arithmetic is well under a millisecond per token, yet
torch's `generate()` spends several milliseconds per token in Python and per-op dispatch. CTranslate2 runs the same
weights from C++ (the Scribe already uses it). Converting at load time keeps one set of weights in the package (the
torch backends stay selectable and read the same files) and leaves no cache directory to go stale: the converter
writes into a temporary directory, its files are read back into memory, and CTranslate2 loads them from there.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from golemline.errors import ConfigError

COMPUTE_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "int8"}


def converted_files(model_dir: Path) -> dict[str, bytes]:
    """The CTranslate2 model files for the transformers model in `model_dir` (name → contents).

    Weights keep their stored precision (no quantization here); CTranslate2 casts them to the compute type it is
    loaded with, as torch does when it loads fp16 weights as fp32."""
    from ctranslate2.converters import TransformersConverter

    with tempfile.TemporaryDirectory(prefix="golem-ct2-") as tmp:
        out = Path(tmp) / "model"
        try:
            TransformersConverter(str(model_dir)).convert(str(out), quantization=None, force=True)
        except (NotImplementedError, ValueError) as exc:  # an architecture CTranslate2 has no converter for
            raise ConfigError(f"{model_dir}: CTranslate2 cannot convert this model ({exc}); "
                              "use the torch backend") from exc
        return {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
