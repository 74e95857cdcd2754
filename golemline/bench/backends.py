"""`golem bench` backends section: each launch-bound golem on its torch backend and on CTranslate2, side by side.

Why a section of its own: the Oracle and the Interpreter are small enough that Python and per-op dispatch, not
arithmetic, set their latency; the figures that matter are per request at batch 1 (most traffic, most of the day),
measured with both backends loaded in one process and alternated request by request, so drift hits both alike.
Quality is measured next to the speed: identical greedy replies (Oracle), the largest score difference and intent
agreement (Interpreter).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from golemline.domain import IntentRequest, IntentResult, ReplyRequest
from golemline.evaluation.corpus import IN_DOMAIN, OFF_DOMAIN, SPLITS
from golemline.predictors.base import Golem
from golemline.settings import Settings

ORACLE_BACKENDS = ("causal-lm", "ctranslate2")
INTERPRETER_BACKENDS = ("embedding", "embedding-ct2")


def heldout_reply_requests() -> list[ReplyRequest]:
    """The gating corpus's held-out in-domain requests with their intents (none is an Oracle training template)."""
    return [ReplyRequest.create(text, intent) for intent, texts in IN_DOMAIN.items()
            for text in texts[SPLITS.index("heldout")::2]]


def corpus_sentences() -> list[str]:
    """Every sentence of the gating corpus, both splits, in-domain and off-domain, in a fixed order."""
    return [text for texts in (*IN_DOMAIN.values(), *OFF_DOMAIN.values()) for text in texts]


def _golem(stage: str, backend: str, settings: Settings) -> Golem[Any, Any]:
    from golemline.pipeline import build_golems

    overrides: dict[str, Any] = {f"{stage}_backend": backend}
    golem = build_golems(settings.with_overrides(**overrides), (stage,))[stage]
    golem.load()
    return golem


def _alternate(golems: dict[str, Golem[Any, Any]], requests: list[Any], rounds: int
               ) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Each request at batch 1 through every backend in turn (one warm-up pass each first); seconds and results."""
    for golem in golems.values():
        golem.run(requests[:1])
    seconds: dict[str, list[float]] = {name: [] for name in golems}
    results: dict[str, list[Any]] = {name: [] for name in golems}
    for round_ in range(rounds):
        for request in requests:
            for name, golem in golems.items():
                started = time.perf_counter()
                [result] = golem.run([request])
                seconds[name].append(time.perf_counter() - started)
                if round_ == 0:
                    results[name].append(result)
    return seconds, results


def bench_oracle(settings: Settings, rounds: int = 2) -> dict[str, Any]:
    """Milliseconds per generated token at batch 1 (p50 over the held-out requests), both backends."""
    golems = {b: _golem("oracle", b, settings) for b in ORACLE_BACKENDS}
    requests = heldout_reply_requests()
    seconds, replies = _alternate(golems, requests, rounds)
    result: dict[str, Any] = {"requests": len(requests), "rounds": rounds}
    for name in golems:
        tokens = [max(1, r.tokens) for r in replies[name]] * rounds
        per_token = sorted(s / t * 1000 for s, t in zip(seconds[name], tokens, strict=True))
        result[name] = {"ms_per_token_p50": round(statistics.median(per_token), 3),
                        "request_p50_s": round(statistics.median(seconds[name]), 4),
                        "tokens_mean": round(statistics.fmean(r.tokens for r in replies[name]), 1)}
    torch_, ct2 = (replies[b] for b in ORACLE_BACKENDS)
    result["same_replies"] = sum(a.text == b.text and a.tokens == b.tokens for a, b in zip(torch_, ct2, strict=True))
    result["speedup_per_token"] = round(result["causal-lm"]["ms_per_token_p50"]
                                        / result["ctranslate2"]["ms_per_token_p50"], 2)
    for golem in golems.values():
        golem.unload()
    return result


def bench_interpreter(settings: Settings, rounds: int = 2) -> dict[str, Any]:
    """One sentence at a time (p50), both backends, with the largest score difference and intent agreement."""
    golems = {b: _golem("interpreter", b, settings) for b in INTERPRETER_BACKENDS}
    requests = [IntentRequest.create(text) for text in corpus_sentences()]
    seconds, results = _alternate(golems, requests, rounds)
    result: dict[str, Any] = {"sentences": len(requests), "rounds": rounds}
    for name in golems:
        result[name] = {"p50_ms": round(statistics.median(seconds[name]) * 1000, 2),
                        "p95_ms": round(sorted(seconds[name])[int(0.95 * (len(seconds[name]) - 1))] * 1000, 2)}
    torch_, ct2 = (results[b] for b in INTERPRETER_BACKENDS)
    result["same_intents"] = sum(a.label == b.label for a, b in zip(torch_, ct2, strict=True))
    result["max_score_difference"] = round(max(score_difference(a, b) for a, b in zip(torch_, ct2, strict=True)), 5)
    result["speedup_p50"] = round(result["embedding"]["p50_ms"] / result["embedding-ct2"]["p50_ms"], 2)
    for golem in golems.values():
        golem.unload()
    return result


def score_difference(a: IntentResult, b: IntentResult) -> float:
    """The largest difference between two results' scores, label by label, and their "none of these" scores."""
    by_label = dict(zip(b.labels, b.scores, strict=True))
    differences = [abs(score - by_label[label]) for label, score in zip(a.labels, a.scores, strict=True)]
    if a.none_score is not None and b.none_score is not None:
        differences.append(abs(a.none_score - b.none_score))
    return max(differences)


def bench_backends() -> dict[str, Any]:
    settings = Settings()
    return {"oracle": bench_oracle(settings), "interpreter": bench_interpreter(settings)}
