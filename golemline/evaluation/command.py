"""`golem gate corpus` and `golem gate calibrate`: the corpus, the signals, the thresholds and the report."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from golemline.errors import ConfigError
from golemline.evaluation import calibrate, corpus, report, signals, stability
from golemline.settings import Settings


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_signals(path: Path) -> list[dict[str, Any]]:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the recorded signals ({exc.strerror})") from exc
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def write_signals(path: Path, rows: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def command_gate(args: argparse.Namespace, settings: Settings | None) -> int:
    cache = args.cache or corpus.default_cache(args.small)
    if args.action == "corpus" or not getattr(args, "signals", None):
        built = corpus.build(cache, small=args.small, with_human=not args.no_human, log=True)
        _log(f"corpus: {len(built.cases)} cases in {cache}")
        if args.action == "corpus":
            return 0
    assert settings is not None
    rows = read_signals(args.signals) if args.signals else signals.record(built, settings, progress=_log)
    if args.signals_out:
        write_signals(args.signals_out, rows)
    calibration_rows = [r for r in rows if r["split"] == "calibration"]
    heldout_rows = [r for r in rows if r["split"] == "heldout"]
    if not calibration_rows or not heldout_rows:
        raise ConfigError("the recorded signals need both a calibration and a heldout split")
    try:
        result = calibrate.calibrate(calibration_rows, settings.gating, args.max_wrong, args.delta)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    policy = result.policy(settings.gating)
    heldout = calibrate.Signals.of(heldout_rows, settings.gating)
    outcome = report.Outcome.of(heldout, result.thresholds)
    headline = outcome.headline()
    args.out.write_text(report.config_yaml(policy, result, headline[5]))
    for rate in headline:
        print(f"{rate.name:32} {rate.cell():48} {rate.verdict()}")
    print(f"thresholds: {json.dumps(report.gating_values(policy))}")
    print(f"gating config written to {args.out}")
    if args.report:
        png = args.report.with_name(args.report.stem + "-tradeoff.png")
        calib_signals = calibrate.Signals.of(calibration_rows, settings.gating)
        report.tradeoff_png(png, result, heldout, calib_signals.subset(~calibrate.halves(calibration_rows)))
        command = "golem gate calibrate " + " ".join(sys.argv[3:]) if sys.argv[1:3] == ["gate", "calibrate"] \
            else "golem gate calibrate"
        measured = (f"signals read from {args.signals}" if args.signals
                    else f"signals recorded by {signals.golems_measured(settings)}")
        spread = stability.stability(calibration_rows, result.thresholds, heldout, settings.gating,
                                     args.max_wrong, args.delta)
        args.report.write_text(report.markdown(result, policy, heldout, len(calibration_rows),
                                               corpus.describe(rows), png.name, command, measured, spread.summary(),
                                               report.ceiling_table(calib_signals, sorted({0.02, args.max_wrong}))))
        print(f"report written to {args.report} (plot {png})")
    return 0
