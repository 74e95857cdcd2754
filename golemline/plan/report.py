"""`golem plan`'s output: the table of layouts, the choice, and the values file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from golemline.plan.layouts import Candidate, Objective, chart_values
from golemline.plan.prices import PriceTable
from golemline.plan.profiles import Measurements


def _seconds(value: float) -> str:
    return "unstable" if not math.isfinite(value) else f"{value:.3f}"


def _replicas(candidate: Candidate) -> str:
    if candidate.layout == "monolith":
        return f"{candidate.replicas['scribe']} pod(s)"
    return " ".join(f"{name[0]}{n}" for name, n in candidate.replicas.items())


def table(candidates: list[Candidate], objective: Objective) -> str:
    header = f"{'layout':<16} {'device':<24} {'replicas':<12} {'p95 s':>9} {'$/hour':>9} {'$/1k req':>9}  verdict"
    lines = [header, "-" * len(header)]
    for candidate in candidates:
        if candidate.note:
            verdict, cost, per_1k = f"does not fit: {candidate.note}", "-", "-"
        else:
            verdict = "meets" if candidate.meets(objective) else "misses p95"
            cost = f"{candidate.dollars_per_hour:.3f}"
            per_1k = f"{candidate.dollars_per_1k(objective):.4f}"
        lines.append(f"{candidate.label:<16} {candidate.device.name:<24} {_replicas(candidate):<12} "
                     f"{_seconds(candidate.p95_s):>9} {cost:>9} {per_1k:>9}  {verdict}")
    return "\n".join(lines)


def as_dict(candidate: Candidate, objective: Objective) -> dict[str, Any]:
    return {"layout": candidate.label, "device": candidate.device.name, "replicas": candidate.replicas,
            "p95_s": round(candidate.p95_s, 4) if math.isfinite(candidate.p95_s) else None,
            "dollars_per_hour": round(candidate.dollars_per_hour, 4) if not candidate.note else None,
            "dollars_per_1k": round(candidate.dollars_per_1k(objective), 5) if not candidate.note else None,
            "meets": candidate.meets(objective) and not candidate.note, "note": candidate.note,
            "stations": {name: {"batch": round(s.batch, 2), "utilisation": round(s.utilisation, 3),
                                "p95_s": round(s.p95_s, 4) if math.isfinite(s.p95_s) else None}
                         for name, s in candidate.stations.items()}}


def write_values(path: Path, choice: Candidate, objective: Objective, measurements: Measurements,
                 prices: PriceTable) -> None:
    header = (f"# Written by `golem plan`: {choice.label} on {choice.device.name}, for {objective.rate:g} req/s at a "
              f"p95 of {objective.p95_s:g} s\n# (predicted p95 {choice.p95_s:.3f} s, "
              f"${choice.dollars_per_hour:.3f}/hour, ${choice.dollars_per_1k(objective):.4f} per 1,000 requests).\n"
              f"# Service times: {measurements.source}, measured on {measurements.measured_on}. "
              f"Prices: {prices.source}.\n# Install: helm install golems charts/golemline -f {path.name}\n")
    path.write_text(header + yaml.safe_dump(chart_values(choice, objective), sort_keys=False))
