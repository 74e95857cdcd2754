"""The real operator (kopf) against kmock, a Kubernetes API emulator: create, update, mode switch, status, delete
without a finalizer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import kmock
import kopf
import pytest

from tests.kmock_cluster import ISVCS, PIPELINES, isvc_names, register_resources, running_operator, until

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("kubeconfig")]

async def test_operator_lifecycle(kmock: kmock.KubernetesEmulator) -> None:
    register_resources(kmock)
    kmock.objects[PIPELINES, "ml", "demo"] = {
        "apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
        "metadata": {"name": "demo", "namespace": "ml", "uid": "uid-demo", "generation": 1, "resourceVersion": "1"},
        "spec": {"mode": "microservices", "batching": {"maxBatchSize": 8},
                 "golems": {"scribe": {"gpu": {"count": 1}, "nodeSelector": {"pool": "gpu"},
                                       "autoscaling": {"metric": "queueDepth", "target": 4}}}}}
    async with running_operator(timeout=180) as runner:
        # create → one InferenceService per golem plus the transformer, owned by the pipeline
        await until(lambda: isvc_names(kmock) == {"demo-scribe", "demo-interpreter", "demo-oracle", "demo-pipeline"})
        scribe = kmock.objects[ISVCS, "ml", "demo-scribe"]
        assert scribe["metadata"]["ownerReferences"][0]["uid"] == "uid-demo"
        assert scribe["spec"]["predictor"]["nodeSelector"] == {"pool": "gpu"}

        def scribe_target() -> str | None:
            scaling = kmock.objects[ISVCS, "ml", "demo-scribe"]["spec"]["predictor"].get("autoScaling") or {}
            return next((m["external"]["target"]["averageValue"] for m in scaling.get("metrics", [])), None)

        assert scribe_target() == "4"
        await until(lambda: (kmock.objects[PIPELINES, "ml", "demo"].get("status") or {}).get("conditions"))
        status = kmock.objects[PIPELINES, "ml", "demo"]["status"]
        assert status["conditions"][0]["type"] == "Ready" and status["conditions"][0]["status"] == "False"

        # status aggregation → Ready once every InferenceService reports Ready
        for name in ("demo-scribe", "demo-interpreter", "demo-oracle", "demo-pipeline"):
            kmock.objects[ISVCS, "ml", name].patch({"status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "url": f"http://{name}.ml.example.com"}})
        await until(lambda: kmock.objects[PIPELINES, "ml", "demo"]["status"]["conditions"][0]["status"] == "True")
        assert kmock.objects[PIPELINES, "ml", "demo"]["status"]["url"].startswith("http://demo-pipeline.ml")

        # update → the change is patched into the children
        await kmock.patch("/apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/demo",
                          json={"metadata": {"generation": 2}, "spec": {
                              "batching": {"maxBatchSize": 32},
                              "golems": {"scribe": {"autoscaling": {"metric": "queueDepth", "target": 8}}}}},
                          headers={"Content-Type": "application/merge-patch+json"})

        def batch_env() -> str | None:
            env = kmock.objects[ISVCS, "ml", "demo-oracle"]["spec"]["predictor"]["containers"][0]["env"]
            return next((e["value"] for e in env if e["name"] == "GOLEM_MAX_BATCH_SIZE"), None)

        await until(lambda: batch_env() == "32")
        await until(lambda: scribe_target() == "8")  # the autoscaling change reaches the InferenceService

        # mode switch → the golem services go, the monolith comes
        await kmock.patch("/apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/demo",
                          json={"metadata": {"generation": 3}, "spec": {"mode": "monolith"}},
                          headers={"Content-Type": "application/merge-patch+json"})
        await until(lambda: isvc_names(kmock) == {"demo-monolith"})

        # no finalizer: the pipeline can be deleted even while the operator is down; its children go with it
        # through their owner references (the cluster's garbage collector, which kmock does not run)
        assert not kmock.objects[PIPELINES, "ml", "demo"]["metadata"].get("finalizers")
        monolith = kmock.objects[ISVCS, "ml", "demo-monolith"]
        [owner] = monolith["metadata"]["ownerReferences"]
        assert owner["uid"] == "uid-demo" and owner["controller"] and owner["blockOwnerDeletion"]
        await kmock.delete("/apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/demo")
        await until(lambda: kmock.objects[PIPELINES, "ml", "demo"].deleted)
    assert "InferenceService demo-scribe: created" in runner.output


async def test_the_running_operator_hands_capture_to_the_pipeline_pod(kmock: kmock.KubernetesEmulator) -> None:
    """spec.capture, through the real operator: the transformer gets the settings and the claim as its volume, the
    golems neither; switching to an object store drops the volume."""
    from tests.k8s_schemas import pod_of, validate

    register_resources(kmock)
    kmock.objects[PIPELINES, "ml", "demo"] = {
        "apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
        "metadata": {"name": "demo", "namespace": "ml", "uid": "uid-demo", "generation": 1, "resourceVersion": "1"},
        "spec": {"capture": {"persistentVolumeClaim": "labels", "verdicts": ["rejected"], "rate": 0.5}}}
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.posting.enabled = False
    runner = kopf.testing.KopfRunner(["run", "--standalone", "--namespace", "ml", "-m", "golemline_operator.handlers"],
                                     settings=settings, timeout=180)
    runner.__enter__()

    def predictor(name: str) -> dict[str, Any]:
        return plain(kmock.objects[ISVCS, "ml", name]["spec"]["predictor"])

    def env(name: str) -> dict[str, str]:
        return {e["name"]: e.get("value", "") for e in predictor(name)["containers"][0]["env"]}

    try:
        await until(lambda: isvc_names(kmock) == {"demo-scribe", "demo-interpreter", "demo-oracle", "demo-pipeline"})
        transformer = predictor("demo-pipeline")
        assert {"name": "capture", "persistentVolumeClaim": {"claimName": "labels"}} in transformer["volumes"]
        assert {"name": "capture", "mountPath": "/var/lib/golemline/capture"} in \
            transformer["containers"][0]["volumeMounts"]
        assert (env("demo-pipeline")["GOLEM_CAPTURE_DIR"], env("demo-pipeline")["GOLEM_CAPTURE_VERDICTS"],
                env("demo-pipeline")["GOLEM_CAPTURE_RATE"]) == ("/var/lib/golemline/capture", "rejected", "0.5")
        validate(pod_of(transformer))
        for golem in ("demo-scribe", "demo-interpreter", "demo-oracle"):
            assert not [k for k in env(golem) if k.startswith("GOLEM_CAPTURE")], golem

        await kmock.patch("/apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/demo",
                          json={"metadata": {"generation": 2}, "spec": {"capture": {
                              "persistentVolumeClaim": None, "url": "s3://labelling/golems"}}},
                          headers={"Content-Type": "application/merge-patch+json"})
        await until(lambda: env("demo-pipeline").get("GOLEM_CAPTURE_DIR") == "s3://labelling/golems")
        assert "capture" not in {v["name"] for v in predictor("demo-pipeline")["volumes"]}
    finally:
        await asyncio.to_thread(runner.__exit__, None, None, None)


def monolith_pipeline(emulator: kmock.KubernetesEmulator) -> None:
    register_resources(emulator)
    emulator.objects[PIPELINES, "ml", "demo"] = {
        "apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
        "metadata": {"name": "demo", "namespace": "ml", "uid": "uid-demo", "generation": 1, "resourceVersion": "7"},
        "spec": {"mode": "monolith"}}


def status_writes(emulator: kmock.KubernetesEmulator) -> list[Any]:
    return [r for r in emulator if str(r.method).upper().endswith("PATCH") and r.url.path.endswith("/demo/status")]


CONFLICT = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409}


async def test_a_status_write_refused_as_stale_is_computed_again_and_rewritten(kmock: kmock.KubernetesEmulator) -> None:
    """The status is written on condition that the pipeline is still at the version it was computed from; on 409
    Conflict it is read, computed and written again, so a stale status never replaces a fresher one."""
    from golemline_operator import client, handlers

    monolith_pipeline(kmock)
    kmock["patch /apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/demo/status"][:1] << 409 << CONFLICT
    await asyncio.to_thread(handlers.refresh_status, client.api(), "ml", "demo")
    writes = status_writes(kmock)
    assert len(writes) == 2 and all(w.data["metadata"] == {"resourceVersion": "7"} for w in writes)
    assert kmock.objects[PIPELINES, "ml", "demo"]["status"]["conditions"][0]["type"] == "Ready"


async def test_a_status_that_keeps_conflicting_is_a_temporary_error(kmock: kmock.KubernetesEmulator) -> None:
    from golemline_operator import client, handlers

    monolith_pipeline(kmock)
    kmock["patch /apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/demo/status"] << 409 << CONFLICT
    with pytest.raises(kopf.TemporaryError, match="kept changing"):
        await asyncio.to_thread(handlers.refresh_status, client.api(), "ml", "demo")
    assert len(status_writes(kmock)) == handlers.STATUS_ATTEMPTS


async def test_a_pipeline_deleted_before_its_status_is_written_is_left_alone(kmock: kmock.KubernetesEmulator) -> None:
    from golemline_operator import client, handlers

    monolith_pipeline(kmock)
    kmock["patch /apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/demo/status"] << 404 << {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
    await asyncio.to_thread(handlers.refresh_status, client.api(), "ml", "demo")  # no error, one attempt
    assert len(status_writes(kmock)) == 1


def plain(value: Any) -> Any:
    """kmock's stored object as plain dicts and lists, for the schema validators."""
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def example_specs() -> dict[str, dict[str, Any]]:
    """The chart's default pipeline and every shipped example, as the GolemPipeline spec each installs."""
    import yaml

    chart = Path(__file__).resolve().parents[1] / "charts" / "golemline"
    specs = {"default": yaml.safe_load((chart / "values.yaml").read_text())["pipeline"]["spec"]}
    for path in sorted((chart / "examples").glob("*.yaml")):
        specs[path.stem] = yaml.safe_load(path.read_text())["pipeline"]["spec"]
    return specs


@pytest.mark.slow
async def test_every_examples_inference_services_carry_probes_a_prestop_and_a_grace_period(
        kmock: kmock.KubernetesEmulator) -> None:
    """Must-show: the operator, running for real, writes every example's InferenceServices with a startup,
    readiness and liveness probe, a preStop and a termination grace period, and each validates against KServe's
    InferenceService schema and its pod against Kubernetes."""
    from golemline_operator.builders import ready_path
    from tests.k8s_schemas import pod_of, validate

    register_resources(kmock)
    specs = example_specs()
    assert {"default", "gpu-pool", "monolith"} <= set(specs)
    expected: set[str] = set()
    for n, (name, spec) in enumerate(specs.items()):
        body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
                "metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}", "generation": 1,
                             "resourceVersion": str(n + 1)}, "spec": spec}
        validate(body)
        kmock.objects[PIPELINES, "ml", name] = body
        components = ["monolith"] if spec.get("mode") == "monolith" else ["scribe", "interpreter", "oracle", "pipeline"]
        expected |= {f"{name}-{c}" for c in components}
    async with running_operator(timeout=30):
        await until(lambda: isvc_names(kmock) == expected, timeout=60)
    for name in sorted(expected):
        stored = plain(kmock.objects[ISVCS, "ml", name])
        isvc = {k: stored[k] for k in ("apiVersion", "kind", "metadata", "spec")}
        component = isvc["metadata"]["labels"]["app.kubernetes.io/component"]
        predictor = isvc["spec"]["predictor"]
        [container] = predictor["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == ready_path(component), name
        assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live", name
        assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 300
        assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep", name
        drain = next(float(e["value"]) for e in container["env"] if e["name"] == "GOLEM_DRAIN_S")
        pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert predictor["terminationGracePeriodSeconds"] > pre_stop + drain, name
        validate(isvc)
        validate(pod_of(predictor, name))
