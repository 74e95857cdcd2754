"""The chain's stage hand-off used as typed: mypy accepts it (tests/test_typed_stages.py checks)."""

from __future__ import annotations

from golemline.audio import Audio
from golemline.domain import IntentRequest, IntentResult, Reply, ReplyRequest, Transcript
from golemline.pipeline import PipelineResult, StageCallers


async def scribe(batch: list[Audio]) -> list[Transcript]:
    return []


async def interpreter(batch: list[IntentRequest]) -> list[IntentResult]:
    return []


async def oracle(batch: list[ReplyRequest]) -> list[Reply]:
    return []


CALLERS = StageCallers(scribe=scribe, interpreter=interpreter, oracle=oracle)


def record(result: PipelineResult, transcript: Transcript, intent: IntentResult) -> str:
    result.transcript = transcript
    result.intent = intent
    return intent.label
