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
from golemline.evaluation.calibrate import NONE
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
    fresh_signals: calibrate.Signals | None = None  # a split's utterances under fresh noise (`golem gate fresh`)

    @classmethod
    def of(cls, name: str, rows: list[dict[str, Any]], base: GatingPolicy, max_wrong: float, delta: float,
           fresh_rows: list[dict[str, Any]] | None = None) -> Side:
        result = calibrate.calibrate([r for r in rows if r["split"] == "calibration"], base, max_wrong, delta)
        heldout = calibrate.Signals.of([r for r in rows if r["split"] == "heldout"], base)
        fresh = calibrate.Signals.of(fresh_rows, base) if fresh_rows else None
        return cls(name, result, heldout, Outcome.of(heldout, result.thresholds), fresh)

    @property
    def fresh(self) -> Outcome | None:
        """The fresh-noise cases under this side's own thresholds."""
        return Outcome.of(self.fresh_signals, self.calibration.thresholds) if self.fresh_signals is not None else None

    def mean_wer(self, clean: bool) -> tuple[float, int]:
        """Mean WER (each capped at 1) over the held-out cases with a spoken text, clean or not, and their count."""
        wers = [min(1.0, float(r["wer"])) for r in self.heldout.rows
                if r.get("wer") is not None and r.get("text") and (r["condition"] == "clean") == clean]
        return (float(np.mean(wers)) if wers else math.nan), len(wers)

    def frontier(self, fresh: bool = False) -> list[int]:
        """Held-out (or fresh-noise) right answers at the best point of the grid for each wrong-answer level."""
        signals = self.fresh_signals if fresh else self.heldout
        assert signals is not None
        everything = np.ones(len(signals.rows), dtype=bool)
        return [right for right, _ in calibrate.ceiling(signals, everything, FRONTIER_LEVELS)]


def change(name: str, before: Rate, after: Rate, higher_is_better: bool | None = None) -> str:
    if not before.n or not after.n or math.isclose(before.value, after.value):
        return "same" if before.n and after.n else "—"
    higher = HIGHER_IS_BETTER[name] if higher_is_better is None else higher_is_better
    return "better" if (after.value > before.value) == higher else "worse"


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


def same_cases(before: list[dict[str, Any]], after: list[dict[str, Any]],
               made_by: str = "golem gate calibrate --signals-out") -> None:
    """Both recordings must cover the same corpus cases in the same order, or nothing compares."""
    ids_before, ids_after = [r["id"] for r in before], [r["id"] for r in after]
    if ids_before != ids_after:
        first = next((i for i, (a, b) in enumerate(zip(ids_before, ids_after, strict=False)) if a != b),
                     min(len(ids_before), len(ids_after)))
        raise ConfigError(f"the two recordings are not of the same corpus ({len(ids_before)} and {len(ids_after)} "
                          f"cases; first difference at case {first}): record both with `{made_by}` on one corpus "
                          "version")


def markdown(before: Side, after: Side) -> list[str]:
    lines = [f"| measure (held-out, each under its own calibration) | {before.name} | {after.name} | change |",
             "| --- | --- | --- | --- |"]
    for b, a in zip(before.outcome.headline(), after.outcome.headline(), strict=True):
        lines.append(f"| {b.name} | {b.cell()} | {a.cell()} | {change(b.name, b, a)} |")
    for clean in (True, False):
        (wb, nb), (wa, na) = before.mean_wer(clean), after.mean_wer(clean)
        lines.append(f"| mean WER of held-out speech, {'clean' if clean else 'noisy and damaged'} (each capped at 1) | "
                     f"{wb:.4f} ({nb}) | {wa:.4f} ({na}) | {wa - wb:+.4f} |")
    lines += [frontier_row(before, after, fresh=False), ""]
    overall = wrong_only(before.outcome, after.outcome, lambda r: True)
    ten = wrong_only(before.outcome, after.outcome, lambda r: r.get("snr_db") == 10)
    lines += [f"Wrong answers only {before.name} / only {after.name} / both: {overall[0]} / {overall[1]} / "
              f"{overall[2]}; at 10 dB: {ten[0]} / {ten[1]} / {ten[2]}.", "",
              *[f"- thresholds ({side.name}): {thresholds_text(side.calibration.thresholds)}"
                for side in (before, after)]]
    if before.fresh is not None and after.fresh is not None:
        lines += ["", *fresh_markdown(before, after)]
    return lines


def frontier_row(before: Side, after: Side, fresh: bool) -> str:
    """Right answers at the grid's best point per wrong-answer level: the two Scribes compared at equal risk, not at
    wherever each calibration landed (in-sample on the rows scored, so for comparing, not for promising)."""
    fb, fa = before.frontier(fresh), after.frontier(fresh)
    levels = " / ".join(f"{level:g}" for level in FRONTIER_LEVELS)
    return (f"| right answers at the grid's best point, wrong ≤ {levels} | {' / '.join(map(str, fb))} | "
            f"{' / '.join(map(str, fa))} | {frontier_change(fb, fa)} |")


def utterance(row: dict[str, Any]) -> str:
    """What one utterance's noisy copies share: the voice and the sentence (they are not independent cases)."""
    return f"{row['speaker']}|{row['text']}"


def wrong_difference_interval(before: Outcome, after: Outcome, draws: int = 2000, seed: int = 0,
                              level: float = 0.95) -> tuple[float, float]:
    """A paired bootstrap interval of (wrong among accepted after) − (wrong among accepted before).

    Why paired and by utterance: both sides heard the same audio, so the difference varies far less than two
    independent rates would suggest; and the noisy copies of one utterance share its voice and sentence, so the
    utterance, not the case, is what is resampled. Draws where either side accepts nothing are left out.
    """
    keys = [utterance(r) for r in before.rows]
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    cluster = np.array([index[k] for k in keys])
    per = {name: np.bincount(cluster, weights=values.astype(float), minlength=len(index))
           for name, values in (("acc_b", before.accepted), ("wrong_b", before.accepted & ~before.right),
                                ("acc_a", after.accepted), ("wrong_a", after.accepted & ~after.right))}
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(index), np.full(len(index), 1 / len(index)), size=draws)  # draws × utterances
    acc_b, acc_a = counts @ per["acc_b"], counts @ per["acc_a"]
    ok = (acc_b > 0) & (acc_a > 0)
    diff = (counts @ per["wrong_a"])[ok] / acc_a[ok] - (counts @ per["wrong_b"])[ok] / acc_b[ok]
    low, high = np.quantile(diff, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def fresh_markdown(before: Side, after: Side) -> list[str]:
    """The fresh-noise recordings under each side's thresholds: the rates, paired wrong answers and the interval of
    the difference in wrong answers."""
    assert before.fresh is not None and after.fresh is not None
    b, a = before.fresh, after.fresh
    snrs = sorted({r["snr_db"] for r in b.rows})
    utterances = len({utterance(r) for r in b.rows})
    noises = sorted({r["condition"].split()[0] for r in b.rows})
    split = "/".join(sorted({r["split"] for r in b.rows})).replace("heldout", "held-out")
    lines = [f"Fresh noise: {len(b.rows)} cases, the {utterances} {split} utterances through each of "
             f"{', '.join(noises)} at {'/'.join(map(str, snrs))} dB, every draw new (`golem gate fresh`); each side "
             "under the thresholds above.", "",
             f"| measure (fresh noise) | {before.name} | {after.name} | change |", "| --- | --- | --- | --- |"]

    def in_domain(r: dict[str, Any]) -> bool:
        return bool(r["label"] != NONE)

    measures: list[tuple[Callable[[Outcome], Rate], bool]] = [  # (the rate of one side, higher is better)
        (lambda o: o.wrong("wrong among accepted"), False),
        (lambda o: o.accuracy("in-domain answered right", in_domain), True),
        (lambda o: o.rejected("in-domain refused", in_domain), False),
        (lambda o: o.rejected("off-domain refused", lambda r: not in_domain(r)), True),
        *[(lambda o, n=noise: o.wrong(f"  wrong among accepted, {n}", lambda r: r["condition"].startswith(n + " ")),
           False) for noise in noises]]
    rates = [(rate(b), rate(a), higher) for rate, higher in measures]
    lines += [f"| {rb.name} | {rb.cell()} | {ra.cell()} | {change(rb.name, rb, ra, higher)} |"
              for rb, ra, higher in rates]
    lines.append(frontier_row(before, after, fresh=True))
    only = wrong_only(b, a, lambda r: True)
    low, high = wrong_difference_interval(b, a)
    wrong_b, wrong_a, _ = rates[0]
    lines += ["", f"Wrong answers only {before.name} / only {after.name} / both: {only[0]} / {only[1]} / {only[2]}. "
              f"Wrong among accepted, {after.name} minus {before.name}: {wrong_a.value - wrong_b.value:+.3f} "
              f"(95% paired bootstrap interval over utterances {low:+.3f} to {high:+.3f})."]
    return lines


def thresholds_text(thresholds: dict[str, float]) -> str:
    return ", ".join(f"`{name}` {'off' if value == calibrate.OFF else f'{value:g}'}"
                     for name, value in thresholds.items())
