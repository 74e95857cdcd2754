"""Which device "auto" means here: asked of torch, lazily, only when a golem is about to run."""

from __future__ import annotations


def resolve(device: str) -> str:
    """`auto` becomes cuda when torch sees a GPU, else cpu; an explicit device is returned as is (it is checked
    when the golems load, with a clear error)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
