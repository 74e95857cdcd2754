#!/usr/bin/env python3
"""Generate gating data (espeak-ng + sox speech, noise at several SNRs, silence, noise, tones), run the real
offline Scribe and Interpreter on it, and write the measured signals and decisions to docs/gating.md.

The thresholds in `GatingPolicy` were chosen from this table.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from golemline.audio import TARGET_RATE, Audio, decode
from golemline.domain import IntentRequest
from golemline.gating import check_audio, check_intent, check_transcript
from golemline.predictors.interpreter import Interpreter
from golemline.predictors.scribe import Scribe
from golemline.settings import Settings
from golemline.wer import word_error_rate

SPEECH = {
    "weather": ["What is the weather today?", "Will it rain in London tomorrow?", "How cold is it outside?"],
    "timer": ["Set a timer for five minutes.", "Start a countdown of one hour.", "Remind me in ten minutes."],
    "music": ["Play some jazz.", "Put on my favourite playlist.", "Play a song by the Beatles."],
    "news": ["What is the news today?", "Read me the headlines.", "What happened in sports today?"],
    "smalltalk": ["Good morning!", "How are you doing today?", "Thank you very much."],
    "off-topic": ["The quarterly report is due on Monday.", "Purple elephants dance slowly.", "Mead."],
}
SNRS_DB = (20, 10, 5, 0)


def speak(text: str, workdir: Path) -> np.ndarray:
    raw, out = workdir / "raw.wav", workdir / "out.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(TARGET_RATE), "-c", "1", "-b", "16", str(out)], check=True)
    return decode(out.read_bytes()).samples


def with_noise(speech: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(len(speech)).astype(np.float32)
    scale = np.sqrt(np.mean(speech**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return np.clip(speech + scale * noise, -1, 1).astype(np.float32)


INTELLIGIBLE_WER = 0.25  # a transcript this close to what was said is worth answering


def cases(workdir: Path) -> list[tuple[str, str, np.ndarray]]:
    """(kind, expected intent or '-', samples); kind is "<condition>: <spoken text>" for speech."""
    rng = np.random.default_rng(0)
    out: list[tuple[str, str, np.ndarray]] = []
    for intent, texts in SPEECH.items():
        for text in texts:
            clean = speak(text, workdir)
            out.append((f"clean: {text}", intent, clean))
            for snr in SNRS_DB:
                out.append((f"snr {snr:>2} dB: {text}", intent, with_noise(clean, snr, rng)))
    seconds = 3 * TARGET_RATE
    t = np.arange(seconds) / TARGET_RATE
    out += [
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
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python scripts/tune_gating.py", description=__doc__)
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/gating.md"),
                        help="the Markdown report to write (default docs/gating.md)")
    target: Path = parser.parse_args(argv).out
    settings = Settings()
    scribe, interpreter = Scribe(settings), Interpreter(settings)
    scribe.load()
    interpreter.load()
    min_score, min_margin = interpreter.thresholds
    rows, outcomes = [], Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for kind, expected, samples in cases(Path(tmp)):
            audio = Audio(samples=samples, source_rate=TARGET_RATE, source_channels=1)
            rejection = check_audio(audio, settings.gating)
            transcript = intent = None
            if rejection is None:
                [transcript] = scribe.run([audio])
                rejection = check_transcript(transcript, settings.gating)
            if rejection is None and transcript is not None:
                [intent] = interpreter.run([IntentRequest.create(transcript.text)])
                rejection = check_intent(intent, min_score, min_margin)
            spoken = kind.split(": ", 1)[1] if ": " in kind else None
            wer = word_error_rate(spoken, transcript.text) if spoken and transcript else None
            garbage = expected in ("-", "off-topic") or (spoken is not None and (wer is None or
                                                                                  wer > INTELLIGIBLE_WER))
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
            outcomes[(kind.split(":")[0], verdict)] += 1
            rows.append((kind, audio.rms_dbfs, transcript, wer, intent, decision, verdict))
    lines = [
        "# Gating: measured signals and decisions", "",
        "Generated by `python scripts/tune_gating.py` (espeak-ng speech, white noise mixed at the given SNR,",
        "synthetic silence, noise and tones), offline profile: Whisper tiny.en (CTranslate2, fp32) and",
        "all-MiniLM-L6-v2. Thresholds in force: "
        f"`{settings.gating}`; interpreter min score {min_score}, min margin {min_margin}.", "",
        "A speech transcript is *intelligible* when its word error rate against the spoken text is "
        f"≤ {INTELLIGIBLE_WER};",
        "otherwise it is garbage, like silence, noise, tones and off-topic speech. Verdicts: `ok` = intelligible,",
        "passed with the right intent; `stopped` = garbage rejected (the gate working); `lost` = intelligible",
        "speech rejected (too strict); `wrong` = intelligible speech passed with the wrong intent; `LEAK` =",
        "garbage passed with a wrong intent (the failure that matters most); `ok (misheard)` = garbage that",
        "still landed on the right intent.", "",
        "## Summary", "", "| condition | verdict | count |", "| --- | --- | --- |",
        *[f"| {c} | {v} | {n} |" for (c, v), n in sorted(outcomes.items())], "",
        "## Every case", "",
        "| input | rms dBFS | transcript | WER | no-speech | avg log-p | compr. | intent (score, margin) | decision "
        "| verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, rms, transcript, wer, intent, decision, verdict in rows:
        t = transcript
        lines.append("| " + " | ".join([
            kind, f"{rms:.1f}", repr(t.text)[:40] if t else "—", f"{wer:.2f}" if wer is not None else "—",
            f"{t.no_speech_prob:.2f}" if t and t.no_speech_prob is not None else "—",
            f"{t.avg_logprob:.2f}" if t and t.avg_logprob is not None else "—",
            f"{t.compression_ratio:.2f}" if t else "—",
            f"{intent.label} ({intent.score:.2f}, {intent.margin:.2f})" if intent else "—",
            decision, verdict]) + " |")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:16 + len(outcomes)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
