"""Oracle: reply generation with a causal LM (mission default ``distilgpt2``; offline default: the bundled
GPT-2-architecture model trained by golemline, see README), prompted with transcript + intent.

Generation is bounded (``max_new_tokens`` ≤ 256, the reply ends at the first newline) and deterministic when
asked (greedy decoding when no seed is set; seeded sampling otherwise).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from golemline.domain import KNOWN_INTENTS, Reply, ReplyRequest, compression_ratio
from golemline.predictors.base import (
    Backend,
    Golem,
    lay_out_output_head_for_cpu,
    quantize_int8_cpu,
    torch_dtype,
    torch_module_bytes,
)
from golemline.predictors.prompt import build_prompt
from golemline.settings import Settings


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
                                                     dtype=torch_dtype(self.dtype)).eval()
        if self.dtype == "int8" and self.device == "cpu":
            model = quantize_int8_cpu(model)
        if self.device == "cpu":
            lay_out_output_head_for_cpu(model)
        self._tokenizer, self._model = tokenizer, model.to(self.device)

    def unload(self) -> None:
        self._model = None
        self._tokenizer = None

    def memory_bytes(self) -> int:
        return torch_module_bytes(self._model)

    def _context(self) -> int:
        """Positions the model can attend to (the bundled model was trained with 96; distilgpt2 has 1024)."""
        config = self._model.config
        return int(getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None) or 1024)

    def _reply_room(self) -> int:
        """New tokens a reply may take: the setting, but never more than half the context, so a prompt has room."""
        return min(self.settings.max_new_tokens, self._context() // 2)

    def _fitted_prompt(self, request: ReplyRequest) -> str:
        """The prompt, with the request's text cut from the front until prompt and reply fit the context.

        Why: a long dictation (a 25 s transcript) made a prompt longer than the bundled model's 96 positions and the
        position lookup failed (IndexError, a 500 for the whole pipeline). The end of a request and the intent line
        are what a reply continues from, so the start of the text is what goes."""
        prompt = build_prompt(request.text, request.intent)
        room = self._context() - self._reply_room()
        tokenizer = self._tokenizer
        if len(tokenizer.encode(prompt, add_special_tokens=False)) <= room:
            return prompt
        words = request.text.split()

        def fits(kept: int) -> bool:
            return len(tokenizer.encode(build_prompt(" ".join(words[len(words) - kept:]), request.intent),
                                        add_special_tokens=False)) <= room

        low, high = 0, len(words)  # the most trailing words that fit: a bisection, a dozen tokenizer calls at most
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(middle) else (low, middle - 1)
        return build_prompt(" ".join(words[len(words) - low:]), request.intent)

    def preprocess(self, batch: list[ReplyRequest]) -> Any:
        prompts = [self._fitted_prompt(r) for r in batch]
        return self._tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)

    def _forward(self, encoded: Any) -> tuple[Any, int, float]:
        """One generate call for the batch (left-padded), stopping at end of text or the first newline."""
        import torch

        tokenizer, settings = self._tokenizer, self.settings
        newline = tokenizer.encode("\n", add_special_tokens=False)
        sampling: dict[str, Any] = {"do_sample": False}
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
            sampling = {"do_sample": True, "top_k": 40, "temperature": 0.8}
        started = time.perf_counter()
        with torch.inference_mode():
            room = min(settings.max_new_tokens, self._context() - encoded.input_ids.shape[1])
            output = self._model.generate(**encoded.to(self.device), max_new_tokens=room,
                                          eos_token_id=[tokenizer.eos_token_id, *newline[-1:]],
                                          pad_token_id=tokenizer.pad_token_id, **sampling)
        prompt_length = encoded.input_ids.shape[1]
        return output[:, prompt_length:].cpu(), prompt_length, time.perf_counter() - started

    def postprocess(self, outputs: tuple[Any, int, float], batch: list[ReplyRequest]) -> list[Reply]:
        generated, _, seconds = outputs
        tokenizer = self._tokenizer
        replies = []
        for row in generated.tolist():
            tokens = [t for t in row if t != tokenizer.pad_token_id]
            text = tokenizer.decode(tokens, skip_special_tokens=True).split("\n")[0].strip()
            replies.append(Reply(text=text, tokens=len(tokens),
                                 tokens_per_s=round(len(tokens) / seconds, 1) if seconds else 0.0,
                                 compression_ratio=round(compression_ratio(text), 3)))
        return replies


class Oracle(Golem[ReplyRequest, Reply]):
    """Transcript + intent to a reply."""

    stage = "oracle"
    backends = {"causal-lm": CausalLM}

    def warm_up_batch(self) -> list[ReplyRequest]:
        """A request of the first known intent: prompt building, prefill and a few decoding steps."""
        return [ReplyRequest.create("what is the weather like today", KNOWN_INTENTS[0])]
