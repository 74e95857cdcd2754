"""One golem as a queueing station: Poisson arrivals, deterministic batched service, c replicas (M/D/c).

Why this model: requests arrive independently (Poisson is the usual, and conservative, assumption for many
independent users); a golem's forward pass on a batch of a given size takes a nearly fixed time (`golem bench`
measures it per batch size); replicas behind one Service drain one queue. Dynamic batching (`MicroBatcher`: take
the first waiting request, wait up to `max_latency_s` for more, up to `max_batch`) turns a station into an M/D/c
queue whose customers are batches:

- batch size b: what one batching window collects, 1 + λ₁·w (λ₁ = λ/c per replica, w the window);
- batches arrive at λ/b and take S(b); utilisation ρ = λ·S(b)/(b·c);
- the probability of waiting is Erlang C; an M/D/c queue waits about half as long as M/M/c (Cosmetatos'
  approximation), so the wait tail is taken as exponential with rate 2(cμ − λ_b):
  P(W > t) ≈ C(c, a)·exp(−2(cμ − λ_b)·t);
- a request's p95 at the station is w + W₉₅ + S₉₅(b) (the batching window, the queue, the slowest pass measured).

When ρ ≥ 1 at the window's batch size, the queue does not grow without bound if bigger batches are cheaper per
request: the batcher takes what arrived during the last pass, so batches settle at the fixed point b = λ₁·S(b)
(at most max_batch) and a request waits for at most the pass in progress: p95 ≈ w + S(b) + S₉₅(b). If even full
batches cannot keep up (λ₁·S(max_batch)/max_batch ≥ 1), the station is unstable and the layout is not offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TAIL = 0.05  # p95


@dataclass(frozen=True)
class ServiceCurve:
    """Measured seconds per batched pass, by batch size: the median (queueing) and the slowest run (the tail)."""

    median_s: dict[int, float]
    slowest_s: dict[int, float]

    def __post_init__(self) -> None:
        if not self.median_s or any(b < 1 or s <= 0 for b, s in self.median_s.items()):
            raise ValueError("a service curve needs positive seconds at batch sizes ≥ 1")

    @property
    def largest_batch(self) -> int:
        return max(self.median_s)

    def at(self, batch: float, tail: bool = False) -> float:
        """Seconds for a batch of `batch` (linear between measured sizes, proportional below the smallest one)."""
        points = sorted((self.slowest_s if tail and self.slowest_s else self.median_s).items())
        batch = min(max(batch, 1.0), points[-1][0])
        if batch <= points[0][0]:
            return points[0][1] * batch / points[0][0]
        for (b0, s0), (b1, s1) in zip(points, points[1:], strict=False):
            if batch <= b1:
                return s0 + (s1 - s0) * (batch - b0) / (b1 - b0)
        return points[-1][1]

    def scaled(self, factor: float) -> ServiceCurve:
        """The same curve on a device `factor` times slower (or on a device shared with other work)."""
        return ServiceCurve({b: s * factor for b, s in self.median_s.items()},
                            {b: s * factor for b, s in self.slowest_s.items()})


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with `offered` = λ/μ erlangs (needs offered < servers).
    Computed with the Erlang B recursion, which is stable for large c."""
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    rho = offered / servers
    return blocking / (1 - rho + rho * blocking)


@dataclass(frozen=True)
class StationEstimate:
    batch: float
    utilisation: float
    wait_p95_s: float
    p95_s: float
    mean_s: float

    @property
    def stable(self) -> bool:
        return self.utilisation < 1


def _at_batch(rate: float, replicas: int, curve: ServiceCurve, batch: float, window_s: float) -> StationEstimate:
    """The station as an M/D/c queue of batches of `batch` requests."""
    service = curve.at(batch)
    batch_rate = rate / batch
    offered = batch_rate * service
    utilisation = offered / replicas
    if utilisation >= 1:
        return StationEstimate(batch, utilisation, math.inf, math.inf, math.inf)
    waiting = erlang_c(replicas, offered)
    drain = 2 * (replicas / service - batch_rate)  # M/D/c: half the M/M/c conditional wait
    wait_p95 = math.log(waiting / TAIL) / drain if waiting > TAIL else 0.0
    mean = window_s / 2 + waiting / drain + service
    return StationEstimate(batch, utilisation, wait_p95, window_s + wait_p95 + curve.at(batch, tail=True), mean)


def station(rate: float, replicas: int, curve: ServiceCurve, max_batch: int = 1,
            window_s: float = 0.0) -> StationEstimate:
    """p95 and mean time through one golem with `replicas` replicas at `rate` requests per second."""
    if rate <= 0:
        return StationEstimate(1.0, 0.0, 0.0, curve.at(1, tail=True), curve.at(1))
    largest = min(max_batch, curve.largest_batch)
    window = window_s if largest > 1 else 0.0
    per_replica = rate / replicas
    smallest = min(float(largest), 1.0 + per_replica * window)  # what one batching window collects
    queued = _at_batch(rate, replicas, curve, smallest, window)
    if queued.stable or largest <= smallest:
        return queued
    # Saturated at the window's batch size: batches grow to what arrives during one pass (the fixed point
    # b = λ₁·S(b)); a request then waits for at most the pass in progress.
    batch = smallest
    for _ in range(200):
        nxt = min(float(largest), max(smallest, per_replica * curve.at(batch)))
        if abs(nxt - batch) < 1e-9:
            break
        batch = nxt
    if per_replica * curve.at(largest) / largest >= 1 or per_replica * curve.at(batch) > batch + 1e-6:
        return StationEstimate(batch, per_replica * curve.at(largest) / largest, math.inf, math.inf, math.inf)
    service = curve.at(batch)
    utilisation = min(per_replica * service / batch, 0.999)
    return StationEstimate(batch, utilisation, service, window + service + curve.at(batch, tail=True),
                           window / 2 + service / 2 + service)


def shared_device_stretch(rate: float, device_s: float) -> float:
    """How much longer the p95 request's device work takes when requests share one device (a monolith pod).

    Why: the stations' queues see a request wait only when a golem is busy with another *batch*. In a monolith the
    three golems share the device, so a request whose Scribe runs while an earlier request's Oracle does gets half
    the device: mean utilisation stays low (a few per cent), yet at 0.5 req/s about one request in seven overlaps
    another, and the p95 is such a request. Two requests sharing a device (processor sharing) both run at half
    speed until one leaves, so an overlapped request takes between T and 2T, about uniformly (T: its device work
    alone). Another request overlaps ours when it arrives within T before or after ours starts: p = 1 − exp(−2λT).
    Then P(time > t) ≈ p·(2T − t)/T, and the p95 is T·(2 − 0.05/p) when p > 0.05, else T: the stretch returned.
    Three or more requests together are left out; they matter only where the queues already dominate."""
    if rate <= 0 or device_s <= 0:
        return 1.0
    overlapped = 1 - math.exp(-2 * rate * device_s)
    return 2 - TAIL / overlapped if overlapped > TAIL else 1.0
