"""Every Prometheus metric golemline exports, defined in one place.

Dashboards and alert rules import the names from here, so exporter and dashboards cannot drift. Label values are
bounded: golem/model names, a fixed outcome set, gating reason codes, device names.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

OUTCOMES = ("ok", "rejected", "invalid", "overloaded", "error")

REQUESTS = Counter("golemline_requests", "Requests answered, by model and outcome", ["model", "outcome"])
REJECTIONS = Counter("golemline_rejections", "Pipeline requests rejected by the gate, by stage and reason",
                     ["stage", "reason"])
REQUEST_SECONDS = Histogram("golemline_request_duration_seconds", "End-to-end request latency per model",
                            ["model"], buckets=LATENCY_BUCKETS)
STAGE_SECONDS = Histogram("golemline_stage_duration_seconds", "Latency of each pipeline stage as seen by the chain",
                          ["stage"], buckets=LATENCY_BUCKETS)
BATCH_SIZE = Histogram("golemline_batch_size", "Requests per batched forward pass", ["golem"], buckets=BATCH_BUCKETS)
QUEUE_DEPTH = Gauge("golemline_queue_depth", "Requests waiting in a golem's batching queue", ["golem"])
MODEL_LOADED = Gauge("golemline_model_loaded", "1 while the golem's weights are loaded", ["golem"])
LOAD_SECONDS = Histogram("golemline_model_load_duration_seconds", "Time to load a golem's weights", ["golem"],
                         buckets=LATENCY_BUCKETS)
UNLOAD_SECONDS = Histogram("golemline_model_unload_duration_seconds", "Time to unload a golem's weights",
                           ["golem"], buckets=LATENCY_BUCKETS)
SWAPS = Counter("golemline_model_swaps", "Times a golem was banished (unloaded) to make room or by policy",
                ["golem"])
DEVICE_MEMORY = Gauge("golemline_device_memory_bytes", "Device memory held by the golem's weights",
                      ["golem", "device"])
DEVICE_BUSY = Counter("golemline_device_busy_seconds", "Seconds the device spent running the golem's batches "
                      "(× price per device-second = cost)", ["golem", "device"])
