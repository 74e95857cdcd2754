"""The golden-set canary: scoring against known verdicts, and a live server that reports accuracy 1.0 on the
shipped set."""

from __future__ import annotations

import re
import time

import httpx

from golemline.domain import IntentResult, Reply, Transcript
from golemline.gating import Rejection
from golemline.pipeline import PipelineResult
from golemline.serving.canary import GOLDEN, score
from tests.servers import Server


def _answers(wrong_intent: str | None = None) -> list[PipelineResult]:
    """What a healthy pipeline answers on the golden set; with `wrong_intent`, an interpreter that names the wrong
    label for everything that reaches it (the scribe still works)."""
    def heard(text: str) -> Transcript:
        return Transcript(text=text, language="en", duration_s=1.0, avg_logprob=-0.3, no_speech_prob=0.1,
                          compression_ratio=1.0, rms_dbfs=-20.0)

    results = []
    for case in GOLDEN:
        if case.intent is None:
            results.append(PipelineResult(input=case.name, status="rejected", transcript=heard("you"),
                                          rejection=Rejection("scribe", "no_speech", "noise")))
            continue
        label = wrong_intent or case.intent
        results.append(PipelineResult(input=case.name, status="ok", transcript=heard(case.spoken or ""),
                                      intent=IntentResult([label, "other"], [0.6, 0.3], 0.3),
                                      reply=Reply("...", 1, 10.0, 1.0)))
    return results


def test_a_healthy_pipeline_scores_one_everywhere() -> None:
    result = score(GOLDEN, _answers())
    assert result.accuracy == {"scribe": 1.0, "interpreter": 1.0, "pipeline": 1.0}
    assert result.wer == 0.0 and result.known_good_rejected == 0 and result.misses == []


def test_a_broken_interpreter_drops_interpreter_and_pipeline_accuracy_but_not_the_scribe() -> None:
    result = score(GOLDEN, _answers(wrong_intent="news"))
    assert result.accuracy["scribe"] == 1.0
    speech = [c for c in GOLDEN if c.intent]
    right = sum(c.intent == "news" for c in speech)
    assert result.accuracy["interpreter"] == right / len(speech)
    assert result.accuracy["pipeline"] == (right + len(GOLDEN) - len(speech)) / len(GOLDEN)
    assert any(miss.startswith("weather: ok news") for miss in result.misses)


def test_a_live_canary_reports_accuracy_one_on_the_shipped_set() -> None:
    server = Server("--canary-interval-s", "2").wait_ready()
    try:
        deadline, metrics = time.monotonic() + 120, ""
        while time.monotonic() < deadline:
            metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
            if re.search(r"^golemline_canary_runs_total\{outcome=\"ok\"\} [1-9]", metrics, flags=re.M):
                break
            time.sleep(1)
        for stage in ("scribe", "interpreter", "pipeline"):
            assert re.search(rf'^golemline_canary_accuracy\{{stage="{stage}"\}} 1\.0$', metrics, flags=re.M), stage
        assert re.search(r"^golemline_canary_known_good_rejected 0\.0$", metrics, flags=re.M)
        [last_run] = re.findall(r"^golemline_canary_last_run_timestamp_seconds (\S+)$", metrics, flags=re.M)
        assert abs(float(last_run) - time.time()) < 60
        [wer] = re.findall(r"^golemline_canary_wer (\S+)$", metrics, flags=re.M)
        assert float(wer) < 0.2
        assert "canary-0" in server.log.read_text()  # its requests carry their own id in the logs
    finally:
        server.stop()
