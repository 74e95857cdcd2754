"""The operator's pure parts: GolemPipeline → InferenceServices (schema-valid, on GPU pools, restricted) and
status aggregation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from golemline_operator import GOLEMS
from golemline_operator.builders import build_inference_services, names
from golemline_operator.status import aggregate
from tests.k8s_schemas import ROOT, pod_of, validate

POOL = {"cloud.google.com/gke-accelerator": "nvidia-l4"}
TAINT = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
EXAMPLES = ROOT / "charts" / "golemline" / "examples"


def pipeline(spec: dict[str, Any], name: str = "demo") -> dict[str, Any]:
    return {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
            "metadata": {"name": name, "namespace": "ml", "uid": "0000-1111", "generation": 3}, "spec": spec}


def example_spec(file: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / file).read_text())["pipeline"]["spec"]


GPU_POOL = {"mode": "microservices", "gpuHourlyPrice": 2.5,
            "golems": {g: {"gpu": {"count": 1}, "nodeSelector": POOL, "tolerations": TAINT,
                           "minReplicas": 1, "maxReplicas": 3} for g in GOLEMS},
            "gating": {"maxNoSpeechProb": 0.6, "minIntentScore": 0.4}, "batching": {"maxBatchSize": 16}}
MONOLITH = {"mode": "monolith", "monolith": {"gpu": {"count": 1}, "nodeSelector": POOL, "tolerations": TAINT},
            "lifecycle": {"policy": "sequential", "budget": "6GiB"}}


@pytest.mark.parametrize("spec", [GPU_POOL, MONOLITH, {}], ids=["gpu-pool", "monolith", "defaults"])
def test_manifests_validate_against_kserve_and_kubernetes_schemas(spec: dict[str, Any]) -> None:
    validate(pipeline(spec))  # the GolemPipeline itself, against our CRD
    for isvc in build_inference_services(pipeline(spec)):
        validate(isvc)  # KServe's InferenceService CRD schema
        validate(pod_of(isvc["spec"]["predictor"]))  # its pod template, against Kubernetes 1.30


def test_microservices_put_each_golem_on_the_gpu_pool() -> None:
    services = build_inference_services(pipeline(GPU_POOL))
    assert [s["metadata"]["name"] for s in services] == ["demo-scribe", "demo-interpreter", "demo-oracle",
                                                         "demo-pipeline"]
    for isvc in services[:3]:
        predictor = isvc["spec"]["predictor"]
        [container] = predictor["containers"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert predictor["nodeSelector"] == POOL and predictor["tolerations"] == TAINT
        assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 3)
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["GOLEM_DEVICE"] == "cuda" and env["GOLEM_DTYPE"] == "fp16"
        assert env["GOLEM_GATE_MAX_NO_SPEECH_PROB"] == "0.6" and env["GOLEM_MAX_BATCH_SIZE"] == "16"
    transformer = services[3]["spec"]["predictor"]
    [container] = transformer["containers"]
    assert not any(k.startswith("nvidia.com") for k in container["resources"]["limits"])  # no GPU to chain calls
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GOLEM_SCRIBE_URL"] == "http://demo-scribe-predictor.ml.svc.cluster.local"
    assert container["args"][-1] == "--transformer"


def test_every_pod_runs_restricted() -> None:
    for spec in (GPU_POOL, MONOLITH):
        for isvc in build_inference_services(pipeline(spec)):
            predictor = isvc["spec"]["predictor"]
            assert predictor["securityContext"]["runAsNonRoot"] is True
            assert predictor["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            for container in predictor["containers"]:
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False
                assert security["readOnlyRootFilesystem"] is True
                assert security["capabilities"] == {"drop": ["ALL"]}


def test_monolith_is_one_service_with_the_lifecycle_policy() -> None:
    [isvc] = build_inference_services(pipeline(MONOLITH))
    assert isvc["metadata"]["name"] == "demo-monolith"
    env = {e["name"]: e.get("value") for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
    assert env["GOLEM_POLICY"] == "sequential" and env["GOLEM_BUDGET"] == "6GiB"


def test_owner_references_and_labels() -> None:
    for isvc in build_inference_services(pipeline(GPU_POOL)):
        [owner] = isvc["metadata"]["ownerReferences"]
        assert owner == {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline", "name": "demo",
                         "uid": "0000-1111", "controller": True, "blockOwnerDeletion": True}
        assert isvc["metadata"]["labels"]["golemline.io/pipeline"] == "demo"
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"


def test_storage_uri_and_mig_resources() -> None:
    spec = copy.deepcopy(GPU_POOL)
    mig = {"count": 1, "resourceName": "nvidia.com/mig-1g.10gb"}
    spec["golems"]["scribe"].update({"storageUri": "s3://models/whisper", "gpu": mig})
    isvc = build_inference_services(pipeline(spec))[0]
    [container] = isvc["spec"]["predictor"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STORAGE_URI"] == "s3://models/whisper" and env["GOLEM_SCRIBE_MODEL"] == "/mnt/models"
    assert container["resources"]["limits"]["nvidia.com/mig-1g.10gb"] == 1
    assert "nvidia.com/gpu" not in container["resources"]["limits"]


@pytest.mark.parametrize(("resources", "threads"), [
    (None, "1"),  # the operator's default request: 1 CPU
    ({"requests": {"cpu": "500m"}}, "1"),
    ({"requests": {"cpu": "2500m"}}, "3"),
    ({"requests": {"cpu": "1"}, "limits": {"cpu": "4"}}, "4"),  # the limit is what the pod may use
    ({"requests": {"cpu": 2}}, "2")])
def test_inference_threads_follow_the_pods_cpu_not_the_nodes(resources: dict[str, Any] | None, threads: str) -> None:
    from golemline.settings import Settings

    monolith = {"resources": resources} if resources else {}
    [isvc] = build_inference_services(pipeline({"mode": "monolith", "monolith": monolith}))
    env = {e["name"]: e.get("value") for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
    assert env["GOLEM_THREADS"] == threads
    assert Settings.from_env({"GOLEM_THREADS": threads}).threads == int(threads)  # the pod's settings read it


def test_auth_secret_is_referenced_not_copied() -> None:
    isvc = build_inference_services(pipeline({**GPU_POOL, "authSecretName": "golem-token"}))[3]
    [token] = [e for e in isvc["spec"]["predictor"]["containers"][0]["env"] if e["name"] == "GOLEM_AUTH_TOKEN"]
    assert token == {"name": "GOLEM_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "golem-token", "key": "token"}}}


def test_a_typo_in_the_spec_is_rejected_by_the_crd_schema() -> None:
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        validate(pipeline({"mode": "microservices", "golems": {"scribe": {"gpus": 1}}}))
    with pytest.raises(jsonschema.ValidationError):
        validate(pipeline({"mode": "distributed"}))


def _isvc(ready: bool | None, url: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {} if ready is None else {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False", "reason": "x"}]}
    if url:
        status["url"] = url
    return {"metadata": {"name": "n"}, "status": status}


def test_status_is_ready_only_when_every_child_is() -> None:
    children = {"scribe": _isvc(True), "interpreter": _isvc(True), "oracle": _isvc(False), "pipeline": None}
    status = aggregate(3, children, "pipeline")
    ready = status["conditions"][0]
    assert ready["type"] == "Ready" and ready["status"] == "False"
    assert "oracle" in ready["message"] and "pipeline" in ready["message"]
    assert status["observedGeneration"] == 3 and status["url"] is None
    children = {name: _isvc(True, "http://demo-pipeline.ml.example.com" if name == "pipeline" else None)
                for name in ("scribe", "interpreter", "oracle", "pipeline")}
    status = aggregate(4, children, "pipeline")
    assert status["conditions"][0]["status"] == "True"
    assert status["url"] == "http://demo-pipeline.ml.example.com/v1/models/pipeline:predict"
    assert {c["type"] for c in status["conditions"]} == {"Ready", "ScribeReady", "InterpreterReady", "OracleReady",
                                                          "PipelineReady"}


def test_names_are_stable() -> None:
    assert names("x") == {"scribe": "x-scribe", "interpreter": "x-interpreter", "oracle": "x-oracle",
                          "pipeline": "x-pipeline", "monolith": "x-monolith"}


def test_transition_times_change_only_on_transitions() -> None:
    not_ready = {"scribe": _isvc(False)}
    first = aggregate(1, not_ready, "scribe")
    for condition in first["conditions"]:
        condition["lastTransitionTime"] = "2026-01-01T00:00:00+00:00"
    again = aggregate(1, not_ready, "scribe", first["conditions"])
    assert again["conditions"] == first["conditions"]  # unchanged status: identical, no churn
    ready = aggregate(2, {"scribe": _isvc(True)}, "scribe", first["conditions"])
    assert all(c["lastTransitionTime"] != "2026-01-01T00:00:00+00:00" for c in ready["conditions"])


def test_every_predictor_exposes_rest_and_grpc() -> None:
    body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
            "metadata": {"name": "p", "namespace": "ml", "uid": "u"}, "spec": {}}
    for isvc in build_inference_services(body):
        [container] = isvc["spec"]["predictor"]["containers"]
        assert {(p["name"], p["containerPort"]) for p in container["ports"]} == {("http1", 8080), ("h2c", 8081)}
        assert container["args"][container["args"].index("--grpc-port") + 1] == "8081"
        validate(isvc)


@pytest.mark.parametrize(("metric", "query", "target"), [
    ("queueDepth", 'sum(golemline_queue_depth{namespace="ml", pod=~"p-scribe-predictor-.*"})', {"type": "AverageValue",
                                                                                                "averageValue": "4"}),
    ("requestRate", 'sum(rate(golemline_requests_total{namespace="ml", pod=~"p-scribe-predictor-.*"}[1m]))',
     {"type": "AverageValue", "averageValue": "4"}),
    ("gpuUtilization", 'avg(DCGM_FI_DEV_GPU_UTIL{namespace="ml", pod=~"p-scribe-predictor-.*"})',
     {"type": "Value", "value": "4"}),
])
def test_a_golem_scales_on_its_own_signal(metric: str, query: str, target: dict[str, str]) -> None:
    body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
            "metadata": {"name": "p", "namespace": "ml", "uid": "u"},
            "spec": {"golems": {"scribe": {"minReplicas": 0, "maxReplicas": 5,
                                           "autoscaling": {"metric": metric, "target": 4,
                                                           "scaleDownStabilizationSeconds": 60}}}}}
    validate(body)
    scribe, interpreter, *_ = build_inference_services(body)
    validate(scribe)
    scaling = scribe["spec"]["predictor"]["autoScaling"]
    [external] = [m["external"] for m in scaling["metrics"]]
    assert external["metric"]["query"] == query and external["target"] == target
    assert external["metric"]["serverAddress"] == "http://prometheus-operated.monitoring.svc:9090"
    assert scaling["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert scribe["spec"]["predictor"]["minReplicas"] == 0  # scale to zero with Serverless
    assert "autoScaling" not in interpreter["spec"]["predictor"]  # only where asked


def _container_and_pod(isvc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    predictor = isvc["spec"]["predictor"]
    [container] = predictor["containers"]
    return container, predictor


@pytest.mark.parametrize("spec", [GPU_POOL, MONOLITH, {}], ids=["gpu-pool", "monolith", "defaults"])
def test_every_inference_service_has_probes_a_prestop_and_a_grace_period_that_covers_the_drain(
        spec: dict[str, Any]) -> None:
    for isvc in build_inference_services(pipeline(spec)):
        component = isvc["metadata"]["labels"]["app.kubernetes.io/component"]
        container, predictor = _container_and_pod(isvc)
        model = component if component in GOLEMS else "pipeline"
        assert container["readinessProbe"]["httpGet"] == {"path": f"/v2/models/{model}/ready", "port": 8080}
        assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8080}
        startup = container["startupProbe"]
        # weights load behind the startup probe: five minutes before the kubelet restarts a golem
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
        assert startup["httpGet"]["path"] == ("/v2/health/live" if component == "transformer"
                                              else f"/v2/models/{model}/ready")
        assert container["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "5"]}}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["GOLEM_DRAIN_S"] == "5"
        # preStop 5 + drain 5 + in-flight (the 30 s stage timeout; three stages for a pipeline request) + 5
        assert predictor["terminationGracePeriodSeconds"] == (45 if component in GOLEMS else 105)
        validate(isvc)
        validate(pod_of(predictor))


def test_probes_and_shutdown_are_overridable_per_workload() -> None:
    spec = {"stageTimeoutS": 10,
            "golems": {"scribe": {"probes": {"startup": {"failureThreshold": 200, "periodSeconds": 3},
                                             "readiness": {"periodSeconds": 2}},
                                  "shutdown": {"preStopSleepSeconds": 0, "drainSeconds": 2.5}},
                       "oracle": {"shutdown": {"terminationGracePeriodSeconds": 600}}},
            "transformer": {"probes": {"liveness": {"timeoutSeconds": 9, "initialDelaySeconds": 4}}}}
    validate(pipeline(spec))
    scribe, interpreter, oracle, transformer = build_inference_services(pipeline(spec))
    container, predictor = _container_and_pod(scribe)
    assert (container["startupProbe"]["failureThreshold"], container["startupProbe"]["periodSeconds"]) == (200, 3)
    assert container["readinessProbe"]["periodSeconds"] == 2 and container["readinessProbe"]["failureThreshold"] == 1
    assert "lifecycle" not in container  # preStop 0: none
    assert {e["name"]: e.get("value") for e in container["env"]}["GOLEM_DRAIN_S"] == "2.5"
    assert predictor["terminationGracePeriodSeconds"] == 0 + 3 + 10 + 5
    assert _container_and_pod(interpreter)[1]["terminationGracePeriodSeconds"] == 5 + 5 + 10 + 5
    assert _container_and_pod(oracle)[1]["terminationGracePeriodSeconds"] == 600
    liveness = _container_and_pod(transformer)[0]["livenessProbe"]
    assert (liveness["timeoutSeconds"], liveness["initialDelaySeconds"], liveness["periodSeconds"]) == (9, 4, 10)
    env = {e["name"]: e.get("value") for e in _container_and_pod(transformer)[0]["env"]}
    assert env["GOLEM_STAGE_TIMEOUT_S"] == "10"
    for isvc in (scribe, interpreter, oracle, transformer):
        validate(isvc)
        validate(pod_of(isvc["spec"]["predictor"]))


@pytest.mark.parametrize("bad", [{"probes": {"startup": {"period": 5}}},
                                 {"probes": {"readiness": {"periodSeconds": 0}}},
                                 {"shutdown": {"drainSeconds": -1}}, {"shutdown": {"preStop": 5}}])
def test_a_bad_probe_or_shutdown_value_is_rejected_by_the_crd_schema(bad: dict[str, Any]) -> None:
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        validate(pipeline({"transformer": bad}))


# -- capture for labelling: spec.capture → the transformer's (or the monolith's) settings and volume ---------------
CAPTURE = {"rate": 0.25, "verdicts": ["rejected", "accepted"], "maxFiles": 50, "maxBytes": 10 * 2**20,
           "logTranscripts": True}


def _capture_settings(isvc: dict[str, Any]) -> Any:
    """The Settings the pod would build from the plain values the operator wrote."""
    from golemline.settings import Settings

    [container] = isvc["spec"]["predictor"]["containers"]
    return Settings.from_env({e["name"]: e["value"] for e in container["env"]
                              if e["name"].startswith("GOLEM_") and "value" in e})


@pytest.mark.parametrize(("where", "volume", "directory"), [
    ({"persistentVolumeClaim": "labels"}, {"persistentVolumeClaim": {"claimName": "labels"}},
     "/var/lib/golemline/capture"),
    ({}, {"emptyDir": {"sizeLimit": "74Mi"}}, "/var/lib/golemline/capture"),  # 10 MiB of audio + 64 MiB
    ({"url": "s3://labelling/golems"}, None, "s3://labelling/golems"),
], ids=["pvc", "emptydir", "object-store"])
@pytest.mark.parametrize("mode", ["microservices", "monolith"])
def test_capture_reaches_the_pipeline_pod_with_its_volume(where: dict[str, Any], volume: dict[str, Any] | None,
                                                          directory: str, mode: str) -> None:
    body = pipeline({"mode": mode, "capture": {**CAPTURE, **where}})
    validate(body)
    services = build_inference_services(body)
    capturing = [s for s in services if s["metadata"]["labels"]["app.kubernetes.io/component"]
                 in ("transformer", "monolith")]
    assert len(capturing) == 1
    for isvc in services:
        validate(isvc)
        validate(pod_of(isvc["spec"]["predictor"]))
        settings = _capture_settings(isvc)
        predictor = isvc["spec"]["predictor"]
        volumes = {v["name"]: v for v in predictor["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in predictor["containers"][0]["volumeMounts"]}
        if isvc not in capturing:  # a golem sees one stage: it captures nothing and mounts nothing
            assert settings.capture_dir is None and "capture" not in volumes
            continue
        assert (settings.capture_dir, settings.capture_rate, settings.capture_verdicts, settings.capture_max_files,
                settings.capture_max_bytes, settings.server.log_transcripts) == \
            (directory, 0.25, "rejected,accepted", 50, 10 * 2**20, True)
        if volume is None:
            assert "capture" not in volumes and "capture" not in mounts
        else:
            assert {k: v for k, v in volumes["capture"].items() if k != "name"} == volume
            assert mounts["capture"] == directory


def test_without_capture_no_pod_captures() -> None:
    for isvc in [*build_inference_services(pipeline(GPU_POOL)), *build_inference_services(pipeline(MONOLITH))]:
        assert _capture_settings(isvc).capture_dir is None
        assert "capture" not in {v["name"] for v in isvc["spec"]["predictor"]["volumes"]}


def test_capture_properties_left_out_keep_golemlines_defaults() -> None:
    from golemline.settings import Settings

    [isvc] = build_inference_services(pipeline({"mode": "monolith", "capture": {}}))
    settings, defaults = _capture_settings(isvc), Settings()
    assert settings.capture_dir == "/var/lib/golemline/capture"
    assert (settings.capture_rate, settings.capture_verdicts, settings.capture_max_files,
            settings.capture_max_bytes, settings.server.log_transcripts) == \
        (defaults.capture_rate, defaults.capture_verdicts, defaults.capture_max_files, defaults.capture_max_bytes,
         defaults.server.log_transcripts)
    [volume] = [v for v in isvc["spec"]["predictor"]["volumes"] if v["name"] == "capture"]
    assert volume["emptyDir"]["sizeLimit"] == f"{defaults.capture_max_bytes // 2**20 + 64}Mi"


@pytest.mark.parametrize("bad", [{"rate": 0}, {"rate": 1.5}, {"verdicts": ["maybe"]}, {"verdicts": []},
                                 {"maxFiles": 0}, {"maxBytes": 0}, {"url": "captured/"}, {"dir": "/data"},
                                 {"persistentVolumeClaim": ""}, {"logTranscripts": "yes"}])
def test_a_bad_capture_value_is_rejected_by_the_crd_schema(bad: dict[str, Any]) -> None:
    import jsonschema

    validate(pipeline({"capture": {"rate": 1, "verdicts": ["rejected:scribe"], "maxFiles": 1}}))  # the edges pass
    with pytest.raises(jsonschema.ValidationError):
        validate(pipeline({"capture": bad}))


def test_the_crd_refuses_an_object_store_and_a_volume_together() -> None:
    """The API server evaluates the CEL rule (jsonschema here does not): it must name both properties."""
    crd = yaml.safe_load((ROOT / "charts" / "golemline" / "crds" / "golemline.io_golempipelines.yaml").read_text())
    capture = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["capture"]
    [rule] = capture["x-kubernetes-validations"]
    assert rule["rule"] == "!(has(self.url) && has(self.persistentVolumeClaim))"
