"""Interpreter: real MiniLM embedding path; NLI path on a tiny random MNLI-labelled model (one batched pass)."""

from __future__ import annotations

from pathlib import Path

import pytest

from golemline.domain import IntentRequest
from golemline.errors import InvalidInput
from golemline.evaluation.corpus import SPLITS, phrasings
from golemline.gating import CALIBRATED_INTENT_GATES, GatePolicy, check_intent
from golemline.intents import MAX_LABELS, shipped_intents
from golemline.pipeline import Pipeline
from golemline.predictors.interpreter import Interpreter, NLIInterpreter
from golemline.serving.adapter import parse_instance
from golemline.settings import Settings
from golemline.wer import normalise

DEFAULT_LABELS = shipped_intents().labels
BACKGROUND = shipped_intents().background

CLEAN = {"weather": "What is the weather like in Paris today?", "timer": "Set a timer for 10 minutes.",
         "music": "Please play some music.", "news": "What is the news today?",
         "smalltalk": "Hello, how are you doing today?"}
NEAR_COPY = 0.9  # cosine of a prototype to a held-out corpus sentence at which it counts as a copy (the closest
# shipped pair, "Start a countdown." ~ "Start a countdown of one hour.", is 0.89)


def test_embedding_backend_classifies_each_default_intent(resident_pipeline: Pipeline) -> None:
    interpreter = resident_pipeline.golems["interpreter"]
    results = interpreter.run([IntentRequest.create(text) for text in CLEAN.values()])
    assert [r.label for r in results] == list(CLEAN)
    gate = GatePolicy.of(interpreter.settings)
    for result in results:
        assert result.score >= gate.min_intent_score and result.margin >= gate.min_intent_margin
        assert check_intent(result, gate) is None
        assert result.scores == sorted(result.scores, reverse=True)
        assert len(result.labels) == len(DEFAULT_LABELS)


def test_embedding_scores_garbage_below_the_gate(resident_pipeline: Pipeline) -> None:
    interpreter = resident_pipeline.golems["interpreter"]
    [garbage] = interpreter.run([IntentRequest.create("Tell me, Ray, this dude's head, right?")])
    assert garbage.score < GatePolicy.of(interpreter.settings).min_intent_score


def test_custom_labels(resident_pipeline: Pipeline) -> None:
    interpreter = resident_pipeline.golems["interpreter"]
    [result] = interpreter.run([IntentRequest.create("Turn off the kitchen lights", ["lights", "music"])])
    assert result.labels == ["lights", "music"]
    assert result.none_score is None  # the caller's own labels: a closed set


def test_open_set_refuses_requests_no_intent_serves(resident_pipeline: Pipeline) -> None:
    """A request for none of the five intents is closer to the background than to its best label, and the
    gate says so with the unchanged reason code; an in-domain request clears the same check."""
    interpreter = resident_pipeline.golems["interpreter"]
    gate = GatePolicy.of(interpreter.settings)
    assert gate.min_open_set_margin is not None  # the embedding backend is open-set
    off, inside = interpreter.run([IntentRequest.create("Send a text to my sister saying I'll be late."),
                                   IntentRequest.create("Will it be sunny on Sunday?")])
    assert off.none_score is not None and off.none_score > off.score
    rejection = check_intent(off, gate)
    assert rejection is not None and rejection.reason == "low_intent_score"
    assert "none of these" in rejection.detail or "matches no known intent" in rejection.detail
    assert inside.label == "weather" and check_intent(inside, gate) is None


def test_custom_labels_are_a_closed_set_and_shipped_ones_open(resident_pipeline: Pipeline) -> None:
    """The background describes what the shipped intents do not serve: a caller's own labels define their own
    domain (no "none" score), a subset of the shipped labels keeps it."""
    interpreter = resident_pipeline.golems["interpreter"]
    text = "Give me directions to the museum."
    default, custom, subset = interpreter.run([IntentRequest.create(text), IntentRequest.create(text, ["navigation",
                                                                                                      "music"]),
                                               IntentRequest.create(text, ["weather", "music"])])
    assert default.open_set_margin is not None and default.open_set_margin < 0  # a background sentence itself
    assert custom.label == "navigation" and custom.none_score is None
    gate = GatePolicy.of(interpreter.settings)
    assert check_intent(custom, gate) is None or custom.score < gate.min_intent_score
    assert subset.none_score == default.none_score


def test_nli_backend_scores_all_hypotheses_in_one_forward_pass(tiny_nli_dir: Path) -> None:
    settings = Settings().with_overrides(interpreter_model=str(tiny_nli_dir), interpreter_backend="nli")
    interpreter = Interpreter(settings)
    interpreter.load()
    backend = interpreter._backend
    assert isinstance(backend, NLIInterpreter)
    assert backend.entailment_id == 2
    requests = [IntentRequest.create(text) for text in CLEAN.values()]
    results = interpreter.run(requests)
    assert backend.forward_passes == 1  # 5 requests × 5 labels = 25 pairs, one pass
    for result in results:
        assert sum(result.scores) == pytest.approx(1.0, abs=1e-3)  # softmax over labels
        assert result.margin == pytest.approx(result.scores[0] - result.scores[1], abs=1e-3)
    gate = GatePolicy.of(settings)  # softmax scores: the NLI calibration, and no open-set check
    assert gate.min_intent_margin == CALIBRATED_INTENT_GATES["nli"].min_intent_margin
    assert gate.min_intent_margin != CALIBRATED_INTENT_GATES["embedding"].min_intent_margin
    assert gate.min_open_set_margin is None
    interpreter.unload()


def test_nli_model_without_entailment_label_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no entailment label"):
        NLIInterpreter._entailment_id({"positive": 0, "negative": 1})


@pytest.mark.parametrize(("instance", "message"), [
    ({"text": ""}, "non-empty string"),
    ({"text": 5}, "non-empty string"),
    ({"text": "hi", "labels": "weather"}, "list of strings"),
    ({"text": "hi", "labels": []}, "at least 2"),
    ({"text": "hi", "labels": ["a"]}, "at least 2"),
    ({"text": "hi", "labels": [f"l{i}" for i in range(MAX_LABELS + 1)]}, "exceeds the limit"),
    ({"text": "hi", "labels": ["a", "a"]}, "unique"),
    ({"text": "hi", "labels": ["a", "  "]}, "non-blank"),
    ({"text": "x" * 5000}, "limit is 2000"),
    ({"text": "hi", "mood": "happy"}, "unexpected fields"),
    (["hi"], "must be an object"),
])
def test_bad_requests_name_the_problem(instance: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_instance("interpreter", instance, Settings())


def test_int8_reports_what_it_really_holds() -> None:
    """Dynamically quantized Linear layers keep their weights in packed int8, not in parameters: they count."""
    sizes = {}
    for dtype in ("fp32", "int8"):
        golem = Interpreter(Settings().with_overrides(dtype=dtype, interpreter_backend="embedding"))  # torch's int8
        golem.load()
        sizes[dtype] = golem.memory_bytes()
        golem.unload()
    assert 0.3 * sizes["fp32"] < sizes["int8"] < 0.9 * sizes["fp32"]


def _prototypes() -> list[str]:
    return [*(p for label in DEFAULT_LABELS for p in label.prototypes), *BACKGROUND]


def test_no_prototype_is_a_gating_corpus_sentence() -> None:
    """The held-out gating report must measure phrasings the Interpreter never saw: a label example that is also a
    corpus sentence would score 1.0 against itself ("Nice to meet you." once was both)."""
    corpus = {tuple(normalise(t)) for split in SPLITS for t in phrasings(split)}
    assert not [p for p in _prototypes() if tuple(normalise(p)) in corpus]


def test_no_prototype_is_a_near_copy_of_a_held_out_sentence(resident_pipeline: Pipeline) -> None:
    """Exact matches are not the only leak: a paraphrase the encoder can hardly tell apart is one too."""
    import torch

    backend = resident_pipeline.golems["interpreter"]._backend
    held_out = sorted(phrasings("heldout"))
    with torch.inference_mode():
        prototypes = backend._embed(_prototypes())  # type: ignore[union-attr]
        sentences = backend._embed(held_out)  # type: ignore[union-attr]
    closest = (prototypes @ sentences.T).max(dim=1)
    near = [(p, held_out[int(i)], round(float(v), 3)) for p, v, i in
            zip(_prototypes(), closest.values, closest.indices, strict=True) if v >= NEAR_COPY]
    assert not near
