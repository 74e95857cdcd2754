"""Resident, sequential and naive-reload lifecycles, and the seed article's load-run-unload chain."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from golemline.audio import Audio
from golemline.bench.measure import interleave, timing_stats
from golemline.pipeline import Pipeline
from golemline.settings import Settings


# -- (b) lifecycle ----------------------------------------------------------------------------------------------
def bench_lifecycle(rounds: int = 2) -> dict[str, Any]:
    base = Settings()
    resident = Pipeline(base.with_overrides(policy="resident"))
    prefetch = Pipeline(base.with_overrides(policy="sequential"))
    no_prefetch = Pipeline(replace_prefetch(base.with_overrides(policy="sequential"), False))
    resident.start()

    def naive(sample: tuple[str, Audio]) -> None:
        fresh = Pipeline(base)  # new golems, loaded from disk for this one request, then dropped
        fresh.run([sample])
        fresh.close()
        del fresh
        gc.collect()

    configs = {"resident": lambda s: resident.run([s]), "sequential_prefetch": lambda s: prefetch.run([s]),
               "sequential_no_prefetch": lambda s: no_prefetch.run([s]), "naive_reload": naive}
    times = interleave(configs, rounds)
    largest = max(g.estimated_bytes() for g in resident.golems.values())
    result = {name: timing_stats(t) for name, t in times.items()}
    result["peak_golem_bytes"] = {"resident": resident.manager.peak_bytes,
                                  "sequential_prefetch": prefetch.manager.peak_bytes,
                                  "sequential_no_prefetch": no_prefetch.manager.peak_bytes, "largest_golem": largest}
    result["ratios"] = {
        "sequential_prefetch_vs_resident_p50": round(result["sequential_prefetch"]["p50_s"] /
                                                     result["resident"]["p50_s"], 2),
        "naive_vs_sequential_prefetch_p50": round(result["naive_reload"]["p50_s"] /
                                                  result["sequential_prefetch"]["p50_s"], 2),
        "prefetch_gain_p50": round(result["sequential_no_prefetch"]["p50_s"] /
                                   result["sequential_prefetch"]["p50_s"], 2),
        "sequential_peak_vs_largest_golem": round(prefetch.manager.peak_bytes / largest, 2)}
    for pipeline in (resident, prefetch, no_prefetch):
        pipeline.close()
    return result


def replace_prefetch(settings: Settings, prefetch: bool) -> Settings:
    from dataclasses import replace

    return replace(settings, prefetch=prefetch)


# -- (c) seed-style baseline -------------------------------------------------------------------------------------
def seed_style(settings: Settings) -> Callable[[tuple[str, Audio]], Any]:
    """The seed article's chain: three models called in a row, each loaded, run once and unloaded per request;
    no gating, no batching (the offline profile's models, through their libraries' own pipelines)."""
    from faster_whisper import WhisperModel
    from sentence_transformers import SentenceTransformer
    from transformers import pipeline as hf_pipeline

    from golemline.intents import shipped_intents
    from golemline.modelref import resolve

    shipped = shipped_intents().labels  # the baseline is the mission's demo domain
    paths = {name: resolve(spec.model) for name, spec in settings.golems.items()}

    def run(sample: tuple[str, Audio]) -> str:
        asr = WhisperModel(str(paths["scribe"]), device="cpu", compute_type="float32")
        segments, _ = asr.transcribe(sample[1].samples, beam_size=1, language="en")
        text = "".join(s.text for s in segments).strip()
        del asr
        encoder = SentenceTransformer(str(paths["interpreter"]), device="cpu")
        vectors = encoder.encode([text] + [label.description for label in shipped], normalize_embeddings=True)
        intent = shipped[int((vectors[1:] @ vectors[0]).argmax())].name
        del encoder
        generator = hf_pipeline("text-generation", model=str(paths["oracle"]), device="cpu")
        reply = generator(f"Request: {text}\nIntent: {intent}\nReply:", max_new_tokens=40, do_sample=False)
        del generator
        gc.collect()
        return str(reply[0]["generated_text"])

    return run


def bench_baseline(rounds: int = 2) -> dict[str, Any]:
    settings = Settings()
    monolith = Pipeline(settings)
    monolith.start()
    times = interleave({"monolith": lambda s: monolith.run([s]), "seed_style": seed_style(settings)}, rounds)
    monolith.close()
    result = {name: timing_stats(t) for name, t in times.items()}
    result["ratios"] = {"seed_style_vs_monolith_p50": round(result["seed_style"]["p50_s"] /
                                                            result["monolith"]["p50_s"], 2)}
    return result
