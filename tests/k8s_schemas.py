"""Validate manifests offline: Kubernetes kinds with kubernetes-validate (strict), CRD kinds with jsonschema
against the CRDs' own OpenAPI schemas (KServe and prometheus-operator vendored in tests/schemas, ours from the
chart)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tests" / "schemas"  # vendored: see tests/schemas/README.md
CRD_FILES = {
    "serving.kserve.io": SCHEMAS / "kserve" / "serving.kserve.io_inferenceservices.yaml",
    "monitoring.coreos.com/ServiceMonitor":
        SCHEMAS / "prometheus-operator" / "monitoring.coreos.com_servicemonitors.yaml",
    "monitoring.coreos.com/PodMonitor": SCHEMAS / "prometheus-operator" / "monitoring.coreos.com_podmonitors.yaml",
    "monitoring.coreos.com/PrometheusRule":
        SCHEMAS / "prometheus-operator" / "monitoring.coreos.com_prometheusrules.yaml",
    "golemline.io": ROOT / "charts" / "golemline" / "crds" / "golemline.io_golempipelines.yaml",
}
K8S_VERSION = "1.30.0"


@cache
def _crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    path = CRD_FILES.get(f"{group}/{kind}") or CRD_FILES[group]
    crd = yaml.safe_load(path.read_text())
    [entry] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return entry["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def _strict(schema: Any) -> Any:
    """Reject unknown fields, like the API server does for structural schemas (unless preserve-unknown). CRDs
    speak OpenAPI 3.0, where `exclusiveMinimum: true` qualifies `minimum`; jsonschema reads a number there (true
    would be 1), so the pair becomes the JSON Schema form."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if out.get("exclusiveMinimum") is True and "minimum" in out:
            out["exclusiveMinimum"] = out.pop("minimum")
        if out.get("type") == "object" and "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = _strict(_crd_schema(api_version, kind))
    schema["properties"]["metadata"] = {"type": "object"}
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)  # type: ignore[no-any-return]


def validate(manifest: dict[str, Any]) -> None:
    """Raise on the first schema violation (a typo'd field fails)."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    if group in ("serving.kserve.io", "monitoring.coreos.com", "golemline.io"):
        _validator(api_version, kind).validate(manifest)
        return
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def pod_of(predictor: dict[str, Any], name: str = "probe") -> dict[str, Any]:
    """The Pod a KServe predictor becomes, for validating its PodSpec fields against Kubernetes itself."""
    pod_fields = ("containers", "volumes", "securityContext", "nodeSelector", "tolerations", "affinity",
                  "serviceAccountName", "terminationGracePeriodSeconds")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {k: predictor[k] for k in pod_fields if k in predictor}}
