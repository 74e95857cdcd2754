"""What each golem costs, measured: its service-time curve and the memory it holds.

Two sources:
- `golem bench` JSON (`--sections golems`): seconds per batched pass at batch sizes 1..16, alone on the device.
- a live Prometheus scraping golemline: busy seconds per batch and the mean batch size over a window, and the
  memory gauge. One operating point per golem, so the curve through it assumes no further batching gain
  (seconds grow in proportion to the batch): conservative above the batch size production runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golemline.errors import ConfigError
from golemline.plan.queueing import ServiceCurve
from golemline.settings import GOLEMS

DEFAULT_HOP_S = 0.015  # one extra HTTP hop on loopback when the bench JSON has no split section (bench: 15 ms)


@dataclass(frozen=True)
class GolemProfile:
    name: str
    curve: ServiceCurve
    memory_bytes: int


@dataclass(frozen=True)
class Measurements:
    """Per-golem profiles plus where they were measured (so the plan can say what its times mean)."""

    golems: dict[str, GolemProfile]
    measured_on: str
    hop_s: float
    source: str


def golem_profiles(section: dict[str, Any]) -> dict[str, GolemProfile]:
    """A `golems` bench section (seconds per batch by batch size, memory) as profiles, one per golem."""
    def curve(entry: dict[str, Any]) -> ServiceCurve:
        return ServiceCurve({int(b): float(s) for b, s in entry["batch_seconds"].items()},
                            {int(b): float(s) for b, s in entry.get("batch_seconds_max", {}).items()})

    return {name: GolemProfile(name, curve(section[name]), int(section[name]["memory_bytes"])) for name in GOLEMS}


def from_bench(path: Path) -> Measurements:
    try:
        report: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such bench report (run `golem bench --sections golems --out {path}`)") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable bench JSON report ({exc})") from exc
    section = report.get("golems")
    if not isinstance(section, dict) or set(GOLEMS) - set(section):
        raise ConfigError(f"{path}: has no per-golem section; run `golem bench --sections golems --out {path}` "
                          "(it measures each golem's seconds per batch and memory)")
    golems = golem_profiles(section)
    machine = report.get("machine", {})
    device = "cuda" if machine.get("cuda") else f"cpu ({machine.get('cpu_count', '?')} cores)"
    hop_ms = (report.get("split") or {}).get("ratios", {}).get("per_hop_overhead_ms")
    hop_s = max(float(hop_ms) / 1000, 0.0) if hop_ms is not None else DEFAULT_HOP_S
    return Measurements(golems, device, hop_s, str(path))


PROMQL = {
    "seconds_per_batch": "sum by (golem) (rate(golemline_device_busy_seconds_total[{w}])) / "
                         "sum by (golem) (rate(golemline_batch_size_count[{w}]))",
    "mean_batch": "sum by (golem) (rate(golemline_batch_size_sum[{w}])) / "
                  "sum by (golem) (rate(golemline_batch_size_count[{w}]))",
    "memory_bytes": "max by (golem) (golemline_device_memory_bytes)",
}


def _query(url: str, expr: str) -> dict[str, float]:
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/api/v1/query", params={"query": expr}, timeout=30)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigError(f"Prometheus at {url}: query failed ({exc})") from exc
    return {r["metric"].get("golem", ""): float(r["value"][1]) for r in body["data"]["result"]}


def from_prometheus(url: str, window: str = "1h") -> Measurements:
    values = {key: _query(url, expr.replace("{w}", window)) for key, expr in PROMQL.items()}
    missing = [g for g in GOLEMS if not all(g in v and v[g] == v[g] for v in values.values())]  # v == v: not NaN
    if missing:
        raise ConfigError(f"Prometheus at {url}: no batches or memory recorded for {', '.join(missing)} in the last "
                          f"{window} (is golemline scraped, and did those golems serve requests?)")
    golems = {}
    for name in GOLEMS:
        batch, seconds = max(values["mean_batch"][name], 1.0), values["seconds_per_batch"][name]
        per_request = seconds / batch
        points = {1: per_request, max(1, round(batch)): per_request * max(1, round(batch))}
        golems[name] = GolemProfile(name, ServiceCurve(points, points), int(values["memory_bytes"][name]))
    return Measurements(golems, "production (Prometheus)", DEFAULT_HOP_S, url)
