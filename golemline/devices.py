"""Which device "auto" means here: asked of torch, lazily, only when a golem is about to run."""

from __future__ import annotations


def resolve(device: str) -> str:
    """`auto` becomes cuda when torch sees a GPU, else cpu; an explicit device is returned as is (it is checked
    when the golems load, with a clear error)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def apply_threads(threads: int | None) -> None:
    """torch's intra-op threads for this process (`threads` setting; CTranslate2 takes the same number when the
    Scribe loads). None keeps the libraries' defaults: one thread per core."""
    if threads:
        import torch

        torch.set_num_threads(threads)
