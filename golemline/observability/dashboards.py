"""The three Grafana dashboards: Pipeline, GPU, Cost. Queries use names from `names` and series from `rules`."""

from __future__ import annotations

from golemline.observability import names as n
from golemline.observability import rules as r
from golemline.observability.grafana import Dashboard, Panel, Target, Threshold

RATE = "$__rate_interval"
SLOW = Threshold(((None, "green"), (2.0, "orange"), (5.0, "red")))


def _quantiles(metric: str, selector: str, by: str = "") -> tuple[Target, ...]:
    group = f"le{', ' + by if by else ''}"
    return tuple(Target(f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{selector}[{RATE}])))",
                        f"p{int(q * 100)}{' {{' + by + '}}' if by else ''}") for q in (0.5, 0.95, 0.99))


PIPELINE = Dashboard(
    uid="golemline-pipeline", title="Golemline / Pipeline",
    description="Traffic, outcomes, latency per stage, gate rejections, queues and batching.",
    panels=(
        Panel("Pipeline requests by outcome", "reqps", (
            Target(f'sum by (outcome) (rate({n.REQUESTS}{{model="pipeline"}}[{RATE}]))', "{{outcome}}"),), stack=True,
            description="ok / rejected (the gate refused garbage) / invalid / overloaded (429) / error."),
        Panel("Requests by model", "reqps", (
            Target(f"sum by (model) (rate({n.REQUESTS}[{RATE}]))", "{{model}}"),)),
        Panel("End-to-end latency", "s", _quantiles(n.REQUEST_SECONDS, '{model="pipeline"}'), thresholds=SLOW),
        Panel("p95 latency per stage", "s", (
            Target(f"histogram_quantile(0.95, sum by (le, stage) (rate({n.STAGE_SECONDS}_bucket[{RATE}])))",
                   "{{stage}}"),), thresholds=SLOW),
        Panel("Rejections by stage and reason", "reqps", (
            Target(f"sum by (stage, reason) (rate({n.REJECTIONS}[{RATE}]))", "{{stage}}: {{reason}}"),),
            stack=True, description="A rising rate means garbage upstream: noise, silence, misheard speech."),
        Panel("Rejected share", "percentunit", (Target(r.REJECTED_RATIO, "rejected"),),
              thresholds=Threshold(((None, "green"), (0.2, "orange"), (0.5, "red")))),
        Panel("Queue depth", "short", (Target(f"sum by (golem) ({n.QUEUE_DEPTH})", "{{golem}}"),),
              thresholds=Threshold(((None, "green"), (32, "orange"), (64, "red")))),
        Panel("Mean batch size", "short", (
            Target(f"sum by (golem) (rate({n.BATCH_SIZE}_sum[{RATE}])) / "
                   f"sum by (golem) (rate({n.BATCH_SIZE}_count[{RATE}]))", "{{golem}}"),),
            description="Requests per forward pass: > 1 means micro-batching is paying off."),
        Panel("Overloaded (429) responses", "reqps", (
            Target(f'sum by (model) (rate({n.REQUESTS}{{outcome="overloaded"}}[{RATE}]))', "{{model}}"),),
            thresholds=Threshold(((None, "green"), (0.01, "red")))),
        Panel("Batch size distribution (p50/p95)", "short", (
            Target(f"histogram_quantile(0.5, sum by (le, golem) (rate({n.BATCH_SIZE}_bucket[{RATE}])))",
                   "p50 {{golem}}"),
            Target(f"histogram_quantile(0.95, sum by (le, golem) (rate({n.BATCH_SIZE}_bucket[{RATE}])))",
                   "p95 {{golem}}"))),
    ))

GPU = Dashboard(
    uid="golemline-gpu", title="Golemline / GPU",
    description="DCGM exporter utilization, framebuffer and power per node and per golem pod, next to golemline's "
                "own device memory per golem and model load/unload/swap events.",
    panels=(
        Panel("GPU utilization per golem pod", "percent", (
            Target(f"avg by (namespace, pod) ({n.DCGM_GPU_UTIL}{{{n.GOLEM_PODS}}})", "{{pod}}"),),
            thresholds=Threshold(((None, "red"), (20, "orange"), (50, "green")))),
        Panel("GPU utilization per node", "percent", (
            Target(f"avg by (Hostname) ({n.DCGM_GPU_UTIL})", "{{Hostname}}"),)),
        Panel("Framebuffer used / free per golem pod", "decmbytes", (
            Target(f"sum by (pod) ({n.DCGM_FB_USED}{{{n.GOLEM_PODS}}})", "used {{pod}}"),
            Target(f"sum by (pod) ({n.DCGM_FB_FREE}{{{n.GOLEM_PODS}}})", "free {{pod}}"))),
        Panel("Power draw per node", "watt", (Target(f"sum by (Hostname) ({n.DCGM_POWER})", "{{Hostname}}"),)),
        Panel("Device memory held per golem (golemline)", "bytes", (
            Target(f"sum by (golem, device) ({n.DEVICE_MEMORY})", "{{golem}} ({{device}})"),), stack=True),
        Panel("Golems loaded", "short", (Target(f"max by (golem) ({n.MODEL_LOADED})", "{{golem}}"),)),
        Panel("Model loads, unloads and swaps", "ops", (
            Target(f"sum by (golem) (rate({n.LOAD_SECONDS}_count[{RATE}]))", "loads {{golem}}"),
            Target(f"sum by (golem) (rate({n.UNLOAD_SECONDS}_count[{RATE}]))", "unloads {{golem}}"),
            Target(f"sum by (golem) (rate({n.SWAPS}[{RATE}]))", "swaps {{golem}}"))),
        Panel("Model load time p95", "s", (
            Target(f"histogram_quantile(0.95, sum by (le, golem) (rate({n.LOAD_SECONDS}_bucket[{RATE}])))",
                   "{{golem}}"),), thresholds=SLOW),
    ))

COST = Dashboard(
    uid="golemline-cost", title="Golemline / Cost",
    description="What each request costs: device-busy seconds × the pipeline's hourly device price.",
    panels=(
        Panel("$ per 1,000 requests, per golem", "currencyUSD", (Target(r.GOLEM_COST_PER_1K, "{{golem}}"),)),
        Panel("$ per 1,000 pipeline requests (end to end)", "currencyUSD",
              (Target(r.PIPELINE_COST_PER_1K, "pipeline"),), kind="stat", width=6),
        Panel("Idle share of paid device time", "percentunit", (Target(r.IDLE_RATIO, "idle"),), kind="stat", width=6,
              thresholds=Threshold(((None, "green"), (0.5, "orange"), (0.8, "red")))),
        Panel("Allocated vs effective $/hour", "currencyUSD", (
            Target(r.ALLOCATED_PER_HOUR, "allocated"), Target(r.EFFECTIVE_PER_HOUR, "effective (busy)"))),
        Panel("Busy $/hour per golem", "currencyUSD", (Target(f"3600 * {r.BUSY_DOLLARS}", "{{golem}}"),), stack=True),
        Panel("Cost of swaps ($/hour spent loading models)", "currencyUSD",
              (Target(r.SWAP_DOLLARS_PER_HOUR, "loading"),)),
        Panel("Device-busy seconds per second, per golem", "percentunit", (
            Target(f"sum by (golem, device) (rate({n.DEVICE_BUSY}[{RATE}]))", "{{golem}} ({{device}})"),)),
    ))

DASHBOARDS = (PIPELINE, GPU, COST)
