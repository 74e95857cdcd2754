"""Oracle: reply generation with a causal LM (mission default ``distilgpt2``; offline default: the bundled
GPT-2-architecture model trained by golemline, see README), prompted with transcript + intent.

Generation is bounded (``max_new_tokens`` ≤ 256, the reply ends at the first newline) and deterministic when
asked (greedy decoding when no seed is set; seeded sampling otherwise).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golemline.predictors.base import (
    Backend,
    Golem,
    compression_ratio,
    quantize_int8_cpu,
    torch_dtype,
    torch_module_bytes,
)
from golemline.predictors.prompt import build_prompt

from golemline.errors import InvalidInput
from golemline.settings import Settings

MAX_PROMPT_CHARS = 2000


@dataclass(frozen=True)
class ReplyRequest:
    text: str
    intent: str


@dataclass(frozen=True)
class Reply:
    text: str
    tokens: int
    tokens_per_s: float
    compression_ratio: float


class CausalLM(Backend[ReplyRequest, Reply]):
    """AutoModelForCausalLM + AutoTokenizer; the batch is left-padded and decoded in one generate call."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._tokenizer: Any = None

    def load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.model_dir,
                                                     dtype=torch_dtype(self.settings.dtype)).eval()
        if self.settings.dtype == "int8" and self.device == "cpu":
            model = quantize_int8_cpu(model)
        self._tokenizer, self._model = tokenizer, model.to(self.device)

    def unload(self) -> None:
        self._model = None
        self._tokenizer = None

    def memory_bytes(self) -> int:
        return torch_module_bytes(self._model)

    def run(self, batch: list[ReplyRequest]) -> list[Reply]:
        import torch

        tokenizer, settings = self._tokenizer, self.settings
        prompts = [build_prompt(r.text, r.intent) for r in batch]
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        newline = tokenizer.encode("\n", add_special_tokens=False)
        sampling: dict[str, Any] = {"do_sample": False}
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
            sampling = {"do_sample": True, "top_k": 40, "temperature": 0.8}
        started = time.perf_counter()
        with torch.inference_mode():
            output = self._model.generate(**encoded, max_new_tokens=settings.max_new_tokens,
                                          eos_token_id=[tokenizer.eos_token_id, *newline[-1:]],
                                          pad_token_id=tokenizer.pad_token_id, **sampling)
        seconds = time.perf_counter() - started
        replies = []
        for row in output[:, encoded.input_ids.shape[1]:].tolist():
            tokens = [t for t in row if t != tokenizer.pad_token_id]
            text = tokenizer.decode(tokens, skip_special_tokens=True).split("\n")[0].strip()
            replies.append(Reply(text=text, tokens=len(tokens),
                                 tokens_per_s=round(len(tokens) / seconds, 1) if seconds else 0.0,
                                 compression_ratio=round(compression_ratio(text), 3)))
        return replies


class Oracle(Golem[ReplyRequest, Reply]):
    """Transcript + intent to a reply. V1 instance: {"text": str, "intent": str}."""

    stage = "oracle"
    backends = {"causal-lm": CausalLM}

    v2_fields = {"text": True, "intent": True}

    def parse_instance(self, instance: Any) -> ReplyRequest:
        if not isinstance(instance, dict):
            raise InvalidInput("oracle: each instance must be an object {\"text\": str, \"intent\": str}")
        extra = set(instance) - {"text", "intent"}
        if extra:
            raise InvalidInput(f"oracle: unexpected fields {sorted(extra)}; accepted: text, intent")
        text, intent = instance.get("text"), instance.get("intent")
        for field, value in (("text", text), ("intent", intent)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(f"oracle: '{field}' must be a non-empty string")
        assert isinstance(text, str) and isinstance(intent, str)
        if len(text) > MAX_PROMPT_CHARS or len(intent) > 200:
            raise InvalidInput(f"oracle: 'text' is limited to {MAX_PROMPT_CHARS} and 'intent' to 200 characters")
        # The prompt is line-structured: newlines in user text could forge an "Intent:"/"Reply:" line.
        return ReplyRequest(text=" ".join(text.split()), intent=" ".join(intent.split()))
