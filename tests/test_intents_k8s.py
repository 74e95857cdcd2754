"""Must-show 1 and 6 on Kubernetes: the home domain through the chart (rendered with real Helm), the operator's
manifests (checked against KServe's schema) and the operator itself under kmock; bad intents are refused by the
chart's values schema and by the CRD's schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kmock
import pytest
import yaml

from golemline.intents import parse_intents
from golemline.settings import Settings
from golemline_operator.builders import INTENTS_ANNOTATION, build_inference_services
from tests.k8s_schemas import pod_of, validate
from tests.kmock_cluster import ISVCS, PIPELINES, isvc_names, register_resources, running_operator, until
from tests.test_chart import CHART, kinds, render

ROOT = Path(__file__).resolve().parents[1]
HOME_FILE = ROOT / "examples" / "intents" / "home.yaml"
HOME = yaml.safe_load(HOME_FILE.read_text())
NAMES = ("lights", "thermostat", "locks", "blinds", "appliances", "shopping_list")


def _mounted_file(isvc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The GOLEM_INTENTS path a golem reads, and the volume that puts it there."""
    predictor = isvc["spec"]["predictor"]
    [container] = predictor["containers"]
    [path] = [e["value"] for e in container["env"] if e["name"] == "GOLEM_INTENTS"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "intents"]
    assert path.startswith(mount["mountPath"] + "/") and mount["readOnly"]
    [volume] = [v for v in predictor["volumes"] if v["name"] == "intents"]
    return path, volume


def test_an_intents_file_is_chart_values_and_reaches_every_golem(tmp_path: Path) -> None:
    docs = render(HOME)  # `helm install ... -f examples/intents/home.yaml`
    for doc in docs:
        validate(doc)
    [config_map] = [d for d in kinds(docs, "ConfigMap") if d["metadata"]["name"].endswith("-intents")]
    written = tmp_path / "intents.yaml"
    written.write_text(config_map["data"]["intents.yaml"])
    settings = Settings.from_env({"GOLEM_INTENTS": str(written)})  # what each pod does with the mounted file
    assert settings.intents.names == NAMES and len(settings.intents.background) == len(HOME["background"])
    [pipeline] = kinds(docs, "GolemPipeline")
    assert pipeline["spec"]["intentsConfigMap"] == {"name": config_map["metadata"]["name"], "key": "intents.yaml"}
    pipeline["metadata"]["uid"] = "uid-from-the-api-server"
    services = build_inference_services(pipeline)
    assert len(services) == 4
    for isvc in services:
        validate(isvc)
        validate(pod_of(isvc["spec"]["predictor"]))
        path, volume = _mounted_file(isvc)
        assert path.endswith("/intents.yaml")
        assert volume["configMap"] == {"name": config_map["metadata"]["name"],
                                       "items": [{"key": "intents.yaml", "path": "intents.yaml"}]}


def test_without_intents_the_chart_and_the_operator_add_nothing() -> None:
    docs = render({})
    assert not [d for d in kinds(docs, "ConfigMap") if d["metadata"]["name"].endswith("-intents")]
    [pipeline] = kinds(docs, "GolemPipeline")
    assert "intentsConfigMap" not in pipeline["spec"]
    pipeline["metadata"]["uid"] = "u"
    for isvc in build_inference_services(pipeline):
        env = {e["name"] for e in isvc["spec"]["predictor"]["containers"][0]["env"]}
        assert "GOLEM_INTENTS" not in env and "annotations" not in isvc["spec"]["predictor"]


@pytest.mark.parametrize("mode", ["microservices", "monolith"])
def test_inline_intents_in_the_crd_become_a_file_in_every_pod(mode: str) -> None:
    body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
            "metadata": {"name": "home", "namespace": "ml", "uid": "u"},
            "spec": {"mode": mode, "intents": HOME["intents"], "intentsBackground": HOME["background"]}}
    validate(body)
    for isvc in build_inference_services(body):
        validate(isvc)
        validate(pod_of(isvc["spec"]["predictor"]))
        _, volume = _mounted_file(isvc)
        [item] = volume["downwardAPI"]["items"]
        assert item["fieldRef"]["fieldPath"] == f"metadata.annotations['{INTENTS_ANNOTATION}']"
        document = yaml.safe_load(isvc["spec"]["predictor"]["annotations"][INTENTS_ANNOTATION])
        assert parse_intents(document, "annotation").names == NAMES


def _bad(kind: str) -> list[dict[str, Any]]:
    intents = copy.deepcopy(HOME["intents"])
    if kind == "one intent":
        return intents[:1]
    if kind == "bad name":
        intents[0]["name"] = "Porch-Light"
    elif kind == "no examples":
        del intents[0]["examples"]
    elif kind == "empty examples":
        intents[0]["examples"] = []
    elif kind == "unknown key":
        intents[0]["utterances"] = ["Lights on."]
    return intents


BAD = ["one intent", "bad name", "no examples", "empty examples", "unknown key"]


@pytest.mark.parametrize("kind", BAD)
def test_the_crd_schema_refuses_bad_intents(kind: str) -> None:
    body = {"apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline", "metadata": {"name": "p"},
            "spec": {"intents": _bad(kind)}}
    with pytest.raises(jsonschema.ValidationError):
        validate(body)


@pytest.mark.parametrize("kind", [*BAD, "duplicate name"])
def test_the_chart_refuses_bad_intents(kind: str) -> None:
    intents = _bad(kind) if kind != "duplicate name" else [*HOME["intents"], HOME["intents"][0]]
    with pytest.raises(Exception, match="intents|values don't meet the specifications") as raised:
        render({"intents": intents})
    assert "appears twice" in str(raised.value) if kind == "duplicate name" else True


def test_the_crd_says_inline_and_config_map_intents_exclude_each_other() -> None:
    crd = yaml.safe_load((CHART / "crds" / "golemline.io_golempipelines.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = [rule["rule"] for rule in spec["x-kubernetes-validations"]]
    assert "!(has(self.intents) && has(self.intentsConfigMap))" in rules
    names_rule = spec["properties"]["intents"]["x-kubernetes-validations"][0]["rule"]
    assert "exists_one" in names_rule  # names unique (CEL: the API server checks it)


@pytest.mark.asyncio
@pytest.mark.usefixtures("kubeconfig")
async def test_the_operator_mounts_inline_intents_under_kmock(kmock: kmock.KubernetesEmulator) -> None:
    register_resources(kmock)
    kmock.objects[PIPELINES, "ml", "home"] = {
        "apiVersion": "golemline.io/v1alpha1", "kind": "GolemPipeline",
        "metadata": {"name": "home", "namespace": "ml", "uid": "uid-home", "generation": 1, "resourceVersion": "1"},
        "spec": {"mode": "microservices", "intents": HOME["intents"], "intentsBackground": HOME["background"]}}
    async with running_operator(timeout=180):
        await until(lambda: isvc_names(kmock) == {"home-scribe", "home-interpreter", "home-oracle", "home-pipeline"},
                    timeout=120)
        for name in ("home-scribe", "home-interpreter", "home-oracle", "home-pipeline"):
            isvc = dict(kmock.objects[ISVCS, "ml", name])
            _mounted_file(isvc)
            annotation = isvc["spec"]["predictor"]["annotations"][INTENTS_ANNOTATION]
            assert parse_intents(json.loads(annotation), name).names == NAMES
        # an edited intent list reaches the children
        changed = copy.deepcopy(HOME["intents"])
        changed[0]["examples"].append("Switch the porch light on.")
        await kmock.patch("/apis/golemline.io/v1alpha1/namespaces/ml/golempipelines/home",
                          json={"metadata": {"generation": 2}, "spec": {"intents": changed}},
                          headers={"Content-Type": "application/merge-patch+json"})

        def porch() -> bool:
            annotations = kmock.objects[ISVCS, "ml", "home-oracle"]["spec"]["predictor"]["annotations"]
            return "porch light" in annotations[INTENTS_ANNOTATION]

        await until(porch, timeout=120)
