"""What a CTranslate2 model's weights occupy once loaded at a compute type, counted from its `model.bin`.

Why count instead of measure: CTranslate2 allocates outside torch, so the Scribe's footprint used to be read as the
process's RSS growth during load — which depends on the machine (CPU features pick other packed layouts, the
allocator keeps other arenas): tiny.en at fp32 grew one 2-core machine by 171 MiB and another (AVX-512) by
278 MiB, so budgets planned on it, and tests built on them, held on one machine only. The weights the model holds
are the same everywhere; like the torch golems (parameters and buffers), the Scribe is accounted by them, and the
pre-load estimate and the loaded figure are one number.

The file format is CTranslate2's own (`ctranslate2/specs/model_spec.py`, `_serialize`): a version, the spec's name
and revision, then each variable as name, rank, dimensions, type id, byte count and data. Only the headers are
read; the data is skipped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from golemline.errors import InvalidInput

TYPE_BYTES = (4, 1, 2, 4, 2, 2)
"""Bytes per element by CTranslate2 type id: float32, int8, int16, int32, float16, bfloat16."""
FLOAT_TYPES = {0, 4, 5}


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple[int, ...]
    type_id: int

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def quantizable(self) -> bool:
        """What CTranslate2 quantizes to int8: the 2-D weight matrices (linear layers and embeddings)."""
        return self.name.endswith("weight") and len(self.shape) == 2


def _read(handle: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = handle.read(size)
    if len(data) != size:
        raise InvalidInput(f"{handle.name}: truncated CTranslate2 model file")
    return int(struct.unpack(fmt, data)[0])


def _string(handle: BinaryIO) -> str:
    length = _read(handle, "<H")
    return handle.read(length).rstrip(b"\0").decode("utf-8", errors="replace")


def variables(model_bin: Path) -> list[Variable]:
    """The variables stored in a CTranslate2 `model.bin` (headers only)."""
    with model_bin.open("rb") as handle:
        version = _read(handle, "<I")
        if version >= 2:
            _string(handle)  # the spec's name
            _read(handle, "<I")  # its revision
        found = []
        for _ in range(_read(handle, "<I")):
            name = _string(handle)
            rank = _read(handle, "<B")
            shape = tuple(_read(handle, "<I") for _ in range(rank))
            if version >= 4:
                type_id = _read(handle, "<B")
                size = _read(handle, "<I")
            else:  # before version 4: the item size, then the element count
                item = _read(handle, "<B")
                type_id = {4: 0, 1: 1, 2: 4}.get(item, 0)
                size = _read(handle, "<I") * item
            handle.seek(size, 1)
            found.append(Variable(name, shape, type_id))
    return found


def loaded_bytes(model_bin: Path, dtype: str, device: str = "cpu") -> int:
    """Bytes the model's weights occupy once CTranslate2 has loaded them at `dtype` (golemline's names: fp32,
    fp16, bf16, int8). int8 keeps each quantized matrix as one byte per element plus a float32 scale per row; the
    other floats stay float32 on the CPU and float16 on a GPU (CTranslate2's int8_float32 / int8_float16)."""
    float_bytes = {"fp32": 4, "fp16": 2, "bf16": 2}.get(dtype, 2 if device == "cuda" else 4)
    total = 0
    for variable in variables(model_bin):
        if variable.type_id not in FLOAT_TYPES:  # integers (flags, strings, already quantized) load as stored
            total += variable.elements * TYPE_BYTES[variable.type_id]
        elif dtype == "int8" and variable.quantizable:
            total += variable.elements + variable.shape[0] * 4
        else:
            total += variable.elements * float_bytes
    return total
