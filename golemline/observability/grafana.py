"""Minimal typed builders for Grafana dashboard JSON (schemaVersion 39): just what golemline's dashboards use.

Why our own: the grafana-foundation-sdk is not installable here; these few dataclasses keep panels declarative,
every panel carries a unit, the datasource is a variable, and uids are stable so links survive regeneration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class Target:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Threshold:
    """Colour steps: value → colour (the first step's value is the base)."""

    steps: tuple[tuple[float | None, str], ...] = ((None, "green"),)


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    targets: tuple[Target, ...]
    description: str = ""
    kind: str = "timeseries"
    thresholds: Threshold = Threshold()
    width: int = 12
    height: int = 8
    stack: bool = False

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        custom: dict[str, Any] = {}
        if self.kind == "timeseries":
            custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                      "stacking": {"mode": "normal" if self.stack else "none", "group": "A"}}
        return {
            "id": panel_id, "type": self.kind, "title": self.title, "description": self.description,
            "datasource": DATASOURCE, "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "fieldConfig": {"defaults": {"unit": self.unit, "custom": custom, "thresholds": {
                "mode": "absolute", "steps": [{"value": v, "color": c} for v, c in self.thresholds.steps]}},
                "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]}}
            if self.kind == "timeseries" else {"reduceOptions": {"calcs": ["lastNotNull"]}},
            "targets": [{"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": t.expr,
                         "legendFormat": t.legend or "__auto", "range": True} for i, t in enumerate(self.targets)],
        }


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = ("golemline",)
    links: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        panels, x, y, row_height = [], 0, 0, 0
        for panel_id, panel in enumerate(self.panels, start=1):
            if x + panel.width > 24:
                x, y = 0, y + row_height
                row_height = 0
            panels.append(panel.to_json(panel_id, x, y))
            x += panel.width
            row_height = max(row_height, panel.height)
        return {
            "uid": self.uid, "title": self.title, "description": self.description, "tags": list(self.tags),
            "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
            "time": {"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "browser",
            "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                                     "query": "prometheus", "current": {}, "hide": 0}]},
            "links": [{"title": "Golemline", "type": "dashboards", "tags": ["golemline"], "asDropdown": True}],
            "annotations": {"list": []},
            "panels": panels,
        }

    def queries(self) -> list[str]:
        return [t.expr for p in self.panels for t in p.targets]
