"""Benchmarks: measured side by side, in one run, interleaved (the machines are noisy)."""
