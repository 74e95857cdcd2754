"""The golden-set canary: known audio through the live pipeline, on a schedule, scored against known verdicts.

Why: latency and cost dashboards stay green when a new model version, a microphone or a noisy line shifts what
the golems hear. The canary sends the shipped samples (clean commands per intent, one noisy command, noise and
silence that must be rejected) through the very stage callers live requests use — local batchers or remote golems
— and exports accuracy per stage, WER, latency and the time of its last run, so alerts fire when a known-good
sample is rejected, when accuracy drops, or when the canary stops running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from golemline import requestid
from golemline.audio import Audio, decode
from golemline.pipeline import Chain, PipelineResult
from golemline.resources import sample
from golemline.serving import metrics
from golemline.wer import word_error_rate

log = logging.getLogger("golemline.serve")
STAGES = ("scribe", "interpreter", "pipeline")


@dataclass(frozen=True)
class GoldenCase:
    """A shipped sample and the verdict it must get: an intent, or a rejection at a stage."""

    sample: str
    intent: str | None = None  # the expected intent; None: must be rejected at `stage`
    stage: str | None = None
    spoken: str | None = None  # what was said (for WER)
    snr_db: float | None = None  # white noise added at this SNR (seeded: the same audio every run)

    @property
    def name(self) -> str:
        return self.sample if self.snr_db is None else f"{self.sample}@{self.snr_db:g}dB"


GOLDEN: tuple[GoldenCase, ...] = (
    GoldenCase("weather", "weather", spoken="What is the weather like in Paris today?"),
    GoldenCase("timer", "timer", spoken="Set a timer for ten minutes."),
    GoldenCase("music", "music", spoken="Please play some music."),
    GoldenCase("news", "news", spoken="What is the news today?"),
    GoldenCase("smalltalk", "smalltalk", spoken="Hello, how are you doing today?"),
    GoldenCase("timer", "timer", spoken="Set a timer for ten minutes.", snr_db=20.0),
    GoldenCase("noise", stage="scribe"),
    GoldenCase("silence", stage="scribe"),
)


def golden_audio(case: GoldenCase) -> Audio:
    audio = decode(sample(case.sample).read_bytes())
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
        seen["scribe"] += 1
        right["scribe"] += (rejected_at == "scribe") == (case.stage == "scribe")
        if case.intent is not None and rejected_at != "scribe":
            seen["interpreter"] += 1
            right["interpreter"] += (result.intent or {}).get("label") == case.intent  # None when it rejected
        ok = (result.status == "ok" and (result.intent or {}).get("label") == case.intent) if case.intent else (
            result.status == "rejected" and rejected_at == case.stage)
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


def start(chain: Chain, interval_s: float, ready: Callable[[], bool]) -> asyncio.Task[Any]:
    """Start the canary on the running event loop (the server's)."""
    return asyncio.get_running_loop().create_task(Canary(chain, interval_s, ready).loop(), name="golemline-canary")
