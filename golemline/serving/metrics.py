"""Every Prometheus metric golemline exports, defined in one place.

Dashboards and alert rules import the names from here, so exporter and dashboards cannot drift. Label values are
bounded: golem/model names, a fixed outcome set, gating reason codes, device names.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from golemline.settings import GOLEMS

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
LOAD_FAILURES = Counter("golemline_model_load_failures", "Golem loads that failed", ["golem"])
SWAPS = Counter("golemline_model_swaps", "Times a golem was banished (unloaded) to make room or by policy",
                ["golem"])
DEVICE_MEMORY = Gauge("golemline_device_memory_bytes", "Device memory held by the golem's weights",
                      ["golem", "device"])
DEVICE_PRICE = Gauge("golemline_device_hourly_price_dollars", "Price of one device of this server per hour "
                     "(the pipeline spec's gpuHourlyPrice)", ["device"])
ALLOCATED_DEVICES = Gauge("golemline_allocated_devices", "Devices this server holds (GPUs on CUDA, 1 on CPU)",
                          ["device"])
DEVICE_BUSY = Counter("golemline_device_busy_seconds", "Seconds the device spent running the golem's batches "
                      "(× price per device-second = cost)", ["golem", "device"])

# Gate signals, one histogram per signal with buckets on its own scale: their distributions over time are what
# moves first when a microphone, a line or a model changes (the Quality dashboard's heatmaps).
SIGNAL_BUCKETS = {
    "no_speech_prob": (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0),
    "avg_logprob": (-3.0, -2.0, -1.5, -1.0, -0.8, -0.6, -0.4, -0.2, 0.0),
    "compression_ratio": (0.5, 0.8, 1.0, 1.2, 1.5, 2.0, 2.4, 3.0, 5.0),
    "intent_score": (0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "intent_margin": (0.02, 0.05, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5, 1.0),
    "reply_tokens": (1, 2, 4, 8, 16, 32, 64, 128, 256),
}
SIGNALS = {name: Histogram(f"golemline_gate_{name}", f"Gate signal {name} of pipeline inputs that reached its stage",
                           buckets=buckets) for name, buckets in SIGNAL_BUCKETS.items()}

CANARY_ACCURACY = Gauge("golemline_canary_accuracy", "Share of golden samples with the expected verdict at the last "
                        "canary run, by stage (scribe, interpreter, pipeline)", ["stage"])
CANARY_WER = Gauge("golemline_canary_wer", "Mean word error rate of the golden speech samples at the last canary run")
CANARY_KNOWN_GOOD_REJECTED = Gauge("golemline_canary_known_good_rejected",
                                   "Golden samples that must be answered but were rejected at the last canary run")
CANARY_DURATION = Gauge("golemline_canary_duration_seconds", "Wall time of the last canary run")
CANARY_LAST_RUN = Gauge("golemline_canary_last_run_timestamp_seconds", "When the last canary run finished (Unix time)")
CANARY_INTERVAL = Gauge("golemline_canary_interval_seconds", "Configured seconds between canary runs (0: off)")
CANARY_RUNS = Counter("golemline_canary_runs", "Canary runs, by outcome (ok, error)", ["outcome"])


def initialise(golems: list[str], models: list[str], device: str, hourly_price: float, devices: int) -> None:
    """Create every labelled series at zero when a server starts, so that Prometheus sees each counter from 0:
    rates and increases then count the first requests too, and dashboards show 0 rather than "no data"."""
    DEVICE_PRICE.labels(device).set(hourly_price)
    ALLOCATED_DEVICES.labels(device).set(devices)
    for golem in golems:
        DEVICE_BUSY.labels(golem, device).inc(0)
        BATCH_SIZE.labels(golem)
        QUEUE_DEPTH.labels(golem).set(0)
        MODEL_LOADED.labels(golem).set(0)
        DEVICE_MEMORY.labels(golem, device).set(0)
        SWAPS.labels(golem).inc(0)
        LOAD_FAILURES.labels(golem).inc(0)
        LOAD_SECONDS.labels(golem)
        UNLOAD_SECONDS.labels(golem)
    for model in models:
        REQUEST_SECONDS.labels(model)
        for outcome in OUTCOMES:
            REQUESTS.labels(model, outcome).inc(0)
    if "pipeline" in models:
        for stage in GOLEMS:
            STAGE_SECONDS.labels(stage)
        for outcome in ("ok", "error"):
            CANARY_RUNS.labels(outcome).inc(0)
