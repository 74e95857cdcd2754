"""Gating evaluation: a reproducible spoken corpus, the golems' signals on it, risk-controlled thresholds and the
report (`golem gate calibrate`, docs/gating.md)."""
