"""The Scribe's window buckets: against Whisper's 30 s window on the spoken evaluation set,
the gate on long audio, and bucketed batching on a mixed-length workload."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from golemline.audio import Audio
from golemline.bench.measure import spoken_samples
from golemline.settings import Settings


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
    clips = [audio for _, audio in spoken_samples()]
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
