"""The spoken evaluation set: synthetic speech (espeak-ng, flite) with noise at several SNRs, plus silence, noise
and tones, each judged through the real Scribe, gate and Interpreter.

`scripts/tune_gating.py` writes docs/gating.md from it (one espeak-ng voice: the tuning voice); `golem bench
--sections windows` runs it in other voices too, to compare Scribe configurations on speech they were not tuned on.
Needs `espeak-ng`, `flite` and `sox` on PATH (Debian packages of the same names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golemline.audio import TARGET_RATE, Audio
from golemline.domain import IntentRequest, IntentResult, Transcript
from golemline.evaluation.corpus import IN_DOMAIN, OFF_DOMAIN
from golemline.evaluation.voices import Voice, require
from golemline.evaluation.voices import speak as synthesise
from golemline.gating import check_audio, check_intent, check_transcript
from golemline.predictors.interpreter import Interpreter
from golemline.predictors.scribe import Scribe
from golemline.settings import Settings
from golemline.wer import word_error_rate

SPEECH = {**{intent: list(texts[:3]) for intent, texts in IN_DOMAIN.items()},
          "off-topic": [*OFF_DOMAIN["statements"][:2], "Mead."]}
"""The gating corpus's first three requests per intent, two of its off-domain statements and a one-word one."""
SNRS_DB = (20, 10, 5, 0)
TUNING_VOICE = ("espeak-ng", "en-us", 150)
OTHER_VOICES = (("espeak-ng", "en-gb", 130), ("espeak-ng", "en-us+f3", 175), ("flite", "slt", 0))
INTELLIGIBLE_WER = 0.25  # a transcript this close to what was said is worth answering


def speak(text: str, workdir: Path, voice: tuple[str, str, int] = TUNING_VOICE) -> np.ndarray:
    """One utterance in one voice, 16 kHz mono."""
    engine, name, speed = voice
    spoken = Voice(engine, name, speed if engine == "espeak-ng" else 0)
    require((spoken,))
    return synthesise(text, spoken, workdir)


def with_noise(speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(len(speech)).astype(np.float32)
    scale = np.sqrt(np.mean(speech**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return np.clip(speech + scale * noise, -1, 1).astype(np.float32)


def non_speech(rng: np.random.Generator) -> list[tuple[str, str, np.ndarray]]:
    seconds = 3 * TARGET_RATE
    t = np.arange(seconds) / TARGET_RATE
    return [
        ("digital silence", "-", np.zeros(seconds, dtype=np.float32)),
        ("near silence (-70 dBFS dither)", "-", (3e-4 * rng.standard_normal(seconds)).astype(np.float32)),
        ("white noise -10 dBFS", "-", (0.3 * rng.standard_normal(seconds)).clip(-1, 1).astype(np.float32)),
        ("white noise -30 dBFS", "-", (0.03 * rng.standard_normal(seconds)).astype(np.float32)),
        ("brown noise", "-", (np.cumsum(rng.standard_normal(seconds)) / 300).clip(-1, 1).astype(np.float32)),
        ("tone 440 Hz", "-", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)),
        ("tone 1 kHz", "-", (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)),
        ("beeps 1 kHz", "-", (0.3 * np.sin(2 * np.pi * 1000 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(
            np.float32)),
    ]


def cases(workdir: Path, voices: tuple[tuple[str, str, int], ...] = (TUNING_VOICE,),
          snrs_db: tuple[int, ...] = SNRS_DB, with_non_speech: bool = True) -> list[tuple[str, str, np.ndarray]]:
    """(kind, expected intent or '-', samples); kind is "<condition>: <spoken text>" for speech (the voice is
    named in the condition when there are several)."""
    rng = np.random.default_rng(0)
    out: list[tuple[str, str, np.ndarray]] = []
    for voice in voices:
        tag = "" if len(voices) == 1 else f"{voice[0]} {voice[1]} "
        for intent, texts in SPEECH.items():
            for text in texts:
                clean = speak(text, workdir, voice)
                out.append((f"{tag}clean: {text}", intent, clean))
                for snr in snrs_db:
                    out.append((f"{tag}snr {snr:>2} dB: {text}", intent, with_noise(clean, snr, rng)))
    return out + (non_speech(rng) if with_non_speech else [])


LONG_TARGETS_S = (14.0, 24.0)
"""Dictation lengths: 14 s runs on the 20 s window, 24 s on the 30 s one (the short corpus only reaches 10 s)."""
LONG_NON_SPEECH_S = (14.0, 24.0)


def dictation(texts: list[str], voice: tuple[str, str, int], workdir: Path, target_s: float,
              rng: np.random.Generator) -> tuple[str, np.ndarray]:
    """Sentences of the set spoken in one voice and strung together with 0.4–0.8 s pauses until `target_s`
    (whole sentences only, so the text is exactly what is heard): the spoken text and the samples."""
    parts: list[np.ndarray] = []
    said: list[str] = []
    order = rng.permutation(len(texts))
    for k in order:
        clip = speak(texts[int(k)], workdir, voice)
        if said and (sum(len(p) for p in parts) + len(clip)) / TARGET_RATE > target_s:
            break
        pause = np.zeros(int(rng.uniform(0.4, 0.8) * TARGET_RATE), dtype=np.float32)
        parts += [clip, pause]
        said.append(texts[int(k)])
    return " ".join(said), np.concatenate(parts[:-1])


def long_cases(workdir: Path, voices: tuple[tuple[str, str, int], ...] = (TUNING_VOICE, *OTHER_VOICES),
               snr_db: int = 10) -> list[tuple[str, str, np.ndarray]]:
    """Audio too long for the 10 s window, for the gate's check on the larger windows: per voice a dictation of
    about 14 s and one of about 24 s, clean and with white noise at `snr_db`; and non-speech of the same lengths.
    (kind, "dictation" or "-", samples); a dictation's kind ends in its spoken text, like `cases`."""
    rng = np.random.default_rng(1)
    texts = [t for group in SPEECH.values() for t in group]
    out: list[tuple[str, str, np.ndarray]] = []
    for voice in voices:
        for target in LONG_TARGETS_S:
            text, clean = dictation(texts, voice, workdir, target, rng)
            out.append((f"{voice[0]} {voice[1]} clean: {text}", "dictation", clean))
            out.append((f"{voice[0]} {voice[1]} snr {snr_db} dB: {text}", "dictation", with_noise(clean, snr_db, rng)))
    for seconds in LONG_NON_SPEECH_S:
        n = int(seconds * TARGET_RATE)
        t = np.arange(n) / TARGET_RATE
        out += [(f"white noise -10 dBFS, {seconds:g} s", "-", (0.3 * rng.standard_normal(n)).clip(-1, 1).astype(
                    np.float32)),
                (f"brown noise, {seconds:g} s", "-", (np.cumsum(rng.standard_normal(n)) / 300).clip(-1, 1).astype(
                    np.float32)),
                (f"tone 440 Hz, {seconds:g} s", "-", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)),
                (f"beeps 1 kHz, {seconds:g} s", "-", (0.3 * np.sin(2 * np.pi * 1000 * t)
                                                      * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32))]
    return out


@dataclass
class Judged:
    """One case through the real golems and the gate."""

    kind: str
    expected: str
    rms_dbfs: float
    transcript: Transcript | None
    wer: float | None
    intent: IntentResult | None
    decision: str
    verdict: str  # ok, ok (misheard), stopped, lost, wrong, LEAK

    @property
    def condition(self) -> str:
        return self.kind.split(":")[0]


def judge(kind: str, expected: str, samples: np.ndarray, scribe: Scribe | Callable[[list[Audio]], list[Transcript]],
          interpreter: Interpreter, settings: Settings) -> Judged:
    """The case's verdict. `scribe` may be a callable standing in for `Scribe.run` (a benchmark that times it)."""
    transcribe = scribe.run if isinstance(scribe, Scribe) else scribe
    audio = Audio(samples=samples, source_rate=TARGET_RATE, source_channels=1)
    rejection = check_audio(audio, settings.gating)
    transcript = intent = None
    if rejection is None:
        [transcript] = transcribe([audio])
        rejection = check_transcript(transcript, settings.gating)
    if rejection is None and transcript is not None:
        [intent] = interpreter.run([IntentRequest.create(transcript.text)])
        rejection = check_intent(intent, *interpreter.thresholds)
    spoken = kind.split(": ", 1)[1] if ": " in kind else None
    wer = word_error_rate(spoken, transcript.text) if spoken and transcript else None
    garbage = expected in ("-", "off-topic") or (spoken is not None and (wer is None or wer > INTELLIGIBLE_WER))
    if rejection:
        decision = f"rejected at {rejection.stage}: {rejection.reason}"
        verdict = "stopped" if garbage else "lost"
    else:
        assert intent is not None
        decision = f"passed as {intent.label}"
        if intent.label == expected:
            verdict = "ok" if not garbage else "ok (misheard)"
        else:
            verdict = "LEAK" if garbage else "wrong"
    return Judged(kind, expected, audio.rms_dbfs, transcript, wer, intent, decision, verdict)
