"""Memory readings: process RSS on CPU, allocator statistics on CUDA."""

from __future__ import annotations

import resource


def rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def max_rss_bytes() -> int:
    """Peak RSS of this process over its lifetime (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cuda_allocated() -> tuple[int, int]:
    """(allocated now, peak allocated) on the current CUDA device."""
    import torch

    return int(torch.cuda.memory_allocated()), int(torch.cuda.max_memory_allocated())
