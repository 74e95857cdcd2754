"""The Interpreter's CTranslate2 backend: the same MiniLM weights, converted at load time and mean-pooled here, score
every corpus sentence within 1e-3 of the torch backend and pick the same intent, so the calibrated gate thresholds
(docs/gating.yaml) hold for both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from golemline.bench.backends import corpus_sentences, score_difference
from golemline.domain import IntentRequest
from golemline.errors import ConfigError
from golemline.gating import GatePolicy
from golemline.predictors.interpreter import CTranslate2EmbeddingInterpreter, Interpreter
from golemline.settings import Settings

TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def both() -> Iterator[dict[str, Interpreter]]:
    golems = {b: Interpreter(Settings().with_overrides(interpreter_backend=b)) for b in ("embedding", "embedding-ct2")}
    for golem in golems.values():
        golem.load()
    yield golems
    for golem in golems.values():
        golem.unload()


@pytest.mark.slow
def test_scores_match_the_torch_backend_on_every_corpus_sentence(both: dict[str, Interpreter]) -> None:
    requests = [IntentRequest.create(text) for text in corpus_sentences()]
    torch_results = both["embedding"].run(requests)
    ct2_alone = [both["embedding-ct2"].run([r])[0] for r in requests]
    ct2_batched = both["embedding-ct2"].run(requests)
    for ct2 in (ct2_alone, ct2_batched):
        assert [r.label for r in ct2] == [r.label for r in torch_results]
        differences = [score_difference(a, b) for a, b in zip(torch_results, ct2, strict=True)]
        assert max(differences) <= TOLERANCE, max(differences)
    assert len({r.label for r in torch_results}) > 1  # the comparison spans several intents


@pytest.mark.slow
def test_custom_labels_score_alike(both: dict[str, Interpreter]) -> None:
    request = IntentRequest.create("Turn off the kitchen lights", ["lights", "music"])
    a, b = (both[name].run([request])[0] for name in ("embedding", "embedding-ct2"))
    assert a.label == b.label == "lights" and score_difference(a, b) <= TOLERANCE


def test_the_ct2_backend_gates_with_the_embedding_thresholds() -> None:
    ct2 = GatePolicy.of(Settings().with_overrides(interpreter_backend="embedding-ct2"))
    assert ct2 == GatePolicy.of(Settings().with_overrides(interpreter_backend="embedding"))


def test_a_model_that_does_not_mean_pool_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True,
                                                                     "pooling_mode_mean_tokens": False}))
    backend = CTranslate2EmbeddingInterpreter(tmp_path, Settings())
    with pytest.raises(ConfigError, match="mean pooling only"):
        backend.load()
