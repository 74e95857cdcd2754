"""The twin of stages_right.py with a Transcript where an IntentResult is expected: mypy must refuse it
(tests/test_typed_stages.py checks; the project's own mypy run covers golemline/ only, never this file)."""

from __future__ import annotations

from golemline.audio import Audio
from golemline.domain import IntentRequest, Reply, ReplyRequest, Transcript
from golemline.pipeline import PipelineResult, StageCallers


async def scribe(batch: list[Audio]) -> list[Transcript]:
    return []


async def interpreter(batch: list[IntentRequest]) -> list[Transcript]:  # an Interpreter that answers transcripts
    return []


async def oracle(batch: list[ReplyRequest]) -> list[Reply]:
    return []


CALLERS = StageCallers(scribe=scribe, interpreter=interpreter, oracle=oracle)


def record(result: PipelineResult, transcript: Transcript) -> str:
    result.intent = transcript
    return transcript.text
