"""Candidate layouts, sized and priced, and the chart values of the chosen one.

- **monolith**: every replica is one pod holding all three golems on one device (`mode: monolith`). The golems
  share that device, so each one's service time is stretched by the share the others keep busy
  (S'_g = S_g / (1 − Σ_{h≠g} ρ_h), processor sharing); replicas are added until the p95 objective holds.
- **split**: one device per golem replica (`mode: microservices`), plus a CPU pod for the transformer; each request
  pays one more hop per golem. Replicas go, one at a time, to the golem whose extra replica cuts the p95 most.
- **MIG**: the split (or monolith) layout on MIG slices, each slice a device of its own.

The pipeline's p95 is taken as the sum of the stations' p95s (an upper bound: stage tails rarely coincide), plus
the hops. Memory must fit: the golems' measured bytes plus the table's per-process overhead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from golemline.plan.prices import Device, PriceTable
from golemline.plan.profiles import GolemProfile, Measurements
from golemline.plan.queueing import ServiceCurve, StationEstimate, shared_device_stretch, station
from golemline.settings import GOLEMS

MAX_REPLICAS = 64


@dataclass(frozen=True)
class Objective:
    rate: float  # requests per second through the pipeline
    p95_s: float
    max_batch: int = 8
    window_s: float = 0.010


@dataclass
class Candidate:
    layout: str  # monolith or split
    device: Device
    replicas: dict[str, int]  # per golem (monolith: the same number for all: pods)
    stations: dict[str, StationEstimate] = field(default_factory=dict)
    p95_s: float = math.inf
    dollars_per_hour: float = math.inf
    transformer: Device | None = None
    note: str = ""

    @property
    def label(self) -> str:
        kind = {"cpu": "", "gpu": "", "mig": " (MIG)"}[self.device.kind]
        return f"{self.layout}{kind}"

    def meets(self, objective: Objective) -> bool:
        return self.p95_s <= objective.p95_s

    def dollars_per_1k(self, objective: Objective) -> float:
        return self.dollars_per_hour / (objective.rate * 3600) * 1000 if objective.rate > 0 else math.inf


def _curve(profile: GolemProfile, device: Device) -> ServiceCurve:
    return profile.curve.scaled(1 / device.speed)


def monolith_estimate(profiles: dict[str, GolemProfile], device: Device, pods: int,
                       objective: Objective) -> tuple[dict[str, StationEstimate], float]:
    curves = {name: _curve(p, device) for name, p in profiles.items()}
    alone = {name: station(objective.rate, pods, curve, objective.max_batch, objective.window_s)
             for name, curve in curves.items()}
    shared: dict[str, StationEstimate] = {}
    for name, curve in curves.items():
        others = sum(alone[h].utilisation for h in curves if h != name)
        if others >= 1:
            return alone, math.inf
        shared[name] = station(objective.rate, pods, curve.scaled(1 / (1 - others)), objective.max_batch,
                               objective.window_s)
    # The p95 request meets another request in the pod. The stations' queue waits count the meetings at the same
    # golem; sharing the device (shared_device_stretch) counts every meeting, as a stretch of the request's device
    # work (the stations' slowest passes). Both describe the same event, so the larger delay is taken, not both.
    device_s = sum(curves[name].at(s.batch) for name, s in shared.items())
    device_p95_s = sum(curves[name].at(s.batch, tail=True) for name, s in shared.items())
    sharing_s = (shared_device_stretch(objective.rate / pods, device_s) - 1) * device_p95_s
    queues_s = sum(s.wait_p95_s for s in shared.values())
    if math.isinf(queues_s):
        return shared, math.inf
    return shared, sum(s.p95_s for s in shared.values()) - queues_s + max(queues_s, sharing_s)


def plan_monolith(measurements: Measurements, device: Device, table: PriceTable,
                  objective: Objective) -> Candidate:
    candidate = Candidate("monolith", device, dict.fromkeys(GOLEMS, 1))
    need = sum(p.memory_bytes for p in measurements.golems.values()) + table.overhead_bytes
    if need > device.memory_bytes:
        candidate.note = f"needs {need / 2**30:.1f} GiB"
        return candidate
    for pods in range(1, MAX_REPLICAS + 1):
        stations, p95 = monolith_estimate(measurements.golems, device, pods, objective)
        if p95 <= objective.p95_s or pods == MAX_REPLICAS:
            candidate.replicas = dict.fromkeys(GOLEMS, pods)
            candidate.stations, candidate.p95_s = stations, p95
            candidate.dollars_per_hour = pods * device.price_per_hour
            return candidate
    raise AssertionError("unreachable")


def _stable_replicas(objective: Objective, curve: ServiceCurve) -> int:
    """The fewest replicas that keep a station's utilisation under 1 (MAX_REPLICAS if none does)."""
    for replicas in range(1, MAX_REPLICAS + 1):
        if station(objective.rate, replicas, curve, objective.max_batch, objective.window_s).stable:
            return replicas
    return MAX_REPLICAS


def plan_split(measurements: Measurements, device: Device, table: PriceTable, objective: Objective) -> Candidate:
    transformer = table.cheapest_cpu()
    candidate = Candidate("split", device, dict.fromkeys(GOLEMS, 1), transformer=transformer)
    too_big = [n for n, p in measurements.golems.items() if p.memory_bytes + table.overhead_bytes > device.memory_bytes]
    if too_big:
        candidate.note = f"{', '.join(too_big)} does not fit"
        return candidate
    curves = {name: _curve(p, device) for name, p in measurements.golems.items()}
    hops = len(GOLEMS) * measurements.hop_s

    def estimate(replicas: dict[str, int]) -> tuple[dict[str, StationEstimate], float]:
        stations = {name: station(objective.rate, replicas[name], curves[name], objective.max_batch,
                                  objective.window_s) for name in GOLEMS}
        return stations, sum(s.p95_s for s in stations.values()) + hops

    replicas = {name: _stable_replicas(objective, curves[name]) for name in GOLEMS}
    stations, p95 = estimate(replicas)
    while p95 > objective.p95_s and math.isfinite(p95):
        trials = {name: estimate({**replicas, name: replicas[name] + 1})[1] for name in GOLEMS
                  if replicas[name] < MAX_REPLICAS}
        best = min(trials, key=lambda name: (trials[name], name), default=None)
        if best is None or trials[best] >= p95:
            break  # no extra replica helps: the objective is below the service time itself
        replicas[best] += 1
        stations, p95 = estimate(replicas)
    candidate.replicas, candidate.stations, candidate.p95_s = replicas, stations, p95
    candidate.dollars_per_hour = (sum(replicas.values()) * device.price_per_hour
                                  + (transformer.price_per_hour if transformer else 0.0))
    return candidate


def plan(measurements: Measurements, table: PriceTable, objective: Objective) -> list[Candidate]:
    """Every layout on every device, cheapest first; unfit or unmet candidates sort after the ones that meet."""
    candidates = [planner(measurements, device, table, objective)
                  for device in table.devices for planner in (plan_monolith, plan_split)]
    return sorted(candidates, key=lambda c: (not c.meets(objective), c.dollars_per_hour, c.p95_s, c.label))


def chart_values(choice: Candidate, objective: Objective) -> dict[str, Any]:
    """Helm values for the chosen layout: the GolemPipeline spec's mode, placement, replicas and batching."""
    device = choice.device

    def placement(replicas: int) -> dict[str, Any]:
        workload: dict[str, Any] = {"minReplicas": replicas, "maxReplicas": replicas}
        if device.kind == "cpu":
            workload["gpu"] = {"count": 0}
        else:
            workload["gpu"] = {"count": 1, "resourceName": device.resource}
            workload["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        if device.node_selector:
            workload["nodeSelector"] = dict(device.node_selector)
        return workload

    spec: dict[str, Any] = {
        "mode": "monolith" if choice.layout == "monolith" else "microservices",
        "batching": {"maxBatchSize": objective.max_batch, "maxLatencyMs": round(objective.window_s * 1000, 3),
                     "maxQueue": 64},
    }
    if device.kind != "cpu":  # the cost metrics' GPU price; a CPU node has none to give
        spec["gpuHourlyPrice"] = device.price_per_hour
    if choice.layout == "monolith":
        spec["monolith"] = placement(choice.replicas["scribe"])
    else:
        spec["golems"] = {name: placement(choice.replicas[name]) for name in GOLEMS}
        spec["transformer"] = {"minReplicas": 1, "maxReplicas": 2}
    return {"pipeline": {"spec": spec},
            "monitoring": {"prometheusRule": {"latencySloSeconds": objective.p95_s}}}
