"""Metric names as Prometheus exposes them, taken from the metric objects themselves (no string drift), and the
DCGM exporter's names (checked against dcgm-exporter's default counters by a test)."""

from __future__ import annotations

from typing import Any

from golemline.serving import metrics as m


def _base(metric: Any) -> str:
    return str(metric._name)


REQUESTS = f"{_base(m.REQUESTS)}_total"
REJECTIONS = f"{_base(m.REJECTIONS)}_total"
REQUEST_SECONDS = _base(m.REQUEST_SECONDS)
STAGE_SECONDS = _base(m.STAGE_SECONDS)
BATCH_SIZE = _base(m.BATCH_SIZE)
QUEUE_DEPTH = _base(m.QUEUE_DEPTH)
MODEL_LOADED = _base(m.MODEL_LOADED)
LOAD_SECONDS = _base(m.LOAD_SECONDS)
UNLOAD_SECONDS = _base(m.UNLOAD_SECONDS)
LOAD_FAILURES = f"{_base(m.LOAD_FAILURES)}_total"
SWAPS = f"{_base(m.SWAPS)}_total"
DEVICE_MEMORY = _base(m.DEVICE_MEMORY)
DEVICE_BUSY = f"{_base(m.DEVICE_BUSY)}_total"
DEVICE_PRICE = _base(m.DEVICE_PRICE)
ALLOCATED_DEVICES = _base(m.ALLOCATED_DEVICES)
SIGNALS = {name: _base(metric) for name, metric in m.SIGNALS.items()}
CANARY_ACCURACY = _base(m.CANARY_ACCURACY)
CANARY_WER = _base(m.CANARY_WER)
CANARY_KNOWN_GOOD_REJECTED = _base(m.CANARY_KNOWN_GOOD_REJECTED)
CANARY_DURATION = _base(m.CANARY_DURATION)
CANARY_LAST_RUN = _base(m.CANARY_LAST_RUN)
CANARY_INTERVAL = _base(m.CANARY_INTERVAL)
CANARY_RUNS = f"{_base(m.CANARY_RUNS)}_total"

DCGM_GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
DCGM_FB_USED = "DCGM_FI_DEV_FB_USED"
DCGM_FB_FREE = "DCGM_FI_DEV_FB_FREE"
DCGM_POWER = "DCGM_FI_DEV_POWER_USAGE"
DCGM = (DCGM_GPU_UTIL, DCGM_FB_USED, DCGM_FB_FREE, DCGM_POWER)
GOLEM_PODS = 'pod=~".*-(scribe|interpreter|oracle|monolith)-predictor.*"'
