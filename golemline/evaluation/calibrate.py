"""Risk-controlled gate thresholds (Learn then Test): choose every stage's thresholds so that, among the answers the
pipeline gives, the share with the wrong intent stays under a level the user picks, with a stated confidence.

Why this procedure: hand-set thresholds held on the voice they were tuned on and not on others. Here
1. the calibration split is cut in two by utterance (a clean take and its noisy copies stay together);
2. on the first half a path is built from the strictest thresholds to the loosest, one threshold step at a time,
   each step the one that lets new answers through at the lowest share of wrong ones;
3. on the second half the path is tested in order (fixed-sequence testing), starting at the first point that
   accepts enough answers to be certifiable at all: a point is certified when an exact binomial test rejects
   "the wrong rate among accepted answers exceeds `max_wrong`" at level `delta`; the loosest point
   before the first failure is chosen. With probability at least 1 - delta over the calibration draw, the chosen
   thresholds' wrong rate is at most `max_wrong` on data like the calibration data (Angelopoulos et al., "Learn
   then Test", 2021). The held-out split (other voices and synthesisers) then shows how far that carries.

A *wrong answer* is an accepted case whose intent differs from its label, including any accepted case labelled
`none` (off-domain speech, non-speech, recordings that ask for nothing). Only thresholds move; reason codes and
the order of the checks are those of `golemline.gating`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from golemline.settings import GatingPolicy

NONE = "none"
OFF = -math.inf  # a lower bound that never rejects

# The thresholds calibration moves, strictest first, and what each bounds (min: reject below, max: reject above).
GRID: dict[str, tuple[str, tuple[float, ...]]] = {
    # Coarse on purpose: a finer grid let the path-building half pick points that fit its own noise (on the
    # testing half their wrong counts jumped about instead of rising with the risk level).
    "max_no_speech_prob": ("max", (0.3, 0.5, 0.7, 1.0)),
    "min_avg_logprob": ("min", (-0.6, -0.8, -1.0, -1.2, OFF)),
    "min_token_logprob": ("min", (-2.0, -3.0, -4.0, -6.0, OFF)),
    "min_intent_score": ("min", (0.6, 0.5, 0.45, 0.4, 0.35, 0.3, OFF)),
    "min_intent_margin": ("min", (0.2, 0.15, 0.1, 0.06, 0.03, 0.0)),
    "min_open_set_margin": ("min", (0.2, 0.1, 0.05, 0.0, -0.05, OFF)),
}
OPTIONAL = ("min_token_logprob", "min_open_set_margin")  # checks skipped when the backend gives no such signal
OFF_VALUE = {"max_no_speech_prob": 1.0, "min_avg_logprob": -100.0, "min_token_logprob": -100.0,
             "min_intent_score": -2.0, "min_intent_margin": 0.0, "min_open_set_margin": -2.0}
SIGNAL = {"max_no_speech_prob": "no_speech_prob", "min_avg_logprob": "avg_logprob",
          "min_token_logprob": "min_token_logprob", "min_intent_score": "score",
          "min_intent_margin": "margin", "min_open_set_margin": "open_set_margin"}


@dataclass(frozen=True)
class Signals:
    """The recorded rows as arrays (one entry per case), with the fixed checks already applied."""

    rows: list[dict[str, Any]]
    values: dict[str, np.ndarray]
    fixed_pass: np.ndarray  # signal level, word count, compression ratio: checks calibration leaves as they are
    correct_intent: np.ndarray  # the ungated intent equals the label (never for `none`)

    @classmethod
    def of(cls, rows: list[dict[str, Any]], policy: GatingPolicy) -> Signals:
        def column(key: str, missing: float) -> np.ndarray:
            return np.array([missing if r.get(key) is None else float(r[key]) for r in rows], dtype=np.float64)

        values = {name: column(SIGNAL[name], np.nan) for name in GRID if name != "min_open_set_margin"}
        values["min_open_set_margin"] = column("score", np.nan) - column("none_score", np.nan)
        fixed = ((column("rms_dbfs", -math.inf) >= policy.min_rms_dbfs)
                 & (column("words", 0) >= policy.min_words)
                 & (column("compression_ratio", math.inf) <= policy.max_compression_ratio))
        correct = np.array([r["label"] != NONE and r["intent"] == r["label"] for r in rows])
        return cls(rows, values, fixed, correct)

    def subset(self, mask: np.ndarray) -> Signals:
        return Signals([r for r, keep in zip(self.rows, mask, strict=True) if keep],
                       {k: v[mask] for k, v in self.values.items()}, self.fixed_pass[mask], self.correct_intent[mask])

    def accepted(self, thresholds: dict[str, float]) -> np.ndarray:
        """Which cases the gate passes with these thresholds."""
        ok = self.fixed_pass.copy()
        for name, value in thresholds.items():
            ok &= self.passes(name, value)
        return ok

    def passes(self, name: str, value: float) -> np.ndarray:
        """One check, treating a missing signal as `golemline.gating` does: a missing no-speech probability passes,
        a missing average log-probability is unsure (rejected), a missing optional signal is not checked."""
        kind, _ = GRID[name]
        signal = self.values[name]
        if kind == "max":
            return ~(signal > value)
        if value == OFF:
            return np.ones(len(signal), dtype=bool)
        return (signal >= value) | (np.isnan(signal) & (name in OPTIONAL))

    def first_passing(self, name: str) -> np.ndarray:
        """Per case, the strictest grid position at which it passes this check (len(grid): never). Checks are
        monotone along the grid, so the case passes every looser position too."""
        _, grid = GRID[name]
        out = np.full(len(self.rows), len(grid), dtype=np.int64)
        for k in reversed(range(len(grid))):
            out[self.passes(name, grid[k])] = k
        return out


@dataclass(frozen=True)
class Point:
    thresholds: dict[str, float]
    accepted: int
    wrong: int
    right: int

    @property
    def wrong_rate(self) -> float:
        return self.wrong / self.accepted if self.accepted else 0.0


def evaluate(signals: Signals, thresholds: dict[str, float]) -> Point:
    accepted = signals.accepted(thresholds)
    right = int((accepted & signals.correct_intent).sum())
    return Point(dict(thresholds), int(accepted.sum()), int(accepted.sum()) - right, right)


def p_value(wrong: int, accepted: int, max_wrong: float) -> float:
    """P(at most `wrong` wrong answers among `accepted` | the true wrong rate is `max_wrong`): small when the
    observed count is implausible under a wrong rate that high (exact binomial; 1.0 when nothing is accepted)."""
    return float(stats.binom.cdf(wrong, accepted, max_wrong)) if accepted else 1.0


def interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval for a rate of k in n."""
    if n == 0:
        return 0.0, 1.0
    alpha = 1 - confidence
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def strictest() -> dict[str, float]:
    return {name: grid[0] for name, (_, grid) in GRID.items()}


def grid_counts(signals: Signals) -> tuple[np.ndarray, np.ndarray]:
    """Accepted and right-answer counts for every point of the threshold grid at once: a case is accepted at a
    point when each of its checks' first passing positions is at or before the point's, so the counts are a
    histogram of those positions summed cumulatively along every axis (a million points in milliseconds)."""
    shape = tuple(len(grid) for _, grid in GRID.values())
    first = np.stack([signals.first_passing(name) for name in GRID])
    ever = signals.fixed_pass & np.all(first < np.array(shape)[:, None], axis=0)
    counts = []
    for mask in (ever, ever & signals.correct_intent):
        histogram = np.zeros(shape, dtype=np.int64)
        np.add.at(histogram, tuple(first[:, mask]), 1)
        for axis in range(len(shape)):
            histogram = np.cumsum(histogram, axis=axis)
        counts.append(histogram)
    return counts[0], counts[1]


def ceiling(signals: Signals, of: np.ndarray, levels: Sequence[float]) -> list[tuple[int, int]]:
    """Per level of wrong answers: the most cases of the subset `of` that any point of the grid answers right, and
    the most it accepts, among the points whose share of wrong answers over all cases is at most that level
    ((0, 0) where no point is).

    In-sample, hence optimistic: thresholds chosen on the very cases they are scored on. Why it is worth knowing:
    if even this misses a target, no recalibration of the same golems can meet it; only better golems can. The two
    maxima may come from different points."""
    accepted, right = grid_counts(signals)
    part_accepted, part_right = grid_counts(signals.subset(of))
    out = []
    for max_wrong in levels:
        feasible = (accepted > 0) & (accepted - right <= max_wrong * accepted)
        out.append((int(part_right[feasible].max()), int(part_accepted[feasible].max())) if feasible.any()
                   else (0, 0))
    return out


RISK_STEPS = tuple(round(0.0025 * i, 4) for i in range(81))  # 0 to 0.2


def build_path(signals: Signals) -> list[dict[str, float]]:
    """For each wrong-answer share r in RISK_STEPS (ascending), the grid point with the most right answers whose
    share of wrong ones is at most r on these cases (ties: fewer wrong, then the stricter point): the best
    operating point at each level of risk, in the order fixed-sequence testing will try them."""
    accepted, right = grid_counts(signals)
    wrong = accepted - right
    names = list(GRID)
    path: list[dict[str, float]] = [strictest()]
    for risk in RISK_STEPS:
        feasible = (accepted > 0) & (wrong <= risk * accepted)
        if not feasible.any():
            continue
        # lexicographic: most right, then fewest wrong, then the smallest flat index (the stricter point)
        key = np.where(feasible, right * (wrong.max() + 1) - wrong, -1)
        index = np.unravel_index(int(np.argmax(key)), accepted.shape)
        point = {name: GRID[name][1][int(k)] for name, k in zip(names, index, strict=True)}
        if point != path[-1]:
            path.append(point)
    return path


def fewest_to_certify(max_wrong: float, delta: float) -> int:
    """The fewest accepted answers that can certify `max_wrong` at level `delta` (all of them right):
    (1 - max_wrong)^n <= delta. Stricter points with fewer answers than this cannot pass, so testing starts at
    the first point of the path that accepts this many on the path-building half."""
    return math.ceil(math.log(delta) / math.log(1 - max_wrong))


def take_of(row: dict[str, Any]) -> str:
    """The recorded take a row comes from (its clean waveform): a take's clean, noisy and damaged copies share it."""
    return str(row.get("source") or row["id"])


def halves(rows: list[dict[str, Any]]) -> np.ndarray:
    """True for the path-building half: by a hash of the take, so noisy copies of one take land in the same half."""
    return np.array([hashlib.sha256(take_of(r).encode()).digest()[0] % 2 == 0 for r in rows])


@dataclass(frozen=True)
class Calibration:
    max_wrong: float
    delta: float
    path: list[dict[str, float]]
    tested: list[tuple[Point, float]]  # along the path on the testing half: the point and its p-value
    chosen_index: int  # -1: nothing certified (every answer refused)
    first_tested: int = 0  # where fixed-sequence testing started (stricter points accept too few to certify)

    @property
    def thresholds(self) -> dict[str, float]:
        return self.path[max(self.chosen_index, 0)]

    def policy(self, base: GatingPolicy) -> GatingPolicy:
        """The calibrated thresholds as a gating policy. OFF is written as a bound no signal can fall below (a
        log-probability of -100, a cosine score or margin of -2), so a config file can say "not checked"."""
        values: dict[str, Any] = {name: OFF_VALUE[name] if value == OFF else value
                                  for name, value in self.thresholds.items()}
        return replace(base, **values)


def calibrate(rows: list[dict[str, Any]], base: GatingPolicy, max_wrong: float = 0.02,
              delta: float = 0.1) -> Calibration:
    """Learn then Test on the calibration rows (see the module docstring). Deterministic: no random draw."""
    if not 0 < max_wrong < 1 or not 0 < delta < 1:
        raise ValueError("max_wrong and delta must lie strictly between 0 and 1")
    signals = Signals.of(rows, base)
    learn = halves(rows)
    learning = signals.subset(learn)
    path = build_path(learning)
    first = next((i for i, t in enumerate(path)
                  if evaluate(learning, t).accepted >= fewest_to_certify(max_wrong, delta)), len(path) - 1)
    test = signals.subset(~learn)
    tested, chosen, testing = [], -1, True
    for i, thresholds in enumerate(path):
        point = evaluate(test, thresholds)
        p = p_value(point.wrong, point.accepted, max_wrong)
        tested.append((point, p))
        if i < first or not testing:
            continue
        if p <= delta:
            chosen = i  # certified: go on to the next, looser point
        else:
            testing = False  # the first failure ends fixed-sequence testing
    return Calibration(max_wrong, delta, path, tested, chosen, first)
