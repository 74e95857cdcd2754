"""The Scribe-stage gate on audio over 30 s, before and after the long-form rule, side by side on the same audio.

Per case: dictations of about 35, 44 and 58 s (the set's sentences strung together with pauses) in four voices,
clean and at 10 dB white noise, and non-speech of the same lengths (white noise at three levels, pink and brown
noise, a tone, a chord, beeps). "before" replays the Scribe's long path as it was (30 s windows without
timestamps, the highest no-speech probability of any window against the one-window bound); "after" is today's
Scribe and gate. One JSON line per case, then a summary. Needs espeak-ng, flite and sox. Run from the repository
root: `python scripts/long_form_gate.py` (about 10 minutes on 2 busy cores).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from golemline.audio import TARGET_RATE, Audio
from golemline.bench.speech_set import (
    INTELLIGIBLE_WER,
    OTHER_VOICES,
    SPEECH,
    TUNING_VOICE,
    dictation,
    with_noise,
)
from golemline.domain import Transcript, compression_ratio, rounded
from golemline.gating import GatePolicy, check_audio, check_transcript
from golemline.predictors.scribe import LANGUAGE, Scribe
from golemline.settings import Settings
from golemline.wer import word_error_rate

LENGTHS = ((11, 35.0), (12, 44.0), (13, 58.0))  # (seed, seconds)


def before(model: Any, audio: Audio, settings: Settings) -> Transcript:
    """The long path before the long-form rule: no timestamps, every window's text, the highest no-speech."""
    segments, info = model.transcribe(
        audio.samples, beam_size=1, temperature=0.0, condition_on_previous_text=False, without_timestamps=True,
        compression_ratio_threshold=None, log_prob_threshold=None, no_speech_threshold=None, vad_filter=False,
        language=LANGUAGE, initial_prompt=settings.prompt.strip() or None)
    segments = list(segments)
    text = "".join(s.text for s in segments).strip()
    tokens = [len(s.tokens) for s in segments]
    avg = sum(s.avg_logprob * n for s, n in zip(segments, tokens, strict=True)) / sum(tokens) if sum(tokens) else None
    return Transcript(text=text, language=info.language, duration_s=audio.duration_s, avg_logprob=rounded(avg),
                      no_speech_prob=rounded(max((s.no_speech_prob for s in segments), default=None)),
                      compression_ratio=compression_ratio(text), rms_dbfs=audio.rms_dbfs)


def cases(workdir: Path) -> list[tuple[str, str | None, np.ndarray]]:
    sentences = [text for texts in SPEECH.values() for text in texts]
    out: list[tuple[str, str | None, np.ndarray]] = []
    for seed, target in LENGTHS:
        rng = np.random.default_rng(seed)
        for voice in (TUNING_VOICE, *OTHER_VOICES):
            said, clean = dictation(sentences * 2, voice, workdir, target, rng)
            out += [(f"{target:g} s {voice[0]} {voice[1]} clean", said, clean),
                    (f"{target:g} s {voice[0]} {voice[1]} 10 dB", said, with_noise(clean, 10, rng))]
        n = int(target * TARGET_RATE)
        t = np.arange(n) / TARGET_RATE
        white = rng.standard_normal(n)
        pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.maximum(np.arange(n // 2 + 1), 1)), n)
        out += [(f"{target:g} s white noise -10 dBFS", None, (0.3 * white).clip(-1, 1)),
                (f"{target:g} s white noise -20 dBFS", None, 0.1 * rng.standard_normal(n)),
                (f"{target:g} s white noise -30 dBFS", None, 0.03 * rng.standard_normal(n)),
                (f"{target:g} s pink noise", None, pink / np.abs(pink).max() * 0.5),
                (f"{target:g} s brown noise", None, (np.cumsum(rng.standard_normal(n)) / 300).clip(-1, 1)),
                (f"{target:g} s tone 440 Hz", None, 0.3 * np.sin(2 * np.pi * 440 * t)),
                (f"{target:g} s chord", None, 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392))),
                (f"{target:g} s beeps", None, 0.3 * np.sin(2 * np.pi * 1000 * t) * (np.sin(2 * np.pi * 2 * t) > 0))]
    return out


def main() -> None:
    settings = Settings()
    gate = GatePolicy.of(settings)
    scribe = Scribe(settings)
    scribe.load()
    model = scribe._loaded_backend()._model  # noqa: SLF001 - the same faster-whisper model, for the "before" path
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workload = cases(Path(tmp))
    for name, said, samples in workload:
        audio = Audio(np.asarray(samples, dtype=np.float32), TARGET_RATE, 1)
        row: dict[str, Any] = {"case": name, "speech": said is not None}
        for side, transcribe in (("before", lambda a: before(model, a, settings)),
                                 ("after", lambda a: scribe.run([a])[0])):
            rejection = check_audio(audio, gate)
            transcript = None if rejection else transcribe(audio)
            rejection = rejection or (check_transcript(transcript, gate) if transcript else None)
            row[side] = rejection.reason if rejection else "pass"
            if said is not None and transcript is not None:
                row[f"{side}_wer"] = round(word_error_rate(said, transcript.text), 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    for side in ("before", "after"):
        for condition in ("clean", "10 dB"):
            speech = [r for r in rows if r["speech"] and r["case"].endswith(condition)]
            heard = [r for r in speech if r.get(f"{side}_wer", 1.0) <= INTELLIGIBLE_WER]
            print(f"{side} {condition}: {len(speech)} dictations, mean WER "
                  f"{statistics.fmean(min(r.get(f'{side}_wer', 1.0), 1.0) for r in speech):.3f}, heard "
                  f"{len(heard)}, heard and let through {sum(r[side] == 'pass' for r in heard)}, misheard and let "
                  f"through {sum(r[side] == 'pass' for r in speech if r not in heard)}")
        print(f"{side} non-speech: {dict(Counter(r[side] for r in rows if not r['speech']))}")


if __name__ == "__main__":
    main()
