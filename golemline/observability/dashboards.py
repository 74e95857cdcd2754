"""The four Grafana dashboards — Pipeline, GPU, Cost, Quality — built with Grafana's grafana-foundation-sdk.

Queries use metric names from `names` and recorded series from `rules`, so exporter, rules and dashboards cannot
drift. Every panel has a unit, the datasource is the `datasource` variable, uids are stable so links survive
regeneration; `python -m golemline.observability.generate` writes the JSON (a test checks it is current).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders import common, heatmap, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement, StackingMode
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, DataSourceRef, Threshold, ThresholdsMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from golemline.observability import names as n
from golemline.observability import rules as r

RATE = "$__rate_interval"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
Steps = Sequence[tuple[float | None, str]]
SLOW: Steps = ((None, "green"), (2.0, "orange"), (5.0, "red"))
Target = tuple[str, str]  # (PromQL, legend)


def _thresholds(steps: Steps) -> gd.ThresholdsConfig:
    return gd.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(value=v, color=c) for v, c in steps])


def _with_targets(panel: Any, targets: Sequence[Target], fmt: PromQueryFormat | None = None) -> Any:
    for i, (expr, legend) in enumerate(targets):
        query = prom.Dataquery().expr(expr).legend_format(legend or "__auto").ref_id(chr(ord("A") + i)).range()
        panel = panel.with_target(query.format(fmt) if fmt else query)
    return panel


def Panel(title: str, unit: str, targets: Sequence[Target], description: str = "", kind: str = "timeseries",
          thresholds: Steps = ((None, "green"),), width: int = 12, height: int = 8, stack: bool = False) -> Any:
    """One panel as an SDK builder: a time series (the default), a stat or a heatmap."""
    if kind == "stat":
        panel: Any = stat.Panel()
    elif kind == "heatmap":
        panel = heatmap.Panel()
    else:
        panel = (timeseries.Panel().line_width(1).fill_opacity(10)
                 .legend(common.VizLegendOptions().display_mode(LegendDisplayMode.TABLE)
                         .placement(LegendPlacement.BOTTOM).show_legend(True).calcs(["lastNotNull", "max"]))
                 .stacking(common.StackingConfig().mode(StackingMode.NORMAL if stack else StackingMode.NONE)
                           .group("A")))
    panel = (panel.title(title).description(description).unit(unit).datasource(DATASOURCE)
             .span(width).height(height).thresholds(_thresholds(thresholds)))
    return _with_targets(panel, targets, PromQueryFormat.HEATMAP if kind == "heatmap" else None)


def Dashboard(uid: str, title: str, description: str, panels: Sequence[Any]) -> Any:
    """A dashboard as an SDK builder: the datasource variable, golemline's tags and a link to its siblings."""
    board = (gd.Dashboard(title).uid(uid).description(description).tags(["golemline"]).editable()
             .refresh("30s").time("now-1h", "now").timezone("browser")
             .with_variable(gd.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
             .link(gd.DashboardLink("Golemline").type(DashboardLinkType.DASHBOARDS).tags(["golemline"])
                   .as_dropdown(True).keep_time(True)))
    for panel_id, panel in enumerate(panels, start=1):
        board = board.with_panel(panel.id(panel_id))
    return board


def to_json(board: Any) -> dict[str, Any]:
    """The dashboard JSON Grafana imports (and the chart ships)."""
    body: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True, indent=2).encode(board.build()))
    return body


def queries(body: dict[str, Any]) -> list[str]:
    return [t["expr"] for panel in body.get("panels", []) for t in panel.get("targets", [])]


def _quantiles(metric: str, selector: str, by: str = "") -> tuple[Target, ...]:
    group = f"le{', ' + by if by else ''}"
    return tuple((f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{selector}[{RATE}])))",
                  f"p{int(q * 100)}{' {{' + by + '}}' if by else ''}") for q in (0.5, 0.95, 0.99))


PIPELINE = Dashboard(
    uid="golemline-pipeline", title="Golemline / Pipeline",
    description="Traffic, outcomes, latency per stage, gate rejections, queues and batching.",
    panels=(
        Panel("Pipeline requests by outcome", "reqps", (
            (f'sum by (outcome) (rate({n.REQUESTS}{{model="pipeline"}}[{RATE}]))', "{{outcome}}"),), stack=True,
            description="ok / rejected (the gate refused garbage) / invalid / overloaded (429) / error."),
        Panel("Requests by model", "reqps", (
            (f"sum by (model) (rate({n.REQUESTS}[{RATE}]))", "{{model}}"),)),
        Panel("End-to-end latency", "s", _quantiles(n.REQUEST_SECONDS, '{model="pipeline"}'), thresholds=SLOW),
        Panel("p95 latency per stage", "s", (
            (f"histogram_quantile(0.95, sum by (le, stage) (rate({n.STAGE_SECONDS}_bucket[{RATE}])))",
                   "{{stage}}"),), thresholds=SLOW),
        Panel("Rejections by stage and reason", "reqps", (
            (f"sum by (stage, reason) (rate({n.REJECTIONS}[{RATE}]))", "{{stage}}: {{reason}}"),),
            stack=True, description="A rising rate means garbage upstream: noise, silence, misheard speech."),
        Panel("Rejected share", "percentunit", ((r.REJECTED_RATIO, "rejected"),),
              thresholds=((None, "green"), (0.2, "orange"), (0.5, "red"))),
        Panel("Queue depth", "short", ((f"sum by (golem) ({n.QUEUE_DEPTH})", "{{golem}}"),),
              thresholds=((None, "green"), (32, "orange"), (64, "red"))),
        Panel("Mean batch size", "short", (
            (f"sum by (golem) (rate({n.BATCH_SIZE}_sum[{RATE}])) / "
                   f"sum by (golem) (rate({n.BATCH_SIZE}_count[{RATE}]))", "{{golem}}"),),
            description="Requests per forward pass: > 1 means micro-batching is paying off."),
        Panel("Overloaded (429) responses", "reqps", (
            (f'sum by (model) (rate({n.REQUESTS}{{outcome="overloaded"}}[{RATE}]))', "{{model}}"),),
            thresholds=((None, "green"), (0.01, "red"))),
        Panel("Batch size distribution (p50/p95)", "short", (
            (f"histogram_quantile(0.5, sum by (le, golem) (rate({n.BATCH_SIZE}_bucket[{RATE}])))",
                   "p50 {{golem}}"),
            (f"histogram_quantile(0.95, sum by (le, golem) (rate({n.BATCH_SIZE}_bucket[{RATE}])))",
                   "p95 {{golem}}"))),
    ))

GPU = Dashboard(
    uid="golemline-gpu", title="Golemline / GPU",
    description="DCGM exporter utilization, framebuffer and power per node and per golem pod, next to golemline's "
                "own device memory per golem and model load/unload/swap events.",
    panels=(
        Panel("GPU utilization per golem pod", "percent", (
            (f"avg by (namespace, pod) ({n.DCGM_GPU_UTIL}{{{n.GOLEM_PODS}}})", "{{pod}}"),),
            thresholds=((None, "red"), (20, "orange"), (50, "green"))),
        Panel("GPU utilization per node", "percent", (
            (f"avg by (Hostname) ({n.DCGM_GPU_UTIL})", "{{Hostname}}"),)),
        Panel("Framebuffer used / free per golem pod", "decmbytes", (
            (f"sum by (pod) ({n.DCGM_FB_USED}{{{n.GOLEM_PODS}}})", "used {{pod}}"),
            (f"sum by (pod) ({n.DCGM_FB_FREE}{{{n.GOLEM_PODS}}})", "free {{pod}}"))),
        Panel("Power draw per node", "watt", ((f"sum by (Hostname) ({n.DCGM_POWER})", "{{Hostname}}"),)),
        Panel("Device memory held per golem (golemline)", "bytes", (
            (f"sum by (golem, device) ({n.DEVICE_MEMORY})", "{{golem}} ({{device}})"),), stack=True),
        Panel("Golems loaded", "short", ((f"max by (golem) ({n.MODEL_LOADED})", "{{golem}}"),)),
        Panel("Model loads, unloads and swaps", "ops", (
            (f"sum by (golem) (rate({n.LOAD_SECONDS}_count[{RATE}]))", "loads {{golem}}"),
            (f"sum by (golem) (rate({n.UNLOAD_SECONDS}_count[{RATE}]))", "unloads {{golem}}"),
            (f"sum by (golem) (rate({n.SWAPS}[{RATE}]))", "swaps {{golem}}"))),
        Panel("Model load time p95", "s", (
            (f"histogram_quantile(0.95, sum by (le, golem) (rate({n.LOAD_SECONDS}_bucket[{RATE}])))",
                   "{{golem}}"),), thresholds=SLOW),
    ))

COST = Dashboard(
    uid="golemline-cost", title="Golemline / Cost",
    description="What each request costs: device-busy seconds × the pipeline's hourly device price.",
    panels=(
        Panel("$ per 1,000 requests, per golem", "currencyUSD", ((r.GOLEM_COST_PER_1K, "{{golem}}"),)),
        Panel("$ per 1,000 pipeline requests (end to end)", "currencyUSD",
              ((r.PIPELINE_COST_PER_1K, "pipeline"),), kind="stat", width=6),
        Panel("Idle share of paid device time", "percentunit", ((r.IDLE_RATIO, "idle"),), kind="stat", width=6,
              thresholds=((None, "green"), (0.5, "orange"), (0.8, "red"))),
        Panel("Allocated vs effective $/hour", "currencyUSD", (
            (r.ALLOCATED_PER_HOUR, "allocated"), (r.EFFECTIVE_PER_HOUR, "effective (busy)"))),
        Panel("Busy $/hour per golem", "currencyUSD", ((f"3600 * {r.BUSY_DOLLARS}", "{{golem}}"),), stack=True),
        Panel("Cost of swaps ($/hour spent loading models)", "currencyUSD",
              ((r.SWAP_DOLLARS_PER_HOUR, "loading"),)),
        Panel("Device-busy seconds per second, per golem", "percentunit", (
            (f"sum by (golem, device) (rate({n.DEVICE_BUSY}[{RATE}]))", "{{golem}} ({{device}})"),)),
    ))

def _signal_heatmap(title: str, signal: str, unit: str, description: str) -> Any:
    return Panel(title, unit, ((f"sum by (le) (increase({n.SIGNALS[signal]}_bucket[$__interval]))", "{{le}}"),),
                 description=description, kind="heatmap")


QUALITY = Dashboard(
    uid="golemline-quality", title="Golemline / Quality",
    description="Are the answers still right? The golden-set canary, the gate signals' distributions over time, "
                "the rejection mix and its drift against the 7-day baseline.",
    panels=(
        Panel("Canary accuracy per stage", "percentunit", (
            (f"min by (stage) ({n.CANARY_ACCURACY})", "{{stage}}"),),
            thresholds=((None, "red"), (0.99, "green")),
            description="Share of the shipped golden samples with their known verdict at the last run."),
        Panel("Canary: known-good samples rejected", "short", ((f"max({n.CANARY_KNOWN_GOOD_REJECTED})", "rejected"),),
              kind="stat", width=6, thresholds=((None, "green"), (1, "red"))),
        Panel("Canary: seconds since the last run", "s", ((f"time() - max({n.CANARY_LAST_RUN})", "age"),),
              kind="stat", width=6, thresholds=((None, "green"), (900, "orange"), (1800, "red"))),
        Panel("Canary WER and run time", "short", ((f"max({n.CANARY_WER})", "WER"),
                                                   (f"max({n.CANARY_DURATION})", "run seconds")),
              description="Word error rate of the golden speech samples, and how long a run takes."),
        Panel("Rejection mix: share of requests by reason (1 h vs 7 d)", "percentunit", (
            (r.REJECTION_SHARE_1H, "{{stage}}: {{reason}} (1 h)"),
            (r.REJECTION_SHARE_7D, "{{stage}}: {{reason}} (7 d)")),
            description="A reason whose 1-hour share leaves its 7-day share is drift: new microphone, noisy callers, "
                        "a model that hears differently."),
        Panel("Drift: |1 h - 7 d| share per reason", "percentunit", (
            (f"abs({r.REJECTION_SHARE_1H} - {r.REJECTION_SHARE_7D})", "{{stage}}: {{reason}}"),),
            thresholds=((None, "green"), (r.DRIFT_THRESHOLD, "red"))),
        _signal_heatmap("Scribe: no-speech probability", "no_speech_prob", "percentunit",
                        "Whisper's no-speech probability of every input that reached it (gate: max_no_speech_prob)."),
        _signal_heatmap("Scribe: average log-probability", "avg_logprob", "short",
                        "How sure the recogniser is of its words (gate: min_avg_logprob)."),
        _signal_heatmap("Scribe: compression ratio", "compression_ratio", "short",
                        "Repetition in transcripts; hallucinations compress well (gate: max_compression_ratio)."),
        _signal_heatmap("Interpreter: intent score", "intent_score", "short",
                        "Best intent score of every transcript that reached the Interpreter (gate: min_intent_score)."),
        _signal_heatmap("Interpreter: top-1/top-2 margin", "intent_margin", "short",
                        "How clearly the best intent wins (gate: min_intent_margin)."),
        _signal_heatmap("Oracle: reply length (tokens)", "reply_tokens", "short",
                        "Tokens per reply; a shift means the Oracle's behaviour changed."),
    ))

DASHBOARDS = (PIPELINE, GPU, COST, QUALITY)
"""SDK builders, in the order the generator writes them."""


def uid_of(board: Any) -> str:
    return str(board.build().uid)
