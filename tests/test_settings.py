"""One typed settings object: flags > environment > profile defaults; invalid values fail with a clear message."""

from __future__ import annotations

import pytest

from golemline.cli import build_parser, settings_from_args
from golemline.errors import ConfigError
from golemline.settings import PROFILES, Settings, parse_size


def test_offline_profile_is_the_default_and_uses_bundled_packages() -> None:
    settings = Settings()
    assert settings.profile == "offline"
    assert all(spec.model.startswith("package:") for spec in settings.golems.values())


def test_mission_profile_selects_the_hub_models() -> None:
    golems = Settings.for_profile("mission").golems
    assert golems["scribe"].model == "openai/whisper-tiny"
    assert golems["interpreter"].model == "valhalla/distilbart-mnli-12-3"
    assert golems["oracle"].model == "distilgpt2"


def test_environment_overrides_defaults() -> None:
    settings = Settings.from_env({"GOLEM_POLICY": "lru", "GOLEM_BUDGET": "300MiB",
                                  "GOLEM_ORACLE_MODEL": "/mnt/models", "GOLEM_GATE_MAX_NO_SPEECH_PROB": "0.7"})
    assert settings.policy == "lru"
    assert settings.budget_bytes == 300 * 1024**2
    assert settings.golems["oracle"].model == "/mnt/models"
    assert settings.golems["oracle"].backend == "ctranslate2"
    assert settings.gating.max_no_speech_prob == 0.7


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLEM_POLICY", "lru")
    args = build_parser().parse_args(["run", "x.wav", "--policy", "sequential", "--profile", "mission"])
    settings = settings_from_args(args)
    assert settings.policy == "sequential"
    assert settings.golems == PROFILES["mission"]


@pytest.mark.parametrize(("text", "size"), [("2048", 2048), ("300MiB", 300 * 1024**2), ("1.5GB", 1_500_000_000),
                                            ("64 kib", 65536)])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("values", [{"policy": "greedy"}, {"dtype": "fp8"}, {"device": "tpu"},
                                    {"max_new_tokens": 10_000}, {"budget": "lots"}, {"scribe_backend": "nope"}])
def test_invalid_settings_name_the_problem(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Settings().with_overrides(**values)


def test_unknown_gating_threshold_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown gating thresholds: max_vibes"):
        Settings().with_overrides(gating={"max_vibes": "1"})


@pytest.mark.parametrize(("dtype", "device", "expected"), [
    ("auto", "cpu", ("int8", "fp32", "fp32")),  # CTranslate2's int8 kept the WER; torch's dynamic int8 moved intents
    ("auto", "cuda", ("fp16", "fp16", "fp16")),
    ("fp32", "cpu", ("fp32", "fp32", "fp32")),
    ("int8", "cpu", ("int8", "int8", "int8")),
])
def test_auto_dtype_is_resolved_per_golem(dtype: str, device: str, expected: tuple[str, str, str]) -> None:
    from golemline.pipeline import build_golems

    golems = build_golems(Settings().with_overrides(dtype=dtype, device=device))
    assert tuple(golems[name].dtype for name in ("scribe", "interpreter", "oracle")) == expected
