"""How much the calibrated gate depends on which calibration utterances happened to be recorded.

Why: Learn then Test bounds the wrong-answer rate for *one* calibration draw, and the chosen operating point can move
with small changes in that draw (removing sox's dither from the corpus moved three of six thresholds while the
held-out figures hardly moved). Recalibrating on bootstrap resamples of the calibration split shows the spread of
thresholds and of held-out figures that a user recalibrating on similar data would see, and how often the bound
held on held-out across them. Resampling is by recorded take (a clean waveform and its noisy copies together), since
copies of one take are not independent. Deterministic: the draws come from a fixed seed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from golemline.evaluation.calibrate import Signals, calibrate, evaluate, take_of
from golemline.settings import GatingPolicy

DRAWS = 200
SEED = 0


@dataclass(frozen=True)
class Stability:
    draws: int
    max_wrong: float
    heldout_wrong: list[float]  # per draw: wrong among accepted on held-out at that draw's calibration
    heldout_right: list[int]  # per draw: held-out answers with the right intent
    threshold_sets: int  # distinct operating points chosen across the draws
    chose_shipped: int  # draws that chose the same thresholds as the full calibration split

    @property
    def bound_held(self) -> int:
        return sum(w <= self.max_wrong for w in self.heldout_wrong)

    def summary(self) -> str:
        wrong, right = np.array(self.heldout_wrong), np.array(self.heldout_right)
        q = np.quantile(wrong, [0.05, 0.5, 0.95])
        r = np.quantile(right, [0.05, 0.5, 0.95])
        return (f"Recalibrated on {self.draws} bootstrap resamples of the calibration split (by recorded take), the "
                f"gate chose {self.threshold_sets} different operating points ({self.chose_shipped} draws chose the "
                f"shipped one). Held-out wrong among accepted: median {q[1]:.3f}, 90% of draws between {q[0]:.3f} "
                f"and {q[2]:.3f}; the bound ({self.max_wrong:g}) held in {self.bound_held} of {self.draws}. "
                f"Held-out right answers: median {r[1]:.0f} (90% between {r[0]:.0f} and {r[2]:.0f}). The binomial "
                "test counts every row as independent, though a take's clean, noisy and damaged copies are not; "
                "this spread is the check on that.")


def resample_by_take(rows: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    """Takes (`take_of`) drawn with replacement, each with all its rows; a take drawn twice is kept twice under new ids
    but the same take, so both copies land in the same half of Learn then Test (`halves` splits by take too)."""
    takes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        takes[take_of(row)].append(row)
    keys = sorted(takes)
    out = []
    for draw, k in enumerate(rng.integers(0, len(keys), len(keys))):
        out += [dict(row, id=f"{row['id']}#{draw}") for row in takes[keys[k]]]
    return out


def stability(calibration_rows: list[dict[str, Any]], shipped: dict[str, float], heldout: Signals,
              base: GatingPolicy, max_wrong: float, delta: float, draws: int = DRAWS,
              seed: int = SEED) -> Stability:
    """`shipped`: the thresholds calibrated on all of `calibration_rows` (counted where a draw chooses them too)."""
    rng = np.random.default_rng(seed)
    wrong, right, chosen = [], [], []
    for _ in range(draws):
        thresholds = calibrate(resample_by_take(calibration_rows, rng), base, max_wrong, delta).thresholds
        point = evaluate(heldout, thresholds)
        wrong.append(point.wrong_rate)
        right.append(point.right)
        chosen.append(tuple(sorted(thresholds.items())))
    return Stability(draws, max_wrong, wrong, right, len(set(chosen)),
                     sum(c == tuple(sorted(shipped.items())) for c in chosen))
