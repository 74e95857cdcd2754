"""The operator's Kubernetes client: the official `kubernetes` client, configured in-cluster or from KUBECONFIG.

Why the official client: it is what the Kubernetes project maintains (pykube-ng, used before, last released in
2023), and kopf users pair it with their handlers the same way — synchronous calls, which kopf runs in a thread.
The InferenceServices and GolemPipelines are custom resources, so everything goes through `CustomObjectsApi`.
Tests point KUBECONFIG at kmock, a Kubernetes API emulator.
"""

from __future__ import annotations

import os
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

ISVC = ("serving.kserve.io", "v1beta1", "inferenceservices")
PIPELINE = ("golemline.io", "v1alpha1", "golempipelines")


class ConfigurationMissing(RuntimeError):
    """Neither a service account nor a kube config file: the operator has no cluster to talk to."""


def configuration() -> k8s.Configuration:
    """In-cluster (service account) first, else the kube config file named by KUBECONFIG now.

    Why read KUBECONFIG here: the client library fixes its default location when it is imported, so a KUBECONFIG
    set later (a test, a wrapper script) would be ignored."""
    config = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=config)
        return config
    except k8s_config.ConfigException:
        pass
    path = os.path.expanduser(os.environ.get("KUBECONFIG") or "~/.kube/config")
    try:
        k8s_config.load_kube_config(config_file=path, client_configuration=config)
    except (k8s_config.ConfigException, OSError) as error:
        raise ConfigurationMissing(f"no Kubernetes configuration found: no service account, and no usable kube config "
                                   f"at {path} ({str(error).strip().splitlines()[0]})") from None
    return config


def api() -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(k8s.ApiClient(configuration()))


def _missing(error: ApiException) -> bool:
    return error.status == 404


def get(client: k8s.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found = cast(dict[str, Any], client.get_namespaced_custom_object(*ISVC[:2], namespace, ISVC[2], name))
    except ApiException as error:
        if _missing(error):
            return None
        raise
    return found


def apply(client: k8s.CustomObjectsApi, manifest: dict[str, Any]) -> str:
    """Create the object, or merge-patch its labels, annotations, owners and spec; returns what was done."""
    meta = manifest["metadata"]
    existing = get(client, meta["namespace"], meta["name"])
    if existing is None:
        client.create_namespaced_custom_object(*ISVC[:2], meta["namespace"], ISVC[2], manifest)
        return "created"
    wanted = {"metadata": {k: meta[k] for k in ("labels", "annotations", "ownerReferences")}, "spec": manifest["spec"]}
    current = {"metadata": {k: existing["metadata"].get(k) for k in ("labels", "annotations", "ownerReferences")},
               "spec": existing.get("spec")}
    if current == wanted:
        return "unchanged"
    # A dict body is sent as a JSON merge patch (application/merge-patch+json) by the client.
    client.patch_namespaced_custom_object(*ISVC[:2], meta["namespace"], ISVC[2], meta["name"], wanted)
    return "patched"


def owned(client: k8s.CustomObjectsApi, namespace: str, pipeline: str) -> list[dict[str, Any]]:
    found = cast(dict[str, Any], client.list_namespaced_custom_object(
        *ISVC[:2], namespace, ISVC[2], label_selector=f"golemline.io/pipeline={pipeline}"))
    # Check the label here too: a server that ignores the selector must not make us touch others' objects.
    return [dict(obj) for obj in found.get("items", [])
            if (obj["metadata"].get("labels") or {}).get("golemline.io/pipeline") == pipeline]


def delete(client: k8s.CustomObjectsApi, namespace: str, name: str) -> None:
    try:
        client.delete_namespaced_custom_object(*ISVC[:2], namespace, ISVC[2], name)
    except ApiException as error:
        if not _missing(error):
            raise


def get_pipeline(client: k8s.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found = cast(dict[str, Any],
                     client.get_namespaced_custom_object(*PIPELINE[:2], namespace, PIPELINE[2], name))
    except ApiException as error:
        if _missing(error):
            return None
        raise
    return found


def patch_pipeline_status(client: k8s.CustomObjectsApi, namespace: str, name: str, status: dict[str, Any],
                          resource_version: str | None) -> bool:
    """Merge-patch the pipeline's status subresource, on condition that the pipeline is still at `resource_version`
    (the API server answers 409 Conflict otherwise: someone wrote since it was read). False on that conflict."""
    body: dict[str, Any] = {"status": status}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    try:
        client.patch_namespaced_custom_object_status(*PIPELINE[:2], namespace, PIPELINE[2], name, body)
    except ApiException as error:
        if error.status == 409:
            return False
        if not _missing(error):  # 404: deleted since it was read, nothing left to report on
            raise
    return True
