"""Recording rules and alerts: one definition, written as a plain Prometheus rules file (promtool checks and tests
it) and as the chart's PrometheusRule (the latency objective becomes a Helm value)."""

from __future__ import annotations

from typing import Any

from golemline.observability import names as n

DEFAULT_LATENCY_SLO_S = "5"
CHART_LATENCY_SLO = "{{ .Values.monitoring.prometheusRule.latencySloSeconds }}"

# Recorded series the cost dashboard and the alerts read.
BUSY_DOLLARS = "golemline:device_busy_dollars:rate5m"
GOLEM_ITEMS = "golemline:golem_items:rate5m"
GOLEM_COST_PER_1K = "golemline:golem_dollars_per_1k:ratio_rate5m"
PIPELINE_REQUESTS = "golemline:pipeline_requests:rate5m"
PIPELINE_COST_PER_1K = "golemline:pipeline_dollars_per_1k:ratio_rate5m"
ALLOCATED_PER_HOUR = "golemline:allocated_dollars_per_hour"
EFFECTIVE_PER_HOUR = "golemline:effective_dollars_per_hour:rate5m"
IDLE_RATIO = "golemline:idle_ratio:rate5m"
SWAP_DOLLARS_PER_HOUR = "golemline:swap_dollars_per_hour:rate5m"
REJECTED_RATIO = "golemline:pipeline_rejected:ratio_rate5m"
LATENCY_P95 = "golemline:request_duration_seconds:p95_rate5m"
REJECTION_SHARE_1H = "golemline:rejection_share:ratio_rate1h"
REJECTION_SHARE_7D = "golemline:rejection_share:ratio_rate7d"
DRIFT_THRESHOLD = 0.15
"""A reason's share of pipeline requests that moves this far from its 7-day share is drift worth a look."""


def recording_rules() -> list[dict[str, str]]:
    price = f"on (instance, device) group_left() {n.DEVICE_PRICE}"
    return [
        {"record": BUSY_DOLLARS, "expr": f"sum by (golem) (rate({n.DEVICE_BUSY}[5m]) * {price}) / 3600"},
        {"record": GOLEM_ITEMS, "expr": f"sum by (golem) (rate({n.BATCH_SIZE}_sum[5m]))"},
        {"record": GOLEM_COST_PER_1K, "expr": f"1000 * {BUSY_DOLLARS} / {GOLEM_ITEMS}"},
        {"record": PIPELINE_REQUESTS, "expr": f'sum(rate({n.REQUESTS}{{model="pipeline"}}[5m]))'},
        {"record": PIPELINE_COST_PER_1K, "expr": f"1000 * sum({BUSY_DOLLARS}) / {PIPELINE_REQUESTS}"},
        {"record": ALLOCATED_PER_HOUR, "expr": f"sum({n.ALLOCATED_DEVICES} * on (instance, device) {n.DEVICE_PRICE})"},
        {"record": EFFECTIVE_PER_HOUR, "expr": f"3600 * sum({BUSY_DOLLARS})"},
        {"record": IDLE_RATIO, "expr": f"clamp_min(1 - {EFFECTIVE_PER_HOUR} / {ALLOCATED_PER_HOUR}, 0)"},
        {"record": SWAP_DOLLARS_PER_HOUR,
         "expr": f"sum(rate({n.LOAD_SECONDS}_sum[5m]) * on (instance) group_left() max by (instance) "
                 f"({n.DEVICE_PRICE}))"},
        {"record": REJECTED_RATIO,
         "expr": f'sum(rate({n.REQUESTS}{{model="pipeline",outcome="rejected"}}[5m])) / {PIPELINE_REQUESTS}'},
        {"record": LATENCY_P95,
         "expr": f"histogram_quantile(0.95, sum by (le, model) (rate({n.REQUEST_SECONDS}_bucket[5m])))"},
        # The rejection mix: each (stage, reason)'s share of pipeline requests, now (1 h) and over the baseline
        # (7 days). A microphone, a noisy line or a new model moves it without moving latency or cost.
        *[{"record": record,
           "expr": f"sum by (stage, reason) (rate({n.REJECTIONS}[{window}])) / scalar(sum(rate("
                   f'{n.REQUESTS}{{model="pipeline"}}[{window}])))'}
          for record, window in ((REJECTION_SHARE_1H, "1h"), (REJECTION_SHARE_7D, "7d"))],
    ]


def alerts(latency_slo: str) -> list[dict[str, Any]]:
    return [
        {"alert": "GolemlinePipelineLatencyHigh", "expr": f'{LATENCY_P95}{{model="pipeline"}} > {latency_slo}',
         "for": "10m", "labels": {"severity": "warning"},
         "annotations": {"summary": "Pipeline p95 latency is over its objective",
                         "description": "Scale the slowest golem (see the stage latency panel) or batch more."}},
        {"alert": "GolemlineRejectionSpike", "expr": f"{REJECTED_RATIO} > 0.5", "for": "10m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "Over half of the pipeline's requests are rejected by the gate",
                         "description": "Garbage upstream: check the rejection reasons panel (noise? a bad mic?)."}},
        {"alert": "GolemlineQueueSaturated",
         "expr": f'sum by (model) (rate({n.REQUESTS}{{outcome="overloaded"}}[5m])) > 0', "for": "5m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "A golem is answering 429: its batching queue is full",
                         "description": "Add replicas or raise maxBatchSize/maxQueue."}},
        {"alert": "GolemlineModelLoadFailures", "expr": f"increase({n.LOAD_FAILURES}[15m]) > 0",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "A golem failed to load its model", "description": "See the pod's log."}},
        {"alert": "GolemlineGPUAllocatedButIdle",
         "expr": f"avg by (namespace, pod) ({n.DCGM_GPU_UTIL}{{{n.GOLEM_PODS}}}) < 5", "for": "30m",
         "labels": {"severity": "info"},
         "annotations": {"summary": "A golem's GPU has been under 5% busy for 30 minutes",
                         "description": "Paid but idle: scale down, share the GPU (MIG), or run a monolith."}},
        {"alert": "GolemlineCanaryAccuracyDropped", "expr": f'{n.CANARY_ACCURACY}{{stage="pipeline"}} < 1',
         "for": "10m", "labels": {"severity": "critical"},
         "annotations": {"summary": "The golden-set canary gets wrong answers",
                         "description": "A known sample no longer gets its known verdict: check the per-stage "
                                        "canary accuracy and the pod's log (it names the samples)."}},
        {"alert": "GolemlineCanaryKnownGoodRejected", "expr": f"{n.CANARY_KNOWN_GOOD_REJECTED} > 0", "for": "10m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "The canary's known-good commands are being rejected",
                         "description": "The gate stops clean speech: a model or threshold change, or the Scribe "
                                        "hears worse than before."}},
        {"alert": "GolemlineCanaryStale",
         "expr": f"{n.CANARY_INTERVAL} > 0 and (time() - {n.CANARY_LAST_RUN}) > 3 * {n.CANARY_INTERVAL}",
         "for": "5m", "labels": {"severity": "warning"},
         "annotations": {"summary": "The canary has stopped running",
                         "description": "No successful canary run for three intervals: the pipeline may be down "
                                        "(see golemline_canary_runs_total{outcome=\"error\"})."}},
        {"alert": "GolemlineRejectionMixDrift",
         "expr": f"abs({REJECTION_SHARE_1H} - {REJECTION_SHARE_7D}) > {DRIFT_THRESHOLD} and on () "
                 f'sum(rate({n.REQUESTS}{{model="pipeline"}}[1h])) > 0.01',
         "for": "30m", "labels": {"severity": "warning"},
         "annotations": {"summary": "The mix of gate rejections has moved away from its 7-day baseline",
                         "description": "A reason's share of requests changed by more than "
                                        f"{DRIFT_THRESHOLD:.0%}: new microphone, noisy callers, or a model "
                                        "version that hears differently."}},
    ]


def rule_groups(latency_slo: str = DEFAULT_LATENCY_SLO_S) -> dict[str, Any]:
    return {"groups": [{"name": "golemline.recording", "interval": "30s", "rules": recording_rules()},
                       {"name": "golemline.alerts", "rules": alerts(latency_slo)}]}
