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


def single_threaded_numpy_blas() -> None:
    """Keep numpy's BLAS (OpenBLAS) on the calling thread, for the whole process.

    Why: the Scribe's log-mel is a small numpy matmul, and OpenBLAS's worker threads busy-wait for a while after
    every call. On 2 cores they took a core from CTranslate2's encoder and decoder that ran right after: a 2 s
    command's Scribe call took 107 ms instead of 77 ms (side by side, one run). The matmul needs no second thread
    and gives bit-identical features on one; torch and CTranslate2 keep their own thread pools. Applies to the BLAS
    libraries loaded when it is called (numpy's is), so the Scribe calls it on every load.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
