"""The held-out report of a calibration: rates with Clopper-Pearson intervals by group, synthesiser and condition,
the trade-off plot, what still gets through, and the gating config file (`golem gate calibrate`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from golemline.evaluation import calibrate
from golemline.evaluation.calibrate import GRID, NONE, OFF, Calibration, Signals, interval
from golemline.settings import GatingPolicy

HAND_SET = {  # the thresholds in force before calibration (embedding Interpreter), for the before/after columns
    "max_no_speech_prob": 0.5, "min_avg_logprob": -1.0, "min_token_logprob": OFF, "min_intent_score": 0.35,
    "min_intent_margin": 0.12, "min_open_set_margin": OFF}
TARGETS = {  # the gate's acceptance figures, on the held-out split
    "non-speech rejected": (">=", 0.98), "off-domain speech rejected": (">=", 0.95),
    "clean in-domain rejected": ("<=", 0.05), "wrong among accepted": ("<=", 0.02),
    "wrong among accepted at 10 dB": ("<=", 0.05), "clean in-domain accuracy": (">=", 0.93),
}


@dataclass(frozen=True)
class Rate:
    name: str
    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def cell(self) -> str:
        if not self.n:
            return "—"
        low, high = interval(self.k, self.n)
        return f"{self.value:.3f} ({self.k}/{self.n}; 95% CI {low:.3f}–{high:.3f})"

    def verdict(self, max_wrong: float | None = None) -> str:
        """Met or not against the gate's target; the wrong-answer row against `max_wrong` when given (the level
        the calibration was asked for, which is what it promises)."""
        if self.name not in TARGETS or not self.n:
            return ""
        op, target = TARGETS[self.name]
        if self.name == "wrong among accepted" and max_wrong is not None:
            target = max_wrong
        met = self.value >= target if op == ">=" else self.value <= target
        return f"{op} {target:g}: {'met' if met else 'NOT met'}"


@dataclass(frozen=True)
class Outcome:
    """Per held-out case: accepted, and whether the answer (or the refusal) was right."""

    rows: list[dict[str, Any]]
    accepted: np.ndarray
    right: np.ndarray  # accepted with the labelled intent

    @classmethod
    def of(cls, signals: Signals, thresholds: dict[str, float]) -> Outcome:
        accepted = signals.accepted(thresholds)
        return cls(signals.rows, accepted, accepted & signals.correct_intent)

    def mask(self, keep: Callable[[dict[str, Any]], bool]) -> np.ndarray:
        return np.array([keep(r) for r in self.rows], dtype=bool)

    def rejected(self, name: str, keep: Callable[[dict[str, Any]], bool]) -> Rate:
        m = self.mask(keep)
        return Rate(name, int((~self.accepted & m).sum()), int(m.sum()))

    def wrong(self, name: str, keep: Callable[[dict[str, Any]], bool] = lambda r: True) -> Rate:
        m = self.mask(keep) & self.accepted
        return Rate(name, int((m & ~self.right).sum()), int(m.sum()))

    def accuracy(self, name: str, keep: Callable[[dict[str, Any]], bool]) -> Rate:
        m = self.mask(keep)
        return Rate(name, int((self.right & m).sum()), int(m.sum()))

    def headline(self) -> list[Rate]:
        def clean_in(r: dict[str, Any]) -> bool:
            return r["group"] == "in-domain" and r["condition"] == "clean"
        return [
            self.rejected("non-speech rejected", lambda r: r["group"] == "non-speech"),
            self.rejected("off-domain speech rejected", lambda r: r["group"] in ("off-domain", "human")),
            self.rejected("  of which synthetic", lambda r: r["group"] == "off-domain"),
            self.rejected("  of which real human recordings", lambda r: r["group"] == "human"),
            self.rejected("clean in-domain rejected", clean_in),
            self.wrong("wrong among accepted"),
            self.wrong("wrong among accepted at 10 dB", lambda r: r.get("snr_db") == 10),
            self.accuracy("clean in-domain accuracy", clean_in),
        ]


def _by(outcome: Outcome, key: Callable[[dict[str, Any]], str]) -> list[tuple[str, Rate, Rate, Rate]]:
    """Per value of `key`: in-domain answered right, `none` refused, wrong among accepted."""
    out = []
    for value in sorted({key(r) for r in outcome.rows}):
        def same(r: dict[str, Any], v: str = value) -> bool:
            return key(r) == v
        out.append((value,
                    outcome.accuracy("", lambda r, s=same: s(r) and r["label"] != NONE),  # type: ignore[misc]
                    outcome.rejected("", lambda r, s=same: s(r) and r["label"] == NONE),  # type: ignore[misc]
                    outcome.wrong("", same)))
    return out


def heard_or_not(outcome: Outcome) -> list[str]:
    """In-domain commands, clean and at 10 dB, split by whether the Scribe heard them word for word (WER 0) or not.

    Why: a refusal is the gate's verdict, not its cause. This table says which golem limits the figures: if the
    commands heard exactly are answered right and the refusals and wrong answers are mishearings, a better
    Interpreter or gate cannot do much about them, only a better Scribe can; the ungated column is what no gate can
    exceed."""
    exact = outcome.mask(lambda r: r.get("wer") == 0)
    ungated = outcome.mask(lambda r: r["intent"] == r["label"])
    lines = ["| in-domain commands | commands | answered right | refused | wrong | right with no gate |",
             "| --- | --- | --- | --- | --- | --- |"]
    conditions: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
        ("clean", lambda r: r["condition"] == "clean"), ("at 10 dB", lambda r: r.get("snr_db") == 10))
    for condition, keep in conditions:
        part = outcome.mask(lambda r, keep=keep: r["group"] == "in-domain" and keep(r))  # type: ignore[misc]
        for name, m in (("heard word for word (WER 0)", part & exact), ("misheard (WER > 0)", part & ~exact),
                        ("all", part)):
            n = int(m.sum())
            lines.append(f"| {condition}, {name} | {n} | {int((m & outcome.right).sum())} | "
                         f"{int((m & ~outcome.accepted).sum())} | {int((m & outcome.accepted & ~outcome.right).sum())}"
                         f" | {int((m & ungated).sum())} |")
    return lines


def ceiling_table(calibration_signals: Signals, levels: list[float]) -> list[str]:
    """The best clean in-domain figures any thresholds reach on the calibration split (see `calibrate.ceiling`)."""
    clean = np.array([r["group"] == "in-domain" and r["condition"] == "clean" for r in calibration_signals.rows],
                     dtype=bool)
    n = int(clean.sum())
    lines = ["| wrong among accepted at most | clean in-domain accuracy, at best | clean in-domain rejected, at "
             "least |", "| --- | --- | --- |"]
    for level, (right, accepted) in zip(levels, calibrate.ceiling(calibration_signals, clean, levels), strict=True):
        lines.append(f"| {level:g} | {right / n:.3f} ({right}/{n}) | {(n - accepted) / n:.3f} ({n - accepted}/{n}) |"
                     if n else f"| {level:g} | — | — |")
    return lines


def _condition(row: dict[str, Any]) -> str:
    return f"{row['condition'].split()[0]} noise, {row['snr_db']:>2} dB" if row.get("snr_db") is not None \
        else row["condition"] if row["group"] != "non-speech" else "non-speech"


def _snr(row: dict[str, Any]) -> str:
    return "clean" if row["condition"] == "clean" else f"{row['snr_db']:>2} dB" if row.get("snr_db") is not None \
        else "channel: " + row["condition"] if row["group"] != "non-speech" else "non-speech"


def gating_values(policy: GatingPolicy) -> dict[str, Any]:
    """The policy as the CRD's camelCase `gating` mapping."""
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)
    return {camel(f.name): getattr(policy, f.name) for f in fields(GatingPolicy) if getattr(policy, f.name) is not None}


def config_yaml(policy: GatingPolicy, calibration: Calibration, heldout_wrong: Rate) -> str:
    import yaml

    low, high = interval(heldout_wrong.k, heldout_wrong.n)
    header = (f"# Written by `golem gate calibrate`: gate thresholds chosen so that at most {calibration.max_wrong:g}"
              " of accepted\n# answers carry the wrong intent (Learn then Test, delta "
              f"{calibration.delta:g}). Held-out: {heldout_wrong.value:.3f} ({heldout_wrong.k}/{heldout_wrong.n}; "
              f"95% CI {low:.3f}-{high:.3f}).\n# Use with `helm install -f` (chart values), or "
              "`golem run|serve --gating-config` (GOLEM_GATING_CONFIG).\n")
    return header + yaml.safe_dump({"pipeline": {"spec": {"gating": gating_values(policy)}}}, sort_keys=False)


def tradeoff_png(path: Path, calibration: Calibration, heldout: Signals, calib_test: Signals) -> None:
    """Confident wrong answers against clean commands refused, as the operating point moves along the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, signals, style in (("calibration (testing half)", calib_test, "o-"), ("held-out", heldout, "s-")):
        xs, ys = [], []
        for thresholds in calibration.path:
            outcome = Outcome.of(signals, thresholds)
            [_, _, _, _, clean_rejected, wrong, *_] = outcome.headline()
            xs.append(clean_rejected.value)
            ys.append(wrong.value if wrong.n else 0.0)
        ax.plot(xs, ys, style, markersize=3, label=label, alpha=0.8)
        if calibration.chosen_index >= 0:
            ax.plot([xs[calibration.chosen_index]], [ys[calibration.chosen_index]], "k*", markersize=14)
    ax.axhline(calibration.max_wrong, color="red", linestyle="--", linewidth=1,
               label=f"target {calibration.max_wrong:g}")
    ax.set_xlabel("clean in-domain commands refused")
    ax.set_ylabel("wrong intent among accepted answers")
    ax.set_title("Gate operating points along the calibration path (strictest at the right); ★ chosen")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(calibration: Calibration, policy: GatingPolicy, heldout: Signals, calibration_rows: int,
             sources: Iterable[str], png: str | None, command: str, measured: str = "",
             stability: str = "", ceiling: list[str] | None = None) -> str:
    outcome = Outcome.of(heldout, calibration.thresholds)
    before = Outcome.of(heldout, HAND_SET).headline()
    chosen = calibration.tested[max(calibration.chosen_index, 0)]
    lines = [
        "# Gating: calibrated thresholds and how they hold on unseen speech", "",
        f"Generated by `{command}`. Every figure below is on the **held-out** split: voices, synthesisers and",
        "phrasings that calibration never saw (see *The corpus*). Intervals are 95% Clopper-Pearson.",
        *([f"Golems: {measured}."] if measured else []), "",
        "## Held-out results", "",
        "| measure | calibrated gate | target | hand-set thresholds before (same golems) |",
        "| --- | --- | --- | --- |",
        *[f"| {r.name} | {r.cell()} | {r.verdict(calibration.max_wrong)} | {b.cell()} |"
          for r, b in zip(outcome.headline(), before, strict=True)], "",
        "## The calibration", "",
        f"Target: at most **{calibration.max_wrong:g}** of accepted answers with the wrong intent, at confidence "
        f"1 − δ = {1 - calibration.delta:g}",
        f"(Learn then Test: a path of {len(calibration.path)} operating points from strictest to loosest, built on "
        "one half of the",
        f"calibration split ({calibration_rows} cases), tested in order on the other half with an exact binomial "
        "test; the loosest point",
        "before the first failure is chosen). "
        + (f"Chosen point {calibration.chosen_index} of the path: on the testing half {chosen[0].wrong} wrong of "
           f"{chosen[0].accepted} accepted (p = {chosen[1]:.3f})." if calibration.chosen_index >= 0 else
           "**No point of the path was certified**: the strictest point is written, and it refuses almost "
           "everything."), "",
        "| threshold | calibrated | hand-set before |", "| --- | --- | --- |",
        *[f"| `{name}` | {getattr(policy, name)} | {'not checked' if HAND_SET[name] == OFF else HAND_SET[name]} |"
          for name in GRID], "",
        "The Interpreter thresholds (`min_intent_score`, `min_intent_margin`, `min_open_set_margin`) were the",
        "embedding backend's defaults before; they are its calibrated defaults now. Fixed checks calibration "
        "leaves alone:",
        f"signal level ≥ {policy.min_rms_dbfs} dBFS, at least {policy.min_words} word, compression ratio ≤ "
        f"{policy.max_compression_ratio}.", "",
        f"Does the bound hold on the held-out split? Wrong among accepted: {outcome.headline()[5].cell()}, target "
        f"{calibration.max_wrong:g}.", "",
        *([stability, ""] if stability else []),
    ]
    if ceiling:
        lines += ["**How far these golems can go.** The best that any point of the threshold grid reaches on the",
                  "calibration split itself: chosen on the cases it is scored on, so optimistic. Where a row misses a",
                  "target, no recalibration of these golems meets it on data like this; only better golems can.", "",
                  *ceiling, ""]
    if png:
        lines += [f"![trade-off]({png})", "",
                  "Each point is one step of the path; ★ is the chosen point. Moving right refuses more clean "
                  "commands; moving up answers more of them wrongly.", ""]
    lines += ["## Held-out, by synthesiser or source", "",
              "| speaker | in-domain answered right | `none` refused | wrong among accepted |",
              "| --- | --- | --- | --- |",
              *[f"| {v} | {a.cell()} | {n.cell()} | {w.cell()} |" for v, a, n, w in _by(outcome, lambda r: r["synth"])],
              "", "## Held-out, by condition", "",
              "| condition | in-domain answered right | `none` refused | wrong among accepted |",
              "| --- | --- | --- | --- |",
              *[f"| {v} | {a.cell()} | {n.cell()} | {w.cell()} |" for v, a, n, w in _by(outcome, _snr)],
              "", "## Held-out, by category", "",
              "| category | in-domain answered right | `none` refused | wrong among accepted |",
              "| --- | --- | --- | --- |",
              *[f"| {v} | {a.cell()} | {n.cell()} | {w.cell()} |" for v, a, n, w in
                _by(outcome, lambda r: f"{r['group']}: {r['category']}")],
              "", "## Held-out, heard or misheard", "",
              "Which golem limits the in-domain figures: the Scribe where the refusals and wrong answers are",
              "commands it misheard, the Interpreter and the gate where they are commands it heard word for word.", "",
              *heard_or_not(outcome),
              "", "## What still gets through (held-out, accepted with the wrong intent)", "",
              "| case | transcript | answered | score / margin / none | label |", "| --- | --- | --- | --- | --- |"]
    for row, accepted, right in zip(outcome.rows, outcome.accepted, outcome.right, strict=True):
        if accepted and not right:
            none = "—" if row.get("none_score") is None else f"{row['none_score']:.2f}"
            lines.append(f"| {row['speaker']}, {row['condition']}: {row['text'] or row['category']!r} | "
                         f"{row['transcript']!r} | {row['intent']} | {row['score']:.2f} / {row['margin']:.2f} / "
                         f"{none} | {row['label']} |")
    lines += ["", "## The corpus", "", *sources, ""]
    return "\n".join(lines)
