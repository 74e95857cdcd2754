"""The chain: Scribe → Interpreter → Oracle, gated after every stage.

The chain is written once, over three *stage callers* (async: a batch of typed requests in, typed results out):
in-process through the lifecycle manager (`golem run`), through each golem's micro-batcher (the monolith
server), or over the Open Inference Protocol to remote golems (the split transformer). Only the transport
differs; gating, result shape and rejections are the same code.

A batch of inputs moves stage by stage (all transcripts, then all intents, then all replies), so under the
sequential policy each golem is summoned once per batch and each stage runs one batched pass. Inputs rejected at
a stage drop out: garbage never reaches the Oracle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golemline import capture, requestid
from golemline.audio import Audio, decode
from golemline.domain import IntentRequest, IntentResult, Reply, ReplyRequest, Transcript
from golemline.errors import InvalidInput
from golemline.gating import Rejection, check_audio, check_intent, check_reply, check_transcript
from golemline.lifecycle import LifecycleManager, ManagedGolem
from golemline.predictors.base import Golem
from golemline.predictors.interpreter import Interpreter, intent_thresholds
from golemline.predictors.oracle import Oracle
from golemline.predictors.scribe import Scribe
from golemline.settings import GOLEMS, Settings

STAGES = GOLEMS  # the chain runs the golems in this order

StageCaller = Callable[[list[Any]], Awaitable[list[Any]]]


@dataclass
class PipelineResult:
    """One input's journey; `as_dict()` is exactly what `golem run --json` prints and the servers return."""

    input: str
    request_id: str | None = None
    status: str = "ok"
    transcript: str | None = None
    intent: dict[str, Any] | None = None
    reply: str | None = None
    rejection: dict[str, Any] | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)

    def reject(self, rejection: Rejection) -> None:
        self.status = "rejected"
        self.rejection = rejection.as_dict()
        self.intent = None
        self.reply = None

    def as_dict(self) -> dict[str, Any]:
        return {"input": self.input, "request_id": self.request_id, "status": self.status,
                "transcript": self.transcript, "intent": self.intent, "reply": self.reply, "rejection": self.rejection,
                "stages": self.stages, "memory": self.memory}


class Chain:
    """The gated chain over three stage callers."""

    def __init__(self, settings: Settings, callers: dict[str, StageCaller],
                 memory_report: Callable[[], dict[str, Any]] | None = None) -> None:
        self.settings = settings
        self.callers = callers
        self.memory_report = memory_report or dict

    async def _stage(self, name: str, requests: list[Any]) -> tuple[list[Any], float]:
        started = time.perf_counter()
        results = await self.callers[name](requests)
        return results, time.perf_counter() - started

    async def run(self, inputs: list[tuple[str, Audio]]) -> list[PipelineResult]:
        """Run named, decoded inputs through the chain; one result per input, in order. Results carry the current
        request's id (served), or an id of their own (`golem run`), so an answer can be traced to its log lines."""
        gating = self.settings.gating
        current = requestid.CURRENT.get()
        results = [PipelineResult(input=name, request_id=current or requestid.new_id()) for name, _ in inputs]

        live: list[int] = []
        for i, (_, audio) in enumerate(inputs):
            rejection = check_audio(audio, gating)
            if rejection:
                results[i].reject(rejection)
                results[i].stages["scribe"] = {"seconds": 0.0, "skipped": "signal below the speech level"}
            else:
                live.append(i)

        if live:
            transcripts: list[Transcript]
            transcripts, seconds = await self._stage("scribe", [inputs[i][1] for i in live])
            for i, transcript in zip(live, transcripts, strict=True):
                results[i].transcript = transcript.text
                results[i].stages["scribe"] = _stage_info(seconds, len(live), transcript.signals)
            live = _gate(results, live, [check_transcript(t, gating) for t in transcripts])

        if live:
            thresholds = intent_thresholds(self.settings)
            intents: list[IntentResult]
            domain = self.settings.intents
            intents, seconds = await self._stage(
                "interpreter", [IntentRequest.create(results[i].transcript, intents=domain) for i in live])
            for i, intent in zip(live, intents, strict=True):
                results[i].intent = {"label": intent.label, "score": intent.score, "margin": intent.margin,
                                     "none_score": intent.none_score,
                                     "ranking": dict(zip(intent.labels, intent.scores, strict=True))}
                results[i].stages["interpreter"] = _stage_info(seconds, len(live), {})
            live = _gate(results, live, [check_intent(r, *thresholds) for r in intents])

        if live:
            replies: list[Reply]
            replies, seconds = await self._stage("oracle", [
                ReplyRequest.create(results[i].transcript, (results[i].intent or {})["label"],
                                    self.settings.intents.names) for i in live])
            for i, reply in zip(live, replies, strict=True):
                results[i].reply = reply.text
                results[i].stages["oracle"] = _stage_info(seconds, len(live), {
                    "tokens": reply.tokens, "tokens_per_s": reply.tokens_per_s})
            _gate(results, live, [check_reply(r, gating) for r in replies])

        memory = self.memory_report()
        for result in results:
            result.memory = memory
        return results


def _stage_info(seconds: float, batch: int, signals: dict[str, Any]) -> dict[str, Any]:
    return {"seconds": round(seconds, 4), "batch_size": batch, "signals": signals}


def _gate(results: list[PipelineResult], live: list[int], rejections: list[Rejection | None]) -> list[int]:
    survivors = []
    for i, rejection in zip(live, rejections, strict=True):
        if rejection:
            results[i].reject(rejection)
        else:
            survivors.append(i)
    return survivors


def build_golems(settings: Settings, names: tuple[str, ...] = STAGES, device_threads: bool = False,
                 ) -> dict[str, Golem[Any, Any]]:
    """The golems by name. With `device_threads` (the server), each gets its own one-thread executor for
    `_forward`, so the device sees one stream of work per golem while pre/postprocessing run elsewhere."""
    from concurrent.futures import ThreadPoolExecutor

    classes: dict[str, type[Golem[Any, Any]]] = {"scribe": Scribe, "interpreter": Interpreter, "oracle": Oracle}
    return {name: classes[name](settings, ThreadPoolExecutor(1, thread_name_prefix=f"device-{name}")
                                if device_threads else None) for name in names}


class Pipeline:
    """The chain with in-process golems under the lifecycle manager (`golem run`, benchmarks, tests)."""

    def __init__(self, settings: Settings, golems: Mapping[str, ManagedGolem] | None = None,
                 on_event: Callable[[str, ManagedGolem, float], None] | None = None) -> None:
        """`on_event(event, golem, seconds)`: each load and unload, as it happens (`golem run` shows progress)."""
        self.settings = settings
        self.golems: dict[str, ManagedGolem] = dict(golems or build_golems(settings))
        self.manager = LifecycleManager(self.golems, settings.policy, settings.budget_bytes,
                                        settings.resolved_device, on_event=on_event, prefetch=settings.prefetch)
        callers = {name: self._local_caller(name, nxt) for name, nxt in zip(STAGES, (*STAGES[1:], None),
                                                                                 strict=True)}
        self.chain = Chain(settings, callers, self.manager.report)
        self.capture = capture.from_settings(settings)  # None unless --capture-dir: capture is opt-in
        self._started = False

    def _local_caller(self, name: str, next_name: str | None) -> StageCaller:
        async def call(batch: list[Any]) -> list[Any]:
            return self.manager.run(name, batch, next_name=next_name)

        return call

    def start(self) -> None:
        if not self._started:
            self.manager.start()
            self._started = True

    def close(self) -> None:
        self.manager.shutdown()

    def decode_file(self, path: Path) -> Audio:
        if not path.is_file():
            raise InvalidInput(f"{path}: no such file")
        return decode(path.read_bytes(), self.settings.max_audio_seconds, self.settings.max_audio_bytes,
                      name=str(path))

    def run(self, inputs: list[tuple[str, Audio]]) -> list[PipelineResult]:
        self.start()
        results = asyncio.run(self.chain.run(inputs))
        if self.capture is not None:
            self.capture.offer(inputs, [r.as_dict() for r in results])
        return results

