"""Two recorded configurations of the golems side by side, each under its own calibration (`golem gate compare`).

Why each under its own: a change to a golem (a window, a prompt, a precision, a model) moves the signals the gate
reads, so comparing two configurations at one set of thresholds favours the one those thresholds were calibrated
for. Each side is calibrated on its own calibration split, exactly as `golem gate calibrate` would, and compared on
the same held-out cases: the headline figures, the best the threshold grid can do on held-out (so a comparison does
not hinge on where each calibration happened to land), and the cases only one side answered wrongly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from golemline.errors import ConfigError
from golemline.evaluation import calibrate
from golemline.evaluation.report import TARGETS, Outcome, Rate
from golemline.settings import GatingPolicy

HIGHER_IS_BETTER = {name: op == ">=" for name, (op, _) in TARGETS.items()} | {
    "  of which synthetic": True, "  of which real human recordings": True}  # parts of "off-domain speech rejected"
FRONTIER_LEVELS = (0.01, 0.02, 0.03, 0.05)


@dataclass(frozen=True)
class Side:
    """One configuration's recorded rows, its own calibration and its held-out outcome under it."""

    name: str
    calibration: calibrate.Calibration
    heldout: calibrate.Signals
    outcome: Outcome

    @classmethod
    def of(cls, name: str, rows: list[dict[str, Any]], base: GatingPolicy, max_wrong: float, delta: float) -> Side:
        result = calibrate.calibrate([r for r in rows if r["split"] == "calibration"], base, max_wrong, delta)
        heldout = calibrate.Signals.of([r for r in rows if r["split"] == "heldout"], base)
        return cls(name, result, heldout, Outcome.of(heldout, result.thresholds))

    def mean_wer(self, clean: bool) -> tuple[float, int]:
        """Mean WER (each capped at 1) over the held-out cases with a spoken text, clean or not, and their count."""
        wers = [min(1.0, float(r["wer"])) for r in self.heldout.rows
                if r.get("wer") is not None and r.get("text") and (r["condition"] == "clean") == clean]
        return (float(np.mean(wers)) if wers else math.nan), len(wers)

    def frontier(self) -> list[int]:
        """Held-out right answers at the best point of the grid for each wrong-answer level."""
        everything = np.ones(len(self.heldout.rows), dtype=bool)
        return [right for right, _ in calibrate.ceiling(self.heldout, everything, FRONTIER_LEVELS)]


def change(name: str, before: Rate, after: Rate) -> str:
    if not before.n or not after.n or math.isclose(before.value, after.value):
        return "same" if before.n and after.n else "—"
    return "better" if (after.value > before.value) == HIGHER_IS_BETTER[name] else "worse"


def frontier_change(before: list[int], after: list[int]) -> str:
    if before == after:
        return "same"
    if all(a >= b for a, b in zip(after, before, strict=True)):
        return "better"
    return "worse" if all(a <= b for a, b in zip(after, before, strict=True)) else "mixed"


def wrong_only(before: Outcome, after: Outcome, keep: Callable[[dict[str, Any]], bool]) -> tuple[int, int, int]:
    """Held-out cases answered wrongly only before, only after, and by both (the cases are the same)."""
    mask = before.mask(keep)
    wrong_before = mask & before.accepted & ~before.right
    wrong_after = mask & after.accepted & ~after.right
    return (int((wrong_before & ~wrong_after).sum()), int((wrong_after & ~wrong_before).sum()),
            int((wrong_before & wrong_after).sum()))


def same_cases(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Both recordings must cover the same corpus cases in the same order, or nothing compares."""
    ids_before, ids_after = [r["id"] for r in before], [r["id"] for r in after]
    if ids_before != ids_after:
        first = next((i for i, (a, b) in enumerate(zip(ids_before, ids_after, strict=False)) if a != b),
                     min(len(ids_before), len(ids_after)))
        raise ConfigError(f"the two recordings are not of the same corpus ({len(ids_before)} and {len(ids_after)} "
                          f"cases; first difference at case {first}): record both with `golem gate calibrate "
                          "--signals-out` on one corpus version")


def markdown(before: Side, after: Side) -> list[str]:
    lines = [f"| measure (held-out, each under its own calibration) | {before.name} | {after.name} | change |",
             "| --- | --- | --- | --- |"]
    for b, a in zip(before.outcome.headline(), after.outcome.headline(), strict=True):
        lines.append(f"| {b.name} | {b.cell()} | {a.cell()} | {change(b.name, b, a)} |")
    for clean in (True, False):
        (wb, nb), (wa, na) = before.mean_wer(clean), after.mean_wer(clean)
        lines.append(f"| mean WER of held-out speech, {'clean' if clean else 'noisy and damaged'} (each capped at 1) | "
                     f"{wb:.4f} ({nb}) | {wa:.4f} ({na}) | {wa - wb:+.4f} |")
    fb, fa = before.frontier(), after.frontier()
    levels = " / ".join(f"{level:g}" for level in FRONTIER_LEVELS)
    lines += [f"| right answers at the grid's best point, wrong ≤ {levels} | {' / '.join(map(str, fb))} | "
              f"{' / '.join(map(str, fa))} | {frontier_change(fb, fa)} |", ""]
    overall = wrong_only(before.outcome, after.outcome, lambda r: True)
    ten = wrong_only(before.outcome, after.outcome, lambda r: r.get("snr_db") == 10)
    lines += [f"Wrong answers only {before.name} / only {after.name} / both: {overall[0]} / {overall[1]} / "
              f"{overall[2]}; at 10 dB: {ten[0]} / {ten[1]} / {ten[2]}.", "",
              *[f"- thresholds ({side.name}): {thresholds_text(side.calibration.thresholds)}"
                for side in (before, after)]]
    return lines


def thresholds_text(thresholds: dict[str, float]) -> str:
    return ", ".join(f"`{name}` {'off' if value == calibrate.OFF else f'{value:g}'}"
                     for name, value in thresholds.items())
