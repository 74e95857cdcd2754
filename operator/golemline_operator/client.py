"""The operator's Kubernetes client: pykube-ng, configured in-cluster or from KUBECONFIG (tests: kmock)."""

from __future__ import annotations

import json
from typing import Any

import pykube


class InferenceService(pykube.objects.NamespacedAPIObject):
    version = "serving.kserve.io/v1beta1"
    endpoint = "inferenceservices"
    kind = "InferenceService"


class GolemPipeline(pykube.objects.NamespacedAPIObject):
    version = "golemline.io/v1alpha1"
    endpoint = "golempipelines"
    kind = "GolemPipeline"


def api() -> pykube.HTTPClient:
    return pykube.HTTPClient(pykube.KubeConfig.from_env())


def get(client: pykube.HTTPClient, namespace: str, name: str) -> dict[str, Any] | None:
    found = InferenceService.objects(client, namespace=namespace).get_or_none(name=name)
    return dict(found.obj) if found is not None else None


def apply(client: pykube.HTTPClient, manifest: dict[str, Any]) -> str:
    """Create the object, or merge-patch its labels, annotations, owners and spec; returns what was done."""
    meta = manifest["metadata"]
    existing = InferenceService.objects(client, namespace=meta["namespace"]).get_or_none(name=meta["name"])
    if existing is None:
        InferenceService(client, manifest).create()
        return "created"
    wanted = {"metadata": {k: meta[k] for k in ("labels", "annotations", "ownerReferences")}, "spec": manifest["spec"]}
    current = {"metadata": {k: existing.obj["metadata"].get(k) for k in ("labels", "annotations", "ownerReferences")},
               "spec": existing.obj.get("spec")}
    if current == wanted:
        return "unchanged"
    existing.patch(wanted)
    return "patched"


def owned(client: pykube.HTTPClient, namespace: str, pipeline: str) -> list[dict[str, Any]]:
    query = InferenceService.objects(client, namespace=namespace).filter(selector={"golemline.io/pipeline": pipeline})
    # Check the label here too: a server that ignores the selector must not make us touch others' objects.
    return [dict(obj.obj) for obj in query
            if (obj.obj["metadata"].get("labels") or {}).get("golemline.io/pipeline") == pipeline]


def delete(client: pykube.HTTPClient, namespace: str, name: str) -> None:
    found = InferenceService.objects(client, namespace=namespace).get_or_none(name=name)
    if found is not None:
        found.delete()


def get_pipeline(client: pykube.HTTPClient, namespace: str, name: str) -> dict[str, Any] | None:
    found = GolemPipeline.objects(client, namespace=namespace).get_or_none(name=name)
    return dict(found.obj) if found is not None else None


def patch_pipeline_status(client: pykube.HTTPClient, namespace: str, name: str, status: dict[str, Any],
                          resource_version: str | None) -> bool:
    """Merge-patch the pipeline's status subresource, on condition that the pipeline is still at `resource_version`
    (the API server answers 409 Conflict otherwise: someone wrote since it was read). False on that conflict."""
    body: dict[str, Any] = {"status": status}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    pipeline = GolemPipeline(client, {"metadata": {"name": name, "namespace": namespace}})
    response = client.patch(**pipeline.api_kwargs(subresource="status", data=json.dumps(body),
                                                  headers={"Content-Type": "application/merge-patch+json"}))
    if response.status_code == 409:
        return False
    if response.status_code != 404:  # 404: deleted since it was read, nothing left to report on
        client.raise_for_status(response)
    return True
