"""Loopback server helpers for the tests (they live in the package, shared with the benchmarks)."""

from golemline.serving.launch import Server, SplitDeployment, audio_b64, free_port, v1, v2, v2_results

__all__ = ["Server", "SplitDeployment", "audio_b64", "free_port", "v1", "v2", "v2_results"]
