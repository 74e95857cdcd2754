"""Which encoder window an utterance needs, and the speech inside it.

Whisper was trained on 30 s windows and pads every input to one; its encoder's work grows with the window, so a
3 s command on a 30 s window pays ten times the encoder work it needs. The Scribe runs each utterance on the
smallest configured window (a *bucket*) that holds it with `HEADROOM_S` to spare: windows cut to the speech's own
length made Whisper loop, and a second of trailing silence is what the decoder needs to end the text cleanly.
Audio too long for the smallest window has the silence before and after its speech trimmed first (Silero VAD,
shipped with faster-whisper), so more commands fit the small window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from golemline.audio import TARGET_RATE, Audio

WHISPER_WINDOW_S = 30.0
FRAMES_PER_SECOND = 100  # log-mel hop of 160 samples at 16 kHz
HEADROOM_S = 1.0
VAD_PAD_S = 0.4  # kept either side of the detected speech: word onsets and endings the VAD shaves off


def window_for(duration_s: float, windows: Sequence[float]) -> float | None:
    """The smallest window that holds `duration_s` with headroom (Whisper's own 30 s window needs none);
    None when the audio is longer than every window (then it is transcribed in 30 s windows)."""
    for window in windows:
        if duration_s + HEADROOM_S <= window or (window >= WHISPER_WINDOW_S and duration_s <= window):
            return window
    return None


def frames(window_s: float) -> int:
    return int(round(window_s * FRAMES_PER_SECOND))


def trim_to_speech(audio: Audio) -> tuple[Audio, float]:
    """The audio from the first detected speech to the last (plus `VAD_PAD_S`), and the speech seconds found.
    Audio where the VAD finds no speech is returned whole: the Scribe's own no-speech signal then decides."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(audio.samples, VadOptions(min_silence_duration_ms=500, speech_pad_ms=0))
    speech_s = sum(span["end"] - span["start"] for span in spans) / TARGET_RATE
    if not spans:
        return audio, 0.0
    pad = int(VAD_PAD_S * TARGET_RATE)
    start, end = max(0, spans[0]["start"] - pad), min(len(audio.samples), spans[-1]["end"] + pad)
    if start == 0 and end == len(audio.samples):
        return audio, speech_s
    return Audio(np.ascontiguousarray(audio.samples[start:end]), audio.source_rate, audio.source_channels), speech_s
