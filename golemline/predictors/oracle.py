"""Oracle: transcript + intent → a reply, through one of three backends (docs/oracle.md):

- ``causal-lm``: a local causal LM (mission default ``distilgpt2``; offline default: the bundled GPT-2-architecture
  model trained by golemline, see README), prompted with transcript + intent;
- ``templates``: the intent's replies from the intents file (`golemline.predictors.oracle_templates`);
- ``openai``: any OpenAI-compatible chat completions server (`golemline.predictors.oracle_openai`).

Generation is bounded (``max_new_tokens`` ≤ 256, the reply ends at the first newline) and deterministic when
asked (greedy decoding when no seed is set; seeded sampling otherwise).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

from golemline.domain import Reply, ReplyRequest, compression_ratio
from golemline.errors import ConfigError
from golemline.predictors.base import (
    Backend,
    Golem,
    lay_out_output_head_for_cpu,
    quantize_int8_cpu,
    torch_dtype,
    torch_module_bytes,
)
from golemline.predictors.oracle_openai import OpenAIChat
from golemline.predictors.oracle_templates import TemplateReplies, intents_of
from golemline.predictors.prompt import build_prompt
from golemline.settings import PROFILES, Settings


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

    def _config(self) -> Any:
        return self._model.config

    def _context(self) -> int:
        """Positions the model can attend to (the bundled model was trained with 96; distilgpt2 has 1024)."""
        config = self._config()
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
        for row in (generated if isinstance(generated, list) else generated.tolist()):
            tokens = [t for t in row if t != tokenizer.pad_token_id]
            text = tokenizer.decode(tokens, skip_special_tokens=True).split("\n")[0].strip()
            replies.append(Reply(text=text, tokens=len(tokens),
                                 tokens_per_s=round(len(tokens) / seconds, 1) if seconds else 0.0,
                                 compression_ratio=round(compression_ratio(text), 3)))
        return replies


class CTranslate2CausalLM(CausalLM):
    """The same weights through CTranslate2's `Generator`: the decode loop runs in C++, not in Python.

    Why: the bundled Oracle (7.2 M parameters) does well under a millisecond of arithmetic per token, but torch's
    `generate()` took several per token in Python and per-op dispatch (docs/performance.md has both, side by side).
    Greedy replies are token for token those of the torch backend (tests/test_oracle_ctranslate2.py); prompts,
    context fitting, stopping rules and replies' bookkeeping are the torch backend's own (inherited).

    Seeded sampling (`--seed`, a development aid) runs on the torch backend instead: CTranslate2 keeps one random
    state per worker thread, seeded once when the thread first samples, so it cannot replay a seed per request as
    `--seed` promises. With a seed this backend loads and delegates to `CausalLM`, whose draws it then gives.

    On the CPU, a golemline-trained model also gets a draft with a small output head (`ct2draft`): a lone request is
    decoded by the draft and kept only when the full model confirms every token, which cuts the output head's cost
    per token (most of a step for the bundled model) and keeps the full model's replies."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._config_: Any = None
        self._bytes = 0
        self._seeded: CausalLM | None = None  # the torch backend, when replies are sampled with a seed
        self._draft: Any = None  # the small-head draft generator (`ct2draft`), when this model has one
        self._end_tokens: list[str] = []

    @classmethod
    def drafts(cls, model_dir: Path, settings: Settings) -> bool:
        """Whether this backend loads a draft next to the model: greedy decoding on the CPU of a golemline-trained
        model (on a GPU the output head is cheap; other models have no vocabulary to keep)."""
        from golemline.predictors.ct2draft import TRAINING_RECORD

        return (settings.seed is None and settings.resolved_device == "cpu"
                and (model_dir / TRAINING_RECORD).is_file())

    @classmethod
    def estimate_bytes(cls, model_dir: Path, settings: Settings) -> int:
        """The weights in the dtype, twice when a draft is loaded (it holds its own copy of every weight)."""
        weights = super().estimate_bytes(model_dir, settings)
        return 2 * weights if cls.drafts(model_dir, settings) else weights

    def load(self) -> None:
        if self.settings.seed is not None:
            self._seeded = CausalLM(self.model_dir, self.settings)
            self._seeded.load()
            return
        import ctranslate2
        from transformers import AutoConfig, AutoTokenizer

        from golemline.predictors.ct2convert import COMPUTE_TYPES, converted_files
        from golemline.predictors.ct2draft import draft_files, trained_vocabulary

        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

        def generator(files: dict[str, bytes]) -> Any:
            try:
                return ctranslate2.Generator(str(self.model_dir), device=self.device,
                                             compute_type=COMPUTE_TYPES[self.dtype],
                                             intra_threads=self.settings.threads or 0, files=files)
            except ValueError as exc:  # e.g. bf16 on a CPU without bf16 instructions
                raise ConfigError(f"oracle: dtype {self.dtype} is not usable on {self.device} ({exc}); "
                                  "use --dtype fp32 or int8 on CPU, fp16 on GPU") from exc

        model = generator(converted_files(self.model_dir))
        keep = trained_vocabulary(self.model_dir, tokenizer) if self.drafts(self.model_dir, self.settings) else None
        self._draft = generator(draft_files(self.model_dir, keep)) if keep else None
        newline = tokenizer.convert_ids_to_tokens(tokenizer.encode("\n", add_special_tokens=False))[-1]
        self._end_tokens = [tokenizer.eos_token, newline]
        self._config_ = AutoConfig.from_pretrained(self.model_dir)
        self._bytes = self.estimate_bytes(self.model_dir, self.settings)
        self._tokenizer, self._model = tokenizer, model

    def unload(self) -> None:
        super().unload()
        self._config_ = None
        self._draft = None
        if self._seeded is not None:
            self._seeded.unload()
            self._seeded = None

    def memory_bytes(self) -> int:
        """CTranslate2 allocates outside torch; its weights take what the dtype says (the estimate)."""
        if self._seeded is not None:
            return self._seeded.memory_bytes()
        return self._bytes if self._model is not None else 0

    def _config(self) -> Any:
        return self._config_

    def preprocess(self, batch: list[ReplyRequest]) -> Any:
        if self._seeded is not None:
            return self._seeded.preprocess(batch)
        tokenizer = self._tokenizer
        return [tokenizer.convert_ids_to_tokens(tokenizer.encode(self._fitted_prompt(r), add_special_tokens=False))
                for r in batch]

    def _forward(self, prompts: Any) -> tuple[Any, int, float]:
        """One greedy `generate_batch` for the batch (no padding: CTranslate2 masks ragged prompts itself), stopping
        at end of text or the first newline, which is kept in the reply's tokens as the torch backend keeps it.
        A lone request goes through the draft first, when there is one (`_confirmed_draft`)."""
        if self._seeded is not None:
            return self._seeded._forward(prompts)
        longest = max(len(p) for p in prompts)
        room = min(self.settings.max_new_tokens, self._context() - longest)
        started = time.perf_counter()
        drafted = self._confirmed_draft(prompts[0], room) if self._draft is not None and len(prompts) == 1 else None
        if drafted is not None:
            return [drafted], longest, time.perf_counter() - started
        results = self._generate(self._model, prompts, room)
        return [r.sequences_ids[0] for r in results], longest, time.perf_counter() - started

    def _generate(self, generator: Any, prompts: list[list[str]], room: int) -> Any:
        return generator.generate_batch(prompts, max_length=room, end_token=self._end_tokens, return_end_token=True,
                                        include_prompt_in_result=False, sampling_topk=1)

    def _confirmed_draft(self, prompt: list[str], room: int) -> list[int] | None:
        """The draft's greedy reply (token ids of the full vocabulary) when the full model confirms every token;
        None when it does not (the full model then decodes). The draft's ids index its own head, so its reply is
        read as token strings."""
        from golemline.predictors.ct2draft import confirmed

        tokenizer = self._tokenizer
        [result] = self._generate(self._draft, [prompt], room)
        reply = tokenizer.convert_tokens_to_ids(result.sequences[0])
        return reply if confirmed(self._model, tokenizer.convert_tokens_to_ids(prompt), reply) else None

    def postprocess(self, outputs: tuple[Any, int, float], batch: list[ReplyRequest]) -> list[Reply]:
        if self._seeded is not None:
            return self._seeded.postprocess(outputs, batch)
        return super().postprocess(outputs, batch)


class Oracle(Golem[ReplyRequest, Reply]):
    """Transcript + intent to a reply."""

    stage = "oracle"
    backends = {"causal-lm": CausalLM, "ctranslate2": CTranslate2CausalLM, "templates": TemplateReplies,
                "openai": OpenAIChat}

    def __init__(self, settings: Settings, forward_executor: Executor | None = None) -> None:
        super().__init__(settings, forward_executor)
        if self.spec == PROFILES["offline"]["oracle"] and not intents_of(settings).is_shipped:
            # The bundled GPT-2 learned the five demo intents only: for anyone else's intents it would write a reply
            # for an intent it never saw. Without an LLM configured, the intents file's own replies answer.
            self.spec = replace(self.spec, backend="templates")

    def warm_up_batch(self) -> list[ReplyRequest]:
        """A request of the first configured intent: prompt building, prefill and a few decoding steps."""
        intents = self.settings.intents
        return [ReplyRequest.create(intents.labels[0].examples[0], intents.names[0], intents.names)]
