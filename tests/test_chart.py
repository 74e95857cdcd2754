"""The Helm chart, rendered and linted by real Helm (helm-python-sdk, Helm's Go library), every document validated
against Kubernetes and CRD schemas, and the security posture checked on the generated manifests."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from golemline_operator.builders import build_inference_services
from tests.k8s_schemas import pod_of, validate

CHART = Path(__file__).resolve().parents[1] / "charts" / "golemline"
EXAMPLES: dict[str, dict[str, Any]] = {"default": {}}
EXAMPLES.update({p.stem: yaml.safe_load(p.read_text()) for p in sorted((CHART / "examples").glob("*.yaml"))})


@cache
def _render_cached(key: str) -> tuple[dict[str, Any], ...]:
    return tuple(render(EXAMPLES[key]))


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    files = helm_python.Chart.load(str(CHART)).render(values, name="golems", namespace="ml")
    docs = []
    for path, text in files.items():
        if path.endswith(".txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def kinds(docs: list[dict[str, Any]] | tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_examples_exist() -> None:
    assert {"gpu-pool", "monolith"} <= set(EXAMPLES)


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_helm_lint_reports_no_errors_or_warnings(example: str) -> None:
    report = helm_python.lint(str(CHART), EXAMPLES[example], strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_every_rendered_document_validates(example: str) -> None:
    docs = _render_cached(example)
    assert kinds(docs, "GolemPipeline") and kinds(docs, "Deployment")
    for doc in docs:
        validate(doc)


def test_crd_is_a_valid_kubernetes_object() -> None:
    validate(yaml.safe_load((CHART / "crds" / "golemline.io_golempipelines.yaml").read_text()))


@pytest.mark.parametrize("example", ["gpu-pool", "monolith"])
def test_operator_manifests_from_the_examples_run_on_the_gpu_pool(example: str) -> None:
    [pipeline] = kinds(_render_cached(example), "GolemPipeline")
    pipeline["metadata"]["uid"] = "uid-from-the-api-server"
    services = build_inference_services(pipeline)
    assert len(services) == (4 if example == "gpu-pool" else 1)
    for isvc in services:
        validate(isvc)  # the autoScaling block included: against the KServe CRD's schema
        predictor = isvc["spec"]["predictor"]
        validate(pod_of(predictor))
        [metric] = predictor["autoScaling"]["metrics"]  # every example workload scales on its own signal
        assert metric["type"] == "External" and metric["external"]["metric"]["backend"] == "prometheus"
        assert isvc["metadata"]["name"] in metric["external"]["metric"]["query"]
        assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "keda"
        if isvc["metadata"]["labels"]["app.kubernetes.io/component"] == "transformer":
            continue
        limits = predictor["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == 1
        assert predictor["nodeSelector"]["node-pool"].startswith("gpu-")
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor["tolerations"]
        assert predictor["securityContext"]["runAsNonRoot"] is True


def _pod_specs(docs: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    specs = [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet")]
    return specs + [d["spec"] for d in docs if d["kind"] == "Pod"]


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_every_pod_is_restricted(example: str) -> None:
    specs = _pod_specs(_render_cached(example))
    assert len(specs) >= 2  # the operator and the helm test pod
    for spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"]["drop"] == ["ALL"]
            assert "privileged" not in security


def test_rbac_is_least_privilege() -> None:
    [role] = kinds(_render_cached("default"), "ClusterRole")
    for rule in role["rules"]:
        for field in ("verbs", "resources", "apiGroups"):
            assert "*" not in rule[field], rule
    verbs = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert verbs[("serving.kserve.io", "inferenceservices")] >= {"create", "patch", "delete"}
    assert "delete" not in verbs[("golemline.io", "golempipelines")]
    assert not any(r in ("secrets", "pods", "pods/exec") for (_, r) in verbs)


def test_network_policies_let_only_the_transformer_call_the_golems() -> None:
    policies = {p["metadata"]["name"]: p for p in kinds(_render_cached("default"), "NetworkPolicy")}
    golems = policies["golems-golemline-golems"]["spec"]
    transformer_rule = golems["ingress"][0]["from"]
    assert transformer_rule == [{"podSelector": {"matchLabels": {"golemline.io/pipeline": "golems-golemline",
                                                                  "golemline.io/component": "transformer"}}}]
    assert {p["port"] for p in golems["ingress"][0]["ports"]} == {8080, 8081}  # REST and gRPC, where REST is
    assert policies["golems-golemline-operator"]["spec"]["ingress"] == []


@pytest.mark.parametrize(("values", "kind"), [
    ({"networkPolicy": {"enabled": False}}, "NetworkPolicy"),
    ({"monitoring": {"podMonitor": {"enabled": False}}}, "PodMonitor"),
    ({"monitoring": {"prometheusRule": {"enabled": False}}}, "PrometheusRule"),
    ({"operator": {"enabled": False}}, "Deployment"),
    ({"pipeline": {"enabled": False}}, "GolemPipeline"),
])
def test_toggles_remove_what_they_guard(values: dict[str, Any], kind: str) -> None:
    assert kinds(render(values), kind) == []


def test_monitoring_objects_render_when_enabled() -> None:
    docs = _render_cached("gpu-pool")
    [monitor] = kinds(docs, "PodMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    [rule] = kinds(docs, "PrometheusRule")
    names = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r}
    assert {"GolemlinePipelineLatencyHigh", "GolemlineRejectionSpike", "GolemlineQueueSaturated",
            "GolemlineModelLoadFailures", "GolemlineGPUAllocatedButIdle"} <= names
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    latency = alerts["GolemlinePipelineLatencyHigh"]
    assert latency["expr"].endswith("> 5")  # the value from values.yaml


def test_dashboards_ship_as_sidecar_configmaps() -> None:
    maps = [d for d in _render_cached("default") if d["kind"] == "ConfigMap"]
    assert {m["metadata"]["name"] for m in maps} == {
        "golems-golemline-dashboard-pipeline", "golems-golemline-dashboard-gpu", "golems-golemline-dashboard-cost",
        "golems-golemline-dashboard-quality"}
    assert all(m["metadata"]["labels"]["grafana_dashboard"] == "1" for m in maps)


def test_values_schema_rejects_typos() -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render({"operatr": {"enabled": False}})
    with pytest.raises(helm_python.HelmValuesError):
        render({"pipeline": {"spec": {"mode": "distributed"}}})


@pytest.mark.parametrize("workload", [{"transformer": {"probes": {"startup": {"period": 5}}}},
                                      {"golems": {"scribe": {"shutdown": {"drainSeconds": -1}}}},
                                      {"monolith": {"shutdown": {"preStop": 5}}}, {"stageTimeoutS": 0}])
def test_values_schema_rejects_a_bad_probe_or_shutdown_value(workload: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render({"pipeline": {"spec": workload}})


def test_the_default_pipeline_sets_the_probe_and_shutdown_defaults_the_operator_uses() -> None:
    """values.yaml shows the defaults; they must be the operator's own, or the documentation lies."""
    from golemline_operator.builders import PROBE_DEFAULTS, SHUTDOWN_DEFAULTS, STAGE_TIMEOUT_S

    [pipeline] = kinds(_render_cached("default"), "GolemPipeline")
    transformer = pipeline["spec"]["transformer"]
    assert transformer["probes"] == PROBE_DEFAULTS and transformer["shutdown"] == SHUTDOWN_DEFAULTS
    assert pipeline["spec"]["stageTimeoutS"] == STAGE_TIMEOUT_S


def test_helm_test_hook_and_notes() -> None:
    files = helm_python.Chart.load(str(CHART)).render({}, name="golems", namespace="ml")
    notes = files["golemline/templates/NOTES.txt"]
    assert "v1/models/pipeline:predict" in notes and "helm test golems" in notes
    [test_pod] = [d for d in _render_cached("default") if d["kind"] == "Pod"]
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert "golemline.serving.probe" in test_pod["spec"]["containers"][0]["command"]


def test_every_value_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w-]*):", line)
        if not match or len(match.group(1)) > 4:
            continue
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        if not previous.strip().startswith("#"):
            undocumented.append(line.strip())
    assert undocumented == []


@pytest.mark.parametrize("example", [name for name in EXAMPLES if name != "default"])
def test_an_example_that_sets_thresholds_sets_the_shipped_calibration(example: str) -> None:
    """Examples are copied: a threshold they pin must be the calibrated one (docs/gating.yaml), not last release's."""
    shipped = yaml.safe_load((CHART.parents[1] / "docs" / "gating.yaml").read_text())["pipeline"]["spec"]["gating"]
    pinned = EXAMPLES[example].get("pipeline", {}).get("spec", {}).get("gating", {})
    assert {name: shipped[name] for name in pinned} == pinned


# -- the Oracle as an OpenAI-compatible server (docs/oracle.md) ---------------------------------------------------
def _oracle_env(values: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Render `values`, reconcile the GolemPipeline as the operator would; → (its spec, every InferenceService the
    chart and the operator produce, the oracle golem's environment)."""
    docs = render(values)
    [pipeline] = kinds(docs, "GolemPipeline")
    pipeline["metadata"]["uid"] = "uid-from-the-api-server"
    services = [*kinds(docs, "InferenceService"), *build_inference_services(pipeline)]
    for doc in [pipeline, *services]:
        validate(doc)
    [oracle] = [s for s in services if s["metadata"]["name"].endswith("-oracle")]
    return pipeline["spec"], services, {e["name"]: e for e in oracle["spec"]["predictor"]["containers"][0]["env"]}


def test_the_oracle_can_be_an_external_endpoint() -> None:
    from golemline.settings import Settings

    values = {"oracle": {"url": "http://vllm.llm.svc:8000/v1", "model": "meta-llama/Llama-3.2-1B-Instruct",
                         "apiKeySecret": "llm-key", "timeoutS": 12, "retries": 1}}
    spec, services, env = _oracle_env(values)
    assert spec["oracleApi"] == {"url": "http://vllm.llm.svc:8000/v1", "model": "meta-llama/Llama-3.2-1B-Instruct",
                                 "apiKeySecret": "llm-key", "timeoutS": 12, "retries": 1}
    assert env["GOLEM_ORACLE_API_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "llm-key", "key": "apiKey"}}
    plain = {name: e["value"] for name, e in env.items() if "value" in e and name.startswith("GOLEM_")}
    settings = Settings.from_env({**plain, "GOLEM_ORACLE_API_KEY": "sk-from-the-secret"})
    assert (settings.golems["oracle"].backend, settings.golems["oracle"].model) == \
        ("openai", "meta-llama/Llama-3.2-1B-Instruct")
    assert (settings.oracle_api_url, settings.oracle_api_timeout_s, settings.oracle_api_retries) == \
        ("http://vllm.llm.svc:8000/v1", 12.0, 1)
    [oracle] = [s for s in services if s["metadata"]["name"].endswith("-oracle")]
    limits = oracle["spec"]["predictor"]["containers"][0]["resources"]["limits"]
    assert not any(name.endswith("/gpu") for name in limits)  # a client of the LLM server needs no GPU
    assert not [s for s in services if s["metadata"]["name"].endswith("-oracle-llm")]
    assert "GOLEM_ORACLE_API_URL" not in str(_oracle_env({})[2])  # without oracle values, today's Oracle


def test_the_oracle_can_be_an_inference_service_of_the_hugging_face_runtime_on_a_gpu_pool() -> None:
    spec, services, env = _oracle_env(EXAMPLES["llm-oracle"])
    [llm] = [s for s in services if s["metadata"]["name"].endswith("-oracle-llm")]
    predictor = llm["spec"]["predictor"]
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "huggingface"}
    assert model["storageUri"] == "hf://Qwen/Qwen2.5-0.5B-Instruct"
    assert model["args"][0] == "--model_name=qwen2-5-0-5b-instruct"
    assert model["resources"]["limits"]["nvidia.com/gpu"] == 1 == model["resources"]["requests"]["nvidia.com/gpu"]
    assert predictor["nodeSelector"] == {"node-pool": "gpu-l4"}
    assert spec["oracleApi"]["url"] == \
        f"http://{llm['metadata']['name']}-predictor.ml.svc.cluster.local/openai/v1"
    assert env["GOLEM_ORACLE_API_URL"]["value"] == spec["oracleApi"]["url"]
    assert env["GOLEM_ORACLE_BACKEND"]["value"] == "openai" and "GOLEM_ORACLE_API_KEY" not in env


def test_an_oracle_endpoint_without_a_model_name_is_refused() -> None:
    with pytest.raises(Exception, match="oracle.model is required"):
        render({"oracle": {"url": "http://vllm.llm.svc:8000/v1"}})
    with pytest.raises(helm_python.HelmValuesError):
        render({"oracle": {"url": "vllm:8000", "model": "m"}})  # not an http(s) URL


def test_a_monolith_passes_the_oracle_endpoint_to_its_one_pod() -> None:
    from golemline.settings import Settings

    body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
            "metadata": {"name": "p", "namespace": "ml", "uid": "u"},
            "spec": {"mode": "monolith", "oracleApi": {"url": "http://llm:8000/v1", "model": "m",
                                                       "apiKeySecret": "llm-key"}}}
    validate(body)
    [isvc] = build_inference_services(body)
    validate(isvc)
    env = {e["name"]: e for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
    assert env["GOLEM_ORACLE_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "llm-key", "key": "apiKey"}
    settings = Settings.from_env({k: e["value"] for k, e in env.items() if k.startswith("GOLEM_") and "value" in e})
    assert (settings.golems["oracle"].backend, settings.oracle_api_url) == ("openai", "http://llm:8000/v1")
    body["spec"]["oracleApi"] = {"url": "http://llm:8000/v1"}  # no model: the CRD refuses it
    with pytest.raises(Exception, match="model"):
        validate(body)


# -- capture for labelling (docs/calibration.md): values → spec.capture → the transformer's settings --------------
def test_capture_is_off_unless_enabled() -> None:
    [pipeline] = kinds(_render_cached("default"), "GolemPipeline")
    assert "capture" not in pipeline["spec"]


@pytest.mark.parametrize(("values", "spec"), [
    ({"persistentVolumeClaim": "labels", "rate": 0.5, "verdicts": ["rejected:interpreter"], "maxFiles": 200,
      "maxBytes": 104857600, "logTranscripts": True},
     {"persistentVolumeClaim": "labels", "rate": 0.5, "verdicts": ["rejected:interpreter"], "maxFiles": 200,
      "maxBytes": 104857600, "logTranscripts": True}),
    ({"url": "s3://labelling/golems"}, {"url": "s3://labelling/golems"}),
    ({}, {}),  # an emptyDir and golemline's defaults
], ids=["pvc", "object-store", "defaults"])
def test_capture_values_reach_the_transformer(values: dict[str, Any], spec: dict[str, Any]) -> None:
    from golemline.settings import Settings

    docs = render({"capture": {"enabled": True, **values}})
    [pipeline] = kinds(docs, "GolemPipeline")
    assert pipeline["spec"]["capture"] == spec
    validate(pipeline)
    pipeline["metadata"]["uid"] = "uid-from-the-api-server"
    [transformer] = [s for s in build_inference_services(pipeline) if s["metadata"]["name"].endswith("-pipeline")]
    validate(transformer)
    validate(pod_of(transformer["spec"]["predictor"]))
    [container] = transformer["spec"]["predictor"]["containers"]
    settings = Settings.from_env({e["name"]: e["value"] for e in container["env"]
                                  if e["name"].startswith("GOLEM_") and "value" in e})
    assert settings.capture_dir == spec.get("url", "/var/lib/golemline/capture")
    assert settings.capture_rate == spec.get("rate", Settings().capture_rate)
    assert settings.capture_max_bytes == spec.get("maxBytes", Settings().capture_max_bytes)
    assert settings.server.log_transcripts is spec.get("logTranscripts", False)


@pytest.mark.parametrize("bad", [{"rate": 0}, {"rate": 2}, {"verdicts": ["maybe"]}, {"maxFiles": 0},
                                 {"url": "labelling/golems"}, {"dir": "/data"}])
def test_values_schema_rejects_a_bad_capture_value(bad: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render({"capture": {"enabled": True, **bad}})


def test_capture_to_an_object_store_and_a_volume_at_once_is_refused() -> None:
    with pytest.raises(Exception, match="give one"):
        render({"capture": {"enabled": True, "url": "s3://labelling/golems", "persistentVolumeClaim": "labels"}})
