"""Every corpus case through the real Scribe and Interpreter once, with every signal a gate could use recorded
(`signals-<fingerprint>.jsonl` beside the corpus). Calibration then only reads numbers: trying a threshold costs
no model call, and the same recorded signals give the same thresholds on every run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np

from golemline.audio import TARGET_RATE, Audio
from golemline.domain import IntentRequest
from golemline.evaluation.corpus import VERSION, Case, Corpus
from golemline.predictors.interpreter import Interpreter
from golemline.predictors.scribe import Scribe
from golemline.settings import Settings
from golemline.wer import word_error_rate

BATCH = 8

GOLEMS: dict[str, type[Scribe] | type[Interpreter]] = {"scribe": Scribe, "interpreter": Interpreter}
"""The golems whose signals are recorded."""


def _dtype(settings: Settings, name: str) -> str:
    """The precision `name` runs in under these settings (`--dtype auto` resolved for its backend)."""
    return GOLEMS[name].backends[settings.golems[name].backend].dtype_for(settings)


def fingerprint(settings: Settings) -> str:
    """What the recorded signals depend on: the models, their backends and dtype, the windows, the Scribe's prompt,
    the labels."""
    parts = [VERSION, settings.scribe_windows_s, settings.scribe_vad_trim, settings.prompt,
             settings.intents.background, [(label.name, label.prototypes) for label in settings.intents.labels],
             *[(g, settings.golems[g].model, settings.golems[g].backend, _dtype(settings, g)) for g in GOLEMS]]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:12]


def golems_measured(settings: Settings) -> str:
    """The Scribe and Interpreter the signals come from, with their resolved precision (the report says it: a gate
    calibrated on one precision is only known to hold on that one)."""
    prompt = f'prompted with "{settings.prompt.strip()}"' if settings.prompt.strip() else "no prompt"
    return "; ".join(f"{name} `{settings.golems[name].model}` ({settings.golems[name].backend}, "
                     f"{_dtype(settings, name)} on {settings.resolved_device}"
                     f"{', ' + prompt if name == 'scribe' else ''})" for name in GOLEMS)


def speech_ratio(audio: Audio) -> float:
    """Share of the clip that Silero VAD (inside faster-whisper) calls speech."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio.samples, VadOptions())
    return round(sum(s["end"] - s["start"] for s in spans) / max(1, len(audio.samples)), 4)


def record(corpus: Corpus, settings: Settings, progress: Callable[[str], None] | None = None,
           cases: list[Case] | None = None) -> list[dict[str, Any]]:
    """One row per case (corpus order, or the order of `cases`, a part of the corpus): the case, the measured
    signals and the ungated answer. Cached."""
    todo = corpus.cases if cases is None else cases
    part = "" if cases is None else "-" + hashlib.sha256("\n".join(c.id for c in todo).encode()).hexdigest()[:8]
    path = corpus.root / f"signals-{fingerprint(settings)}-{len(todo)}{part}.jsonl"
    if path.exists():
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        if [r["id"] for r in rows] == [c.id for c in todo]:
            return rows
    scribe, interpreter = Scribe(settings), Interpreter(settings)
    scribe.load()
    interpreter.load()
    rows = []
    try:
        for start in range(0, len(todo), BATCH):
            if progress and start % (BATCH * 25) == 0:
                progress(f"signals {start}/{len(todo)}")
            rows += _batch(corpus, todo[start:start + BATCH], scribe, interpreter)
    finally:
        scribe.unload()
        interpreter.unload()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _batch(corpus: Corpus, cases: list[Case], scribe: Scribe, interpreter: Interpreter) -> list[dict[str, Any]]:
    audios = [Audio(samples=corpus.samples(c), source_rate=TARGET_RATE, source_channels=1) for c in cases]
    return _measure([asdict(c) for c in cases], audios, scribe, interpreter)


def record_rows(rows: list[dict[str, Any]], load: Callable[[dict[str, Any]], np.ndarray], settings: Settings,
                progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """`record` for rows of a user's dataset (`golemline.evaluation.dataset`): `load` gives a row's 16 kHz audio.
    Not cached: the dataset folder is the user's, and `--signals-out` keeps a recording on purpose."""
    scribe, interpreter = Scribe(settings), Interpreter(settings)
    scribe.load()
    interpreter.load()
    out: list[dict[str, Any]] = []
    try:
        for start in range(0, len(rows), BATCH):
            if progress and start % (BATCH * 25) == 0:
                progress(f"signals {start}/{len(rows)}")
            part = rows[start:start + BATCH]
            audios = [Audio(samples=load(r), source_rate=TARGET_RATE, source_channels=1) for r in part]
            out += _measure(part, audios, scribe, interpreter)
    finally:
        scribe.unload()
        interpreter.unload()
    return out


def _measure(bases: list[dict[str, Any]], audios: list[Audio], scribe: Scribe,
             interpreter: Interpreter) -> list[dict[str, Any]]:
    """One row per case: the case's own keys (`bases`), the measured signals and the ungated answer."""
    transcripts = scribe.run(audios)
    domain = interpreter.settings.intents
    intents = interpreter.run([IntentRequest.create(t.text if t.text.strip() else "-", intents=domain)
                               for t in transcripts])
    rows = []
    for case, audio, transcript, intent in zip(bases, audios, transcripts, intents, strict=True):
        rows.append({**case, "rms_dbfs": round(audio.rms_dbfs, 2), "duration_s": round(audio.duration_s, 3),
                     "speech_ratio": speech_ratio(audio), "transcript": transcript.text,
                     "words": len(transcript.text.split()),
                     "wer": word_error_rate(case["text"], transcript.text) if case["text"] else None,
                     "no_speech_prob": transcript.no_speech_prob, "avg_logprob": transcript.avg_logprob,
                     "min_token_logprob": transcript.min_token_logprob,
                     "compression_ratio": round(transcript.compression_ratio, 3),
                     "intent": intent.label, "score": intent.score, "margin": intent.margin,
                     "none_score": intent.none_score})
    return rows
