"""The chain: Scribe → Interpreter → Oracle, gated after every stage, golems summoned by the lifecycle manager.

A batch of inputs moves stage by stage (all transcripts, then all intents, then all replies), so under the
sequential policy each golem is summoned once per batch, not once per input, and each stage runs one batched
pass. Inputs rejected at a stage drop out of the later stages: garbage never reaches the Oracle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golemline.audio import Audio, decode
from golemline.errors import InvalidInput
from golemline.gating import Rejection, check_audio, check_intent, check_reply, check_transcript
from golemline.lifecycle import LifecycleManager
from golemline.predictors.base import Golem
from golemline.predictors.interpreter import Interpreter
from golemline.predictors.oracle import Oracle, ReplyRequest
from golemline.predictors.scribe import Scribe
from golemline.settings import Settings

STAGES = ("scribe", "interpreter", "oracle")


@dataclass
class PipelineResult:
    """One input's journey; `as_dict()` is exactly what `golem run --json` prints and the servers return."""

    input: str
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
        return {"input": self.input, "status": self.status, "transcript": self.transcript,
                "intent": self.intent, "reply": self.reply, "rejection": self.rejection,
                "stages": self.stages, "memory": self.memory}


def build_golems(settings: Settings) -> dict[str, Golem[Any, Any]]:
    return {"scribe": Scribe(settings), "interpreter": Interpreter(settings), "oracle": Oracle(settings)}


class Pipeline:
    """Runs inputs through the three golems in process (the monolith and `golem run`)."""

    def __init__(self, settings: Settings, golems: dict[str, Golem[Any, Any]] | None = None) -> None:
        self.settings = settings
        self.golems = golems or build_golems(settings)
        self.manager = LifecycleManager(self.golems, settings.policy, settings.budget_bytes,
                                        settings.resolved_device)
        self._started = False

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
        """Run named, decoded inputs through the chain; one result per input, in order."""
        self.start()
        results = [PipelineResult(input=name) for name, _ in inputs]
        gating = self.settings.gating

        live: list[int] = []
        for i, (_, audio) in enumerate(inputs):
            rejection = check_audio(audio, gating)
            if rejection:
                results[i].reject(rejection)
                results[i].stages["scribe"] = {"seconds": 0.0, "skipped": "signal below the speech level"}
            else:
                live.append(i)

        if live:
            with self.manager.use("scribe", next_name="interpreter") as (scribe, load_s):
                started = time.perf_counter()
                transcripts = scribe.run([inputs[i][1] for i in live])
                seconds = time.perf_counter() - started
            for i, transcript in zip(live, transcripts, strict=True):
                results[i].transcript = transcript.text
                results[i].stages["scribe"] = self._stage(seconds, load_s, len(live), transcript.signals)
            live = self._gate(results, live, [check_transcript(t, gating) for t in transcripts])

        if live:
            with self.manager.use("interpreter", next_name="oracle") as (interpreter, load_s):
                assert isinstance(interpreter, Interpreter)
                min_score, min_margin = interpreter.thresholds
                started = time.perf_counter()
                intents = interpreter.run([Interpreter.make_request(results[i].transcript) for i in live])
                seconds = time.perf_counter() - started
            for i, intent in zip(live, intents, strict=True):
                results[i].intent = {"label": intent.label, "score": intent.score, "margin": intent.margin,
                                     "ranking": dict(zip(intent.labels, intent.scores, strict=True))}
                results[i].stages["interpreter"] = self._stage(seconds, load_s, len(live),
                                                               {"backend": interpreter.spec.backend})
            live = self._gate(results, live, [check_intent(r, min_score, min_margin) for r in intents])

        if live:
            with self.manager.use("oracle") as (oracle, load_s):
                assert isinstance(oracle, Oracle)
                started = time.perf_counter()
                replies = oracle.run([ReplyRequest(results[i].transcript or "", (results[i].intent or {})["label"])
                                      for i in live])
                seconds = time.perf_counter() - started
            for i, reply in zip(live, replies, strict=True):
                results[i].reply = reply.text
                results[i].stages["oracle"] = self._stage(seconds, load_s, len(live), {
                    "tokens": reply.tokens, "tokens_per_s": reply.tokens_per_s})
            self._gate(results, live, [check_reply(r, gating) for r in replies])

        memory = self.manager.report()
        for result in results:
            result.memory = memory
        return results

    @staticmethod
    def _stage(seconds: float, load_seconds: float, batch: int, signals: dict[str, Any]) -> dict[str, Any]:
        return {"seconds": round(seconds, 4), "load_seconds": round(load_seconds, 4), "batch_size": batch,
                "signals": signals}

    @staticmethod
    def _gate(results: list[PipelineResult], live: list[int],
              rejections: list[Rejection | None]) -> list[int]:
        survivors = []
        for i, rejection in zip(live, rejections, strict=True):
            if rejection:
                results[i].reject(rejection)
            else:
                survivors.append(i)
        return survivors
