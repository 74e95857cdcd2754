"""fp32 against the lighter default precision, with the quality it costs next to the speed."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from golemline.audio import Audio
from golemline.bench.measure import interleave, timing_stats
from golemline.pipeline import Pipeline
from golemline.resources import SPOKEN
from golemline.settings import Settings
from golemline.wer import word_error_rate


# -- (d) dtype with a quality check ------------------------------------------------------------------------------
def bench_dtype(rounds: int = 2, light: str = "auto") -> dict[str, Any]:
    """fp32 everywhere against `light` (the default, auto: on the CPU the Scribe in int8, the torch golems in fp32),
    side by side on the spoken samples."""
    pipelines = {dtype: Pipeline(Settings().with_overrides(dtype=dtype)) for dtype in ("fp32", light)}
    answers: dict[str, dict[str, Any]] = {dtype: {} for dtype in pipelines}

    def runner(dtype: str) -> Callable[[tuple[str, Audio]], None]:
        def run(sample: tuple[str, Audio]) -> None:
            [result] = pipelines[dtype].run([sample])
            answers[dtype][sample[0]] = result
        return run

    for pipeline in pipelines.values():
        pipeline.start()
    times = interleave({dtype: runner(dtype) for dtype in pipelines}, rounds)
    result: dict[str, Any] = {}
    for dtype, pipeline in pipelines.items():
        wer = [word_error_rate(SPOKEN[name], r.transcript or "") for name, r in answers[dtype].items()]
        correct = sum(r.intent is not None and r.intent["label"] == name for name, r in answers[dtype].items())
        result[dtype] = {**timing_stats(times[dtype]), "mean_wer": round(statistics.fmean(wer), 3),
                         "intent_correct": f"{correct}/{len(answers[dtype])}",
                         "golem_bytes": sum(pipeline.manager.sizes().values())}
        pipeline.close()
    agree = sum((answers["fp32"][n].intent or {}).get("label") == (answers[light][n].intent or {}).get("label")
                for n in SPOKEN)
    result["ratios"] = {f"{light}_speedup_p50": round(result["fp32"]["p50_s"] / result[light]["p50_s"], 2),
                        f"{light}_memory_ratio": round(result[light]["golem_bytes"] / result["fp32"]["golem_bytes"], 2),
                        "intent_agreement": f"{agree}/{len(SPOKEN)}",
                        "wer_change": round(result[light]["mean_wer"] - result["fp32"]["mean_wer"], 3)}
    return result
