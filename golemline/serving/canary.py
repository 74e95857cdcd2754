"""The golden-set canary: known audio through the live pipeline, on a schedule, scored against known verdicts.

Why: latency and cost dashboards stay green when a new model version, a microphone or a noisy line shifts what
the golems hear. The canary sends its golden set — the shipped samples (clean commands per intent, one noisy
command, noise and silence that must be rejected) for the shipped intents, or a folder of the deployment's own
labelled recordings (`--canary-golden-set`, the audiofolder layout) — through the very stage callers live
requests use (local batchers or remote golems), and exports accuracy per stage, WER, latency and the time of its
last run, so alerts fire when a known-good sample is rejected, when accuracy drops, or when the canary stops running.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from golemline import requestid
from golemline.audio import Audio, decode
from golemline.errors import ConfigError, InvalidInput
from golemline.pipeline import Chain, PipelineResult
from golemline.resources import SPOKEN, sample
from golemline.serving import metrics
from golemline.settings import Settings
from golemline.wer import word_error_rate

log = logging.getLogger("golemline.serve")
STAGES = ("scribe", "interpreter", "pipeline")


@dataclass(frozen=True)
class GoldenCase:
    """A shipped sample and the verdict it must get: an intent, or a rejection at a stage."""

    sample: str
    intent: str | None = None  # the expected intent; None: must be rejected at `stage` (None: at any stage)
    stage: str | None = None
    spoken: str | None = None  # what was said (for WER)
    snr_db: float | None = None  # white noise added at this SNR (seeded: the same audio every run)
    path: str | None = None  # a recording of the deployment's golden set (None: the shipped sample `sample`)

    @property
    def name(self) -> str:
        return self.sample if self.snr_db is None else f"{self.sample}@{self.snr_db:g}dB"


GOLDEN: tuple[GoldenCase, ...] = (
    GoldenCase("weather", "weather", spoken=SPOKEN["weather"]),
    GoldenCase("timer", "timer", spoken=SPOKEN["timer"]),
    GoldenCase("music", "music", spoken=SPOKEN["music"]),
    GoldenCase("news", "news", spoken=SPOKEN["news"]),
    GoldenCase("smalltalk", "smalltalk", spoken=SPOKEN["smalltalk"]),
    GoldenCase("timer", "timer", spoken=SPOKEN["timer"], snr_db=20.0),
    GoldenCase("noise", stage="scribe"),
    GoldenCase("silence", stage="scribe"),
)


GOLDEN_STAGES = ("scribe", "interpreter", "oracle")
NO_INTENT = "none"
"""The `intent` of a golden recording that must be rejected (as in calibration datasets)."""


def load_golden_set(folder: str | Path, intents: tuple[str, ...]) -> tuple[GoldenCase, ...]:
    """A folder in the audiofolder layout: audio files and `metadata.csv` with `file_name` and `intent` (a name of
    the intents file, or `none`: must be rejected), optionally `stage` (where a `none` row must be rejected) and
    `transcript` (for WER). Every problem is one ConfigError naming the folder, the row and the fault."""
    root = Path(folder)
    metadata = root / "metadata.csv"
    try:
        with metadata.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"canary golden set {root}: cannot read metadata.csv ({exc.strerror or exc})") from None
    if not rows or not {"file_name", "intent"} <= set(rows[0]):
        raise ConfigError(f"canary golden set {metadata}: needs rows with the columns file_name and intent")
    cases = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"canary golden set {metadata}, line {number}"
        name, intent = (row.get("file_name") or "").strip(), (row.get("intent") or "").strip()
        stage = (row.get("stage") or "").strip() or None
        if not (root / name).is_file():
            raise ConfigError(f"{where}: no audio file {name!r} in {root}")
        if intent != NO_INTENT and intent not in intents:
            raise ConfigError(f"{where}: intent {intent!r} is not in the intents file ({', '.join(intents)}) nor "
                              f"{NO_INTENT!r}")
        if stage is not None and (intent != NO_INTENT or stage not in GOLDEN_STAGES):
            raise ConfigError(f"{where}: stage {stage!r} is for `none` rows only, one of {', '.join(GOLDEN_STAGES)}")
        case = GoldenCase(name, None if intent == NO_INTENT else intent, stage,
                          (row.get("transcript") or "").strip() or None, path=str(root / name))
        try:
            golden_audio(case)
        except InvalidInput as exc:
            raise ConfigError(f"{where}: {exc}") from None
        cases.append(case)
    return tuple(cases)


def cases_for(settings: Settings) -> tuple[GoldenCase, ...] | None:
    """The canary's golden set under these settings: the configured folder; else the shipped samples when the
    intents are the shipped ones; else None — the canary is off, and the log says why (the shipped samples speak
    the demo intents, and a canary that expects them of another domain would only ever alert)."""
    folder = settings.server.canary_golden_set
    if folder:
        return load_golden_set(folder, settings.intents.names)
    if settings.intents.is_shipped:
        return GOLDEN
    log.warning("canary off: the intents come from %s and no golden set was given (--canary-golden-set: a folder "
                "of labelled recordings, docs/intents.md)", settings.intents.source)
    metrics.CANARY_INTERVAL.set(0)
    return None


def golden_audio(case: GoldenCase) -> Audio:
    audio = decode((Path(case.path) if case.path else sample(case.sample)).read_bytes(), name=case.name)
    if case.snr_db is None:
        return audio
    noise = np.random.default_rng(0).standard_normal(len(audio.samples)).astype(np.float32)
    scale = np.sqrt(np.mean(audio.samples**2) / (np.mean(noise**2) * 10 ** (case.snr_db / 10)))
    noisy = np.clip(audio.samples + scale * noise, -1, 1).astype(np.float32)
    return Audio(noisy, audio.source_rate, audio.source_channels)


@dataclass(frozen=True)
class Score:
    accuracy: dict[str, float]
    wer: float
    known_good_rejected: int
    misses: list[str]


def score(cases: tuple[GoldenCase, ...], results: list[PipelineResult]) -> Score:
    """Per stage: the scribe passed speech and stopped non-speech; the interpreter named the expected intent of
    what reached it; the pipeline gave the expected final verdict."""
    right = {stage: 0 for stage in STAGES}
    seen = {stage: 0 for stage in STAGES}
    wers: list[float] = []
    misses: list[str] = []
    rejected_good = 0
    for case, result in zip(cases, results, strict=True):
        rejected_at = (result.rejection or {}).get("stage")
        if case.intent is not None or case.stage is not None:  # a `none` row may be stopped at any stage
            seen["scribe"] += 1
            right["scribe"] += (rejected_at == "scribe") == (case.stage == "scribe")
        if case.intent is not None and rejected_at != "scribe":
            seen["interpreter"] += 1
            right["interpreter"] += (result.intent or {}).get("label") == case.intent  # None when it rejected
        ok = (result.status == "ok" and (result.intent or {}).get("label") == case.intent) if case.intent else (
            result.status == "rejected" and (case.stage is None or rejected_at == case.stage))
        seen["pipeline"] += 1
        right["pipeline"] += ok
        if not ok:
            misses.append(f"{case.name}: {result.status} {rejected_at or (result.intent or {}).get('label')}")
        if case.intent is not None and result.status != "ok":
            rejected_good += 1
        if case.spoken is not None:
            wers.append(min(1.0, word_error_rate(case.spoken, result.transcript or "")))
    accuracy = {stage: right[stage] / seen[stage] if seen[stage] else 1.0 for stage in STAGES}
    return Score(accuracy, sum(wers) / len(wers) if wers else 0.0, rejected_good, misses)


class Canary:
    """Runs the golden set through `chain` every `interval_s` once `ready()` says the pipeline can serve."""

    def __init__(self, chain: Chain, interval_s: float, ready: Callable[[], bool],
                 cases: tuple[GoldenCase, ...] = GOLDEN) -> None:
        self.chain = chain
        self.interval_s = interval_s
        self.ready = ready
        self.cases = cases
        self.inputs = [(f"canary:{case.name}", golden_audio(case)) for case in cases]
        self.runs = 0
        metrics.CANARY_INTERVAL.set(interval_s)

    async def run_once(self) -> Score:
        token = requestid.CURRENT.set(f"canary-{self.runs}")
        started = time.perf_counter()
        try:
            results = await self.chain.run(self.inputs)
            result = score(self.cases, results)
            log.info("canary run %d: accuracy %s, WER %.3f, %.2f s", self.runs, ", ".join(
                f"{stage} {value:.2f}" for stage, value in result.accuracy.items()), result.wer,
                time.perf_counter() - started)
        finally:
            requestid.CURRENT.reset(token)
        for stage, value in result.accuracy.items():
            metrics.CANARY_ACCURACY.labels(stage).set(value)
        metrics.CANARY_WER.set(result.wer)
        metrics.CANARY_KNOWN_GOOD_REJECTED.set(result.known_good_rejected)
        metrics.CANARY_DURATION.set(time.perf_counter() - started)
        metrics.CANARY_LAST_RUN.set(time.time())
        metrics.CANARY_RUNS.labels("ok").inc()
        self.runs += 1
        if result.misses:
            log.warning("canary: %d of %d golden samples off: %s", len(result.misses), len(self.cases),
                        "; ".join(result.misses))
        return result

    async def loop(self) -> None:
        """Forever: wait until ready, run, sleep. A failed run counts as an error and leaves the last-run time
        alone, so the staleness alert fires when the canary cannot run."""
        while True:
            if self.ready():
                try:
                    await self.run_once()
                except Exception as exc:  # a remote golem down, a deadline: the next run tries again
                    metrics.CANARY_RUNS.labels("error").inc()
                    log.warning("canary run failed: %s", exc)
                await asyncio.sleep(self.interval_s)
            else:
                await asyncio.sleep(min(1.0, self.interval_s))


def start(chain: Chain, interval_s: float, ready: Callable[[], bool],
          cases: tuple[GoldenCase, ...] = GOLDEN) -> asyncio.Task[Any]:
    """Start the canary on the running event loop (the server's)."""
    return asyncio.get_running_loop().create_task(Canary(chain, interval_s, ready, cases).loop(),
                                                  name="golemline-canary")
