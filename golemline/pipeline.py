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
from typing import Any, TypeAlias, TypeVar

from golemline import capture, requestid
from golemline.audio import Audio, decode
from golemline.domain import IntentRequest, IntentResult, Reply, ReplyRequest, Transcript
from golemline.errors import InvalidInput
from golemline.gating import GatePolicy, Rejection, check_audio, check_intent, check_reply, check_transcript
from golemline.lifecycle import LifecycleManager, ManagedGolem
from golemline.predictors.base import Golem
from golemline.predictors.interpreter import Interpreter
from golemline.predictors.oracle import Oracle
from golemline.predictors.scribe import Scribe
from golemline.settings import GOLEMS, Settings

STAGES = GOLEMS  # the chain runs the golems in this order

In = TypeVar("In")
Out = TypeVar("Out")

StageCaller: TypeAlias = Callable[[list[In]], Awaitable[list[Out]]]
"""One stage's transport: a batch of typed requests in, one typed result per request out, in order."""


@dataclass(frozen=True)
class StageCallers:
    """The chain's three stage callers, each typed by what it takes and gives: a caller that hands the Interpreter a
    transcript, or the Oracle an intent ranking, is a type error, not a runtime surprise."""

    scribe: StageCaller[Audio, Transcript]
    interpreter: StageCaller[IntentRequest, IntentResult]
    oracle: StageCaller[ReplyRequest, Reply]


@dataclass(frozen=True)
class StageInfo:
    """How one stage went for one input: its batch's time and size and the signals the stage measured, or why it
    was skipped."""

    seconds: float
    batch_size: int | None = None
    signals: Mapping[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @classmethod
    def ran(cls, seconds: float, batch_size: int, signals: Mapping[str, Any]) -> StageInfo:
        return cls(round(seconds, 4), batch_size, signals)

    def as_dict(self) -> dict[str, Any]:
        if self.skipped is not None:
            return {"seconds": self.seconds, "skipped": self.skipped}
        return {"seconds": self.seconds, "batch_size": self.batch_size, "signals": dict(self.signals)}


def intent_dict(intent: IntentResult) -> dict[str, Any]:
    """An intent ranking as clients see it (the `intent` of a served answer and of `golem run --json`)."""
    return {"label": intent.label, "score": intent.score, "margin": intent.margin, "none_score": intent.none_score,
            "ranking": dict(zip(intent.labels, intent.scores, strict=True))}


@dataclass
class PipelineResult:
    """One input's journey, typed stage by stage; `as_dict()` is exactly what `golem run --json` prints and the
    servers return. A rejected input keeps its transcript (what was heard) but no intent and no reply: the
    rejection's signals say what the refusing stage measured."""

    input: str
    request_id: str | None = None
    status: str = "ok"
    transcript: Transcript | None = None
    intent: IntentResult | None = None
    reply: Reply | None = None
    rejection: Rejection | None = None
    stages: dict[str, StageInfo] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)

    def reject(self, rejection: Rejection) -> None:
        self.status = "rejected"
        self.rejection = rejection
        self.intent = None
        self.reply = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape clients read (typed values become their text and plain mappings here, at the edge)."""
        return {"input": self.input, "request_id": self.request_id, "status": self.status,
                "transcript": None if self.transcript is None else self.transcript.text,
                "intent": None if self.intent is None else intent_dict(self.intent),
                "reply": None if self.reply is None else self.reply.text,
                "rejection": None if self.rejection is None else self.rejection.as_dict(),
                "stages": {name: info.as_dict() for name, info in self.stages.items()}, "memory": self.memory}


class Chain:
    """The gated chain over three stage callers, gating with one resolved `GatePolicy`."""

    def __init__(self, settings: Settings, callers: StageCallers,
                 memory_report: Callable[[], dict[str, Any]] | None = None) -> None:
        self.settings = settings
        self.callers = callers
        self.gate = GatePolicy.of(settings)  # resolved once: no threshold is looked up per request
        self.memory_report = memory_report or dict

    @staticmethod
    async def _stage(caller: StageCaller[In, Out], requests: list[In]) -> tuple[list[Out], float]:
        started = time.perf_counter()
        results = await caller(requests)
        return results, time.perf_counter() - started

    async def run(self, inputs: list[tuple[str, Audio]]) -> list[PipelineResult]:
        """Run named, decoded inputs through the chain; one result per input, in order. Results carry the current
        request's id (served), or an id of their own (`golem run`), so an answer can be traced to its log lines."""
        gate = self.gate
        current = requestid.CURRENT.get()
        results = [PipelineResult(input=name, request_id=current or requestid.new_id()) for name, _ in inputs]

        live: list[int] = []
        for i, (_, audio) in enumerate(inputs):
            rejection = check_audio(audio, gate)
            if rejection:
                results[i].reject(rejection)
                results[i].stages["scribe"] = StageInfo(0.0, skipped="signal below the speech level")
            else:
                live.append(i)

        heard: dict[int, Transcript] = {}
        if live:
            transcripts, seconds = await self._stage(self.callers.scribe, [inputs[i][1] for i in live])
            for i, transcript in zip(live, transcripts, strict=True):
                heard[i] = results[i].transcript = transcript
                results[i].stages["scribe"] = StageInfo.ran(seconds, len(live), transcript.signals)
            live = _gate(results, live, [check_transcript(t, gate) for t in transcripts])

        understood: dict[int, IntentResult] = {}
        if live:
            domain = self.settings.intents
            intents, seconds = await self._stage(
                self.callers.interpreter, [IntentRequest.create(heard[i].text, intents=domain) for i in live])
            for i, intent in zip(live, intents, strict=True):
                understood[i] = results[i].intent = intent
                results[i].stages["interpreter"] = StageInfo.ran(seconds, len(live), {})
            live = _gate(results, live, [check_intent(r, gate) for r in intents])

        if live:
            names = self.settings.intents.names
            replies, seconds = await self._stage(self.callers.oracle, [
                ReplyRequest.create(heard[i].text, understood[i].label, names) for i in live])
            for i, reply in zip(live, replies, strict=True):
                results[i].reply = reply
                results[i].stages["oracle"] = StageInfo.ran(seconds, len(live), {
                    "tokens": reply.tokens, "tokens_per_s": reply.tokens_per_s})
            _gate(results, live, [check_reply(r, gate) for r in replies])

        memory = self.memory_report()
        for result in results:
            result.memory = memory
        return results


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
    `forward`, so the device sees one stream of work per golem while pre/postprocessing run elsewhere."""
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
        callers = StageCallers(scribe=self._local_caller("scribe", "interpreter"),
                               interpreter=self._local_caller("interpreter", "oracle"),
                               oracle=self._local_caller("oracle", None))
        self.chain = Chain(settings, callers, self.manager.report)
        self.capture = capture.from_settings(settings)  # None unless --capture-dir: capture is opt-in
        self._started = False

    def _local_caller(self, name: str, next_name: str | None) -> StageCaller[Any, Any]:
        """The lifecycle manager's golem `name` (untyped: the manager runs any golem), typed by its slot in
        `StageCallers`."""
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

