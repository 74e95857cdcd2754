"""Helm values → CRD spec → GOLEM_* environment → Settings: every surface agrees with the settings dataclasses."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from golemline.cli import build_parser
from golemline.settings import ENV_NAMES, OPTIONS, GatingPolicy, ServerSettings, Settings
from golemline_operator.builders import build_inference_services, env_name

ROOT = Path(__file__).resolve().parents[1]
CRD = ROOT / "charts" / "golemline" / "crds" / "golemline.io_golempipelines.yaml"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]  # type: ignore[no-any-return]


def test_the_crd_gating_section_has_every_threshold_and_nothing_else() -> None:
    assert set(_spec_schema()["gating"]["properties"]) == {_camel(f.name) for f in fields(GatingPolicy)}


def test_the_crd_scribe_section_is_the_scribe_settings() -> None:
    assert {f"scribe_{re.sub(r'(?<!^)(?=[A-Z])', '_', p).lower()}" for p in _spec_schema()["scribe"]["properties"]} \
        == {f.name for f in fields(Settings) if f.name.startswith("scribe_")}


def test_every_batching_property_is_a_server_setting() -> None:
    server = {_camel(f.name) for f in fields(ServerSettings)}
    assert set(_spec_schema()["batching"]["properties"]) <= server
    assert {f"canary{p[0].upper()}{p[1:]}" for p in _spec_schema()["canary"]["properties"]} <= server


def test_every_crd_capture_property_is_a_capture_setting() -> None:
    """The capture settings' own values (where aside: url or a volume) reach the pod under the settings' names."""
    from golemline_operator.capture import DEFAULT_MAX_BYTES, ENV

    where = {"url", "persistentVolumeClaim"}
    assert set(_spec_schema()["capture"]["properties"]) - where == set(ENV)
    by_env = {o.env: o.key for o in OPTIONS}
    assert {prop: by_env[env] for prop, env in ENV.items()} == {
        "rate": "capture_rate", "verdicts": "capture_verdicts", "maxFiles": "capture_max_files",
        "maxBytes": "capture_max_bytes", "logTranscripts": "log_transcripts"}
    assert Settings().capture_max_bytes == DEFAULT_MAX_BYTES  # the operator sizes the emptyDir by golemline's cap


@pytest.mark.parametrize(("section", "prop", "env"), [
    ("gating", "minRmsDbfs", "GOLEM_GATE_MIN_RMS_DBFS"),
    ("gating", "maxReplyCompressionRatio", "GOLEM_GATE_MAX_REPLY_COMPRESSION_RATIO"),
    ("batching", "maxBatchSize", "GOLEM_MAX_BATCH_SIZE"),
    ("canary", "intervalS", "GOLEM_CANARY_INTERVAL_S"),
])
def test_the_operator_naming_rule(section: str, prop: str, env: str) -> None:
    assert env_name(section, prop) == env


def _full_spec() -> dict[str, Any]:
    """A spec that sets every gating threshold and batching value the CRD knows."""
    schema = _spec_schema()
    gating = {name: 1 if schema["gating"]["properties"][name].get("type") == "integer"
              else -0.5 if "Logprob" in name else 0.5  # log-probabilities are 0 or below (settings refuse others)
              for name in schema["gating"]["properties"]}
    batching = {name: 16 for name in schema["batching"]["properties"]}
    return {"gating": gating, "batching": batching, "canary": {"intervalS": 60},
            "scribe": {"windowsS": [8, 15, 30], "vadTrim": False, "prompt": "Dim the lights. Lock the door."},
            "lifecycle": {"policy": "lru", "budget": "2GiB"},
            "capture": {"url": "memory://captured", "rate": 0.5, "verdicts": ["rejected:scribe", "accepted"],
                        "maxFiles": 10, "maxBytes": 4096, "logTranscripts": True},
            "gpuHourlyPrice": 2.5, "golems": {g: {"model": f"/models/{g}", "backend": b, "dtype": "fp16"}
                                               for g, b in (("scribe", "transformers"), ("interpreter", "nli"),
                                                            ("oracle", "causal-lm"))}}


@pytest.mark.parametrize("mode", ["microservices", "monolith"])
def test_every_environment_value_the_operator_writes_is_read_by_settings(mode: str) -> None:
    body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
            "metadata": {"name": "p", "namespace": "ml", "uid": "u"}, "spec": {**_full_spec(), "mode": mode}}
    for isvc in build_inference_services(body):
        env = {e["name"]: e["value"] for e in isvc["spec"]["predictor"]["containers"][0]["env"] if "value" in e}
        golem_env = {k: v for k, v in env.items() if k.startswith("GOLEM_")}
        assert set(golem_env) <= ENV_NAMES, set(golem_env) - ENV_NAMES
        settings = Settings.from_env(golem_env)  # parses every value through the typed path: no error
        if "GOLEM_GATE_MIN_WORDS" in golem_env:
            assert settings.gating.min_words == 1 and settings.gating.max_reply_compression_ratio == 0.5
        assert settings.scribe_windows_s == (8.0, 15.0, 30.0) and settings.scribe_vad_trim is False
        assert settings.scribe_prompt == "Dim the lights. Lock the door."
        if isvc["metadata"]["labels"]["app.kubernetes.io/component"] in ("transformer", "monolith"):
            assert (settings.capture_dir, settings.capture_rate, settings.capture_verdicts,
                    settings.capture_max_files, settings.capture_max_bytes, settings.server.log_transcripts) == \
                ("memory://captured", 0.5, "rejected:scribe,accepted", 10, 4096, True)


def test_one_gpu_decision_for_device_and_dtype() -> None:
    """An AMD GPU is a GPU: the device and the default dtype follow the same decision."""
    body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
            "metadata": {"name": "p", "namespace": "ml", "uid": "u"},
            "spec": {"mode": "monolith", "monolith": {"gpu": {"count": 1, "resourceName": "amd.com/gpu"}}}}
    [isvc] = build_inference_services(body)
    env = {e["name"]: e.get("value") for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
    assert (env["GOLEM_DEVICE"], env["GOLEM_DTYPE"]) == ("cuda", "fp16")
    body["spec"]["monolith"]["gpu"]["count"] = 0
    [isvc] = build_inference_services(body)
    env = {e["name"]: e.get("value") for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
    assert (env["GOLEM_DEVICE"], env["GOLEM_DTYPE"]) == ("cpu", "int8")


def test_cli_flags_are_the_settings_options() -> None:
    """`golem serve` offers a flag for every option that has one, named after its setting."""
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    flags = {flag for action in serve._actions for flag in action.option_strings}
    assert {o.flag for o in OPTIONS if o.flag} <= flags


PASS_THROUGH = {
    "golemline/bench/loopback.py": "hands this process's environment to the servers it starts",
    "golemline/cli.py": "sets TOKENIZERS_PARALLELISM for the tokenizers library, which reads it itself",
    "operator/golemline_operator/client.py": "reads KUBECONFIG, the Kubernetes convention, as the client would",
}


def test_nothing_but_settings_reads_the_environment() -> None:
    users = [str(p.relative_to(ROOT)) for p in (*ROOT.glob("golemline/**/*.py"), *ROOT.glob("operator/**/*.py"))
             if re.search(r"os\.environ|os\.getenv", p.read_text())]
    assert sorted(users) == sorted(["golemline/settings.py", *PASS_THROUGH])
