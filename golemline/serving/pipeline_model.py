"""The orchestrating transformer: a KServe model named `pipeline` that chains the three golems.

Its stage callers are either local micro-batchers (monolith) or `RemoteGolem`s (split); the chain, the gating and
the result shape are the same code `golem run` uses, so a served answer equals `golem run --json`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from golemline import capture
from golemline.pipeline import Chain, PipelineResult
from golemline.serving import metrics, requestlog
from golemline.serving.adapter import SignedModel
from golemline.serving.protocol import SIGNATURES, Prepared, audio_instance, instances_from, respond
from golemline.settings import Settings


class PipelineModel(SignedModel):
    """V1 instance / V2 input: {"audio": base64 of WAV/FLAC/MP3/OGG}; result: the `golem run --json` object."""

    signature = SIGNATURES["pipeline"]

    def __init__(self, settings: Settings, chain: Chain, local_ready: Callable[[], bool],
                 remotes_down: Callable[[], Awaitable[list[str]]], name: str = "pipeline") -> None:
        super().__init__(name)
        self.settings = settings
        self.chain = chain
        self._local_ready = local_ready
        self.remotes_down = remotes_down  # "golem scribe at http://…" for each remote golem not ready now
        self.ready = True  # the transformer holds no weights of its own
        self.capture = capture.from_settings(settings)  # None unless --capture-dir: capture is opt-in

    async def healthy(self) -> bool:
        """Ready when its local golems are and every remote golem answers ready: `/v2/models/pipeline/ready` and
        `/v2/health/ready` agree (a request meanwhile gets 503 naming the golem that is down)."""
        return self.local_ready() and not await self.remotes_down()

    def local_ready(self) -> bool:
        return self._local_ready()

    async def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        instances, v2 = instances_from(payload, self.name, self.signature.inputs,
                                       self.settings.server.instance_limit)
        prefix = (v2.id if v2 is not None and v2.id else "request")
        decoded = [(f"{prefix}[{i}]", audio_instance(instance, self.settings, self.name))
                   for i, instance in enumerate(instances)]
        return Prepared(decoded, v2)

    async def predict(self, payload: Any, headers: dict[str, str] | None = None,
                      response_headers: dict[str, str] | None = None) -> Any:
        results = await self.chain.run(payload.requests)
        for result in results:
            for stage, info in result.stages.items():
                metrics.STAGE_SECONDS.labels(stage).observe(info.seconds)
            if result.rejection:
                metrics.REJECTIONS.labels(result.rejection.stage, result.rejection.reason).inc()
            observe_signals(result)
        answers = [r.as_dict() for r in results]
        requestlog.record_results(answers, self.settings.server.log_transcripts)
        if self.capture is not None:  # off the event loop: a slow store must not stall other requests
            await asyncio.to_thread(self.capture.offer, payload.requests, answers)
        return Prepared(answers, payload.v2)

    async def postprocess(self, result: Any, headers: dict[str, str] | None = None,
                          response_headers: dict[str, str] | None = None) -> Any:
        for item in result.requests:
            metrics.REQUESTS.labels(self.name, item["status"]).inc()
        return respond(self.name, result.requests, result.v2)


def observe_signals(result: PipelineResult) -> None:
    """Every gate signal a result carries, into its histogram (whether or not the gate let it pass)."""
    transcript = result.transcript
    if transcript is not None:
        for name, value in (("no_speech_prob", transcript.no_speech_prob), ("avg_logprob", transcript.avg_logprob),
                            ("compression_ratio", round(transcript.compression_ratio, 3))):
            if value is not None:
                metrics.SIGNALS[name].observe(value)
    rejection = result.rejection
    # the interpreter's scores: in the answer, or in its rejection's signals when it was the stage that refused
    if result.intent is not None:
        scores: dict[str, Any] = {"score": result.intent.score, "margin": result.intent.margin}
    else:
        scores = rejection.signals if rejection is not None and rejection.stage == "interpreter" else {}
    for name, key in (("intent_score", "score"), ("intent_margin", "margin")):
        if isinstance(scores.get(key), int | float):
            metrics.SIGNALS[name].observe(scores[key])
    oracle = result.stages.get("oracle")  # a reply the gate refused is dropped from the result, its stage info kept
    if oracle is not None and oracle.signals.get("tokens") is not None:
        metrics.SIGNALS["reply_tokens"].observe(oracle.signals["tokens"])
