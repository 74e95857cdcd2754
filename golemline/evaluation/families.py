"""Natural and robotic voices side by side on the held-out split (`golem gate voices`): the gate's rates per voice
family and per voice under the shipped calibration, and what changes when calibration also hears the natural
voices.

Why: the robotic synthesisers (espeak-ng, flite, festival) are harder to hear than people. A report on them alone
says how the gate does on them, and overstates how often the Scribe mishears, and so how often the gate refuses or
misanswers, on speech that sounds human. The two families are reported apart, never pooled, so neither hides the
other. Only speech rows count here: non-speech and the human recordings belong to no voice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from golemline.evaluation import calibrate
from golemline.evaluation.calibrate import GRID, OFF, Calibration, Signals
from golemline.evaluation.report import Outcome, Rate
from golemline.evaluation.voices import family
from golemline.settings import GatingPolicy

FAMILIES = ("natural", "robotic")
Row = dict[str, Any]


def is_speech(row: Row) -> bool:
    return row["group"] in ("in-domain", "off-domain")


def _clean_in(row: Row) -> bool:
    return row["group"] == "in-domain" and row["condition"] == "clean"


@dataclass(frozen=True)
class Figures:
    """One voice family's (or one voice's) held-out figures under one set of thresholds."""

    clean_refused: Rate
    clean_accuracy: Rate
    off_domain_refused: Rate
    wrong: Rate
    wrong_clean: Rate
    misheard_clean: Rate  # clean speech whose transcript is not word for word (WER > 0)
    wer_clean: float  # mean word error rate over clean speech
    wer_damaged: float  # mean word error rate over the noisy and damaged copies

    @classmethod
    def of(cls, outcome: Outcome, keep: Callable[[Row], bool]) -> Figures:
        def wer(condition: Callable[[Row], bool]) -> float:
            values = [r["wer"] for r in outcome.rows if keep(r) and condition(r) and r.get("wer") is not None]
            return float(np.mean(values)) if values else float("nan")

        def clean(r: Row) -> bool:
            return r["condition"] == "clean"

        misheard = [r for r in outcome.rows if keep(r) and clean(r) and r.get("wer") is not None]
        return cls(
            clean_refused=outcome.rejected("clean in-domain refused", lambda r: keep(r) and _clean_in(r)),
            clean_accuracy=outcome.accuracy("clean in-domain answered right", lambda r: keep(r) and _clean_in(r)),
            off_domain_refused=outcome.rejected("off-domain refused",
                                                lambda r: keep(r) and r["group"] == "off-domain"),
            wrong=outcome.wrong("wrong among accepted", keep),
            wrong_clean=outcome.wrong("wrong among accepted, clean", lambda r: keep(r) and clean(r)),
            misheard_clean=Rate("clean speech misheard (WER > 0)", sum(r["wer"] > 0 for r in misheard),
                                len(misheard)),
            wer_clean=wer(clean),
            wer_damaged=wer(lambda r: not clean(r)))

    def rows(self) -> list[tuple[str, str]]:
        """(measure, cell) in the report's order."""
        return [*[(rate.name, rate.cell()) for rate in (self.clean_refused, self.clean_accuracy,
                                                        self.off_domain_refused, self.wrong, self.wrong_clean,
                                                        self.misheard_clean)],
                ("mean WER, clean speech", f"{self.wer_clean:.3f}"),
                ("mean WER, noisy and damaged copies", f"{self.wer_damaged:.3f}")]


def of_family(name: str) -> Callable[[Row], bool]:
    return lambda r: is_speech(r) and family(r["synth"]) == name


def of_speaker(speaker: str) -> Callable[[Row], bool]:
    return lambda r: is_speech(r) and r["speaker"] == speaker


@dataclass(frozen=True)
class Trial:
    """One choice of calibration voices: its calibration and its held-out figures per family."""

    name: str
    calibration: Calibration
    calibration_rows: int
    figures: dict[str, Figures]


def trial(name: str, calibration_rows: list[Row], heldout: Signals, base: GatingPolicy, max_wrong: float,
          delta: float) -> Trial:
    result = calibrate.calibrate(calibration_rows, base, max_wrong, delta)
    outcome = Outcome.of(heldout, result.thresholds)
    return Trial(name, result, len(calibration_rows), {f: Figures.of(outcome, of_family(f)) for f in FAMILIES})


def trials(robotic: list[Row], natural: list[Row], base: GatingPolicy, max_wrong: float,
           delta: float) -> list[Trial]:
    """The shipped choice (robotic voices only) first, then robotic and natural together, then natural alone; all
    reported on the same held-out rows of both families."""
    heldout = Signals.of([r for r in robotic + natural if r["split"] == "heldout"], base)

    def calibration(rows: list[Row]) -> list[Row]:
        return [r for r in rows if r["split"] == "calibration"]

    return [trial("robotic voices (shipped)", calibration(robotic), heldout, base, max_wrong, delta),
            trial("robotic and natural voices", calibration(robotic + natural), heldout, base, max_wrong, delta),
            trial("natural voices only", calibration(natural), heldout, base, max_wrong, delta)]


def _voices_of(rows: list[Row], name: str) -> list[str]:
    """The voices of one family that speak on the held-out split."""
    return sorted({r["speaker"] for r in rows if is_speech(r) and r["split"] == "heldout"
                   and family(r["synth"]) == name})


def _ratio(natural: str, robotic: str) -> str:
    """robotic ÷ natural for two cells that start with a value ("0.107 (16/150; …)"); "—" where undefined."""
    a, b = (float(cell.split()[0]) if cell[0].isdigit() else float("nan") for cell in (natural, robotic))
    return f"{b / a:.1f}×" if a > 0 and b == b else "—"


def _threshold(value: float) -> str:
    return "not checked" if value == OFF else f"{value:g}"


def markdown(robotic: list[Row], natural: list[Row], base: GatingPolicy, max_wrong: float, delta: float,
             command: str, measured: str) -> str:
    runs = trials(robotic, natural, base, max_wrong, delta)
    shipped = runs[0]
    heldout = Signals.of([r for r in robotic + natural if r["split"] == "heldout"], base)
    outcome = Outcome.of(heldout, shipped.calibration.thresholds)
    voices = {f: _voices_of(robotic + natural, f) for f in FAMILIES}
    measures = [name for name, _ in shipped.figures["natural"].rows()]
    lines = [
        "# Gating: natural and robotic voices side by side", "",
        f"Generated by `{command}`. Every figure is on the **held-out** split's phrasings (sentences calibration",
        "never saw), speech only; intervals are 95% Clopper-Pearson. Golems: " + measured + ".", "",
        "Held-out voices:", "",
        "- natural (neural, Piper): " + ", ".join(voices["natural"]),
        "- robotic (formant and diphone synthesisers): " + ", ".join(voices["robotic"]), "",
        "Both families say the same sentences under the same noises and channels. The natural voice speaks the",
        "calibration split's sentences too, for the calibrations below that include it: it is held out by sentence,",
        "not by speaker.", "",
        f"## Under the shipped calibration (calibrated on the robotic voices, `--max-wrong {max_wrong:g}`)", "",
        "| measure | natural voices | robotic voices | robotic ÷ natural |", "| --- | --- | --- | --- |",
        *[f"| {m} | {a} | {b} | {_ratio(a, b)} |" for m, (_, a), (_, b) in
          zip(measures, shipped.figures["natural"].rows(), shipped.figures["robotic"].rows(), strict=True)], "",
        "## Per voice, under the shipped calibration", "",
        "| voice | family | clean in-domain refused | wrong among accepted | off-domain refused | clean speech "
        "misheard | mean WER, clean |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in FAMILIES:
        for speaker in voices[name]:
            f = Figures.of(outcome, of_speaker(speaker))
            lines.append(f"| {speaker} | {name} | {f.clean_refused.cell()} | {f.wrong.cell()} | "
                         f"{f.off_domain_refused.cell()} | {f.misheard_clean.cell()} | {f.wer_clean:.3f} |")
    lines += [
        "", "## Which voices to calibrate on", "",
        f"The same procedure (Learn then Test, at most {max_wrong:g} wrong among accepted, δ = {delta:g}) on three",
        "choices of calibration voices, each reported on the held-out rows of both families:", "",
        "| calibration voices | calibration cases | certified | family | clean in-domain refused | wrong among "
        "accepted | off-domain refused |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        certified = "yes" if run.calibration.chosen_index >= 0 else "no: the strictest point is written"
        for name in FAMILIES:
            f = run.figures[name]
            lines.append(f"| {run.name} | {run.calibration_rows} | {certified} | {name} | {f.clean_refused.cell()} "
                         f"| {f.wrong.cell()} | {f.off_domain_refused.cell()} |")
    lines += ["", "Thresholds each choice writes:", "",
              "| threshold | " + " | ".join(run.name for run in runs) + " |",
              "| --- |" + " --- |" * len(runs),
              *[f"| `{name}` | " + " | ".join(_threshold(run.calibration.thresholds[name]) for run in runs) + " |"
                for name in GRID], ""]
    return "\n".join(lines)

