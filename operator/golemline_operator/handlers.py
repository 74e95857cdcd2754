"""kopf handlers for GolemPipeline: small, idempotent, one job each.

Run with `golemline-operator` (or `kopf run -m golemline_operator.handlers --all-namespaces --standalone`).

No finalizers: the children carry owner references (controller, blockOwnerDeletion), so Kubernetes' garbage
collector removes them with their pipeline — even while the operator is down. A deletion handler or a timer would
make kopf add a finalizer, and a GolemPipeline could then not be deleted without the operator running. Status
follows the children by watching them (an event per change) instead of polling on a timer.
"""

from __future__ import annotations

from typing import Any

import kopf

from golemline_operator import GOLEMS, client
from golemline_operator.builders import build_inference_services, names
from golemline_operator.status import aggregate

GROUP, VERSION, PLURAL = "golemline.io", "v1alpha1", "golempipelines"
PIPELINE_LABEL = "golemline.io/pipeline"


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """The service account in a cluster, else the kube config file KUBECONFIG names at start-up.

    Why our own: with the `kubernetes` client installed, kopf's default login goes through that client, whose
    kube config location was fixed when it was imported."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def _entry_and_children(body: dict[str, Any]) -> tuple[str, list[str]]:
    """The component that serves the pipeline endpoint, and every component the status follows."""
    if (body.get("spec") or {}).get("mode", "microservices") == "monolith":
        return "monolith", ["monolith"]
    return "pipeline", [*GOLEMS, "pipeline"]


def _status(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    isvc = names(meta["name"])
    entry, components = _entry_and_children(body)
    children = {c: client.get(api, meta["namespace"], isvc[c]) for c in components}
    previous = (body.get("status") or {}).get("conditions")
    return aggregate(meta.get("generation"), children, entry, previous)


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def reconcile(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    """Make the InferenceServices match the spec (create/patch), remove stale ones, report status."""
    desired = build_inference_services(dict(body))
    api = client.api()
    for manifest in desired:
        outcome = client.apply(api, manifest)
        if outcome != "unchanged":
            logger.info(f"InferenceService {manifest['metadata']['name']}: {outcome}")
    wanted = {m["metadata"]["name"] for m in desired}
    for existing in client.owned(api, body.metadata.namespace or "", body.metadata.name or ""):
        if existing["metadata"]["name"] not in wanted:  # e.g. switched from microservices to monolith
            client.delete(api, existing["metadata"]["namespace"], existing["metadata"]["name"])
            logger.info(f"InferenceService {existing['metadata']['name']}: deleted (no longer in the spec)")
    refresh_status(api, body.metadata.namespace or "", body.metadata.name or "")


@kopf.on.event("serving.kserve.io", "v1beta1", "inferenceservices", labels={PIPELINE_LABEL: kopf.PRESENT})
def child_changed(body: kopf.Body, **_: Any) -> None:
    """A child InferenceService changed: recompute its pipeline's status."""
    refresh_status(client.api(), body.metadata.namespace or "", body.metadata.labels[PIPELINE_LABEL])


STATUS_ATTEMPTS = 5


def refresh_status(api: Any, namespace: str, name: str) -> None:
    """The one writer of a pipeline's status: read the pipeline and its children now, write the status only if it
    differs, and only if the pipeline is still at the version that was read (else read and compute again).

    Why: both handlers write status, and they run concurrently. A status computed from an older read and written
    after a fresher one would stick (no later child event comes to correct it): a pipeline whose services are all
    Ready would read "not ready". Writing status through kopf's handler patch did exactly that, since kopf applies
    it after the handler returns."""
    for _ in range(STATUS_ATTEMPTS):
        pipeline = client.get_pipeline(api, namespace, name)
        if pipeline is None or pipeline["metadata"].get("deletionTimestamp"):
            return
        status = _status(api, pipeline)
        if status == pipeline.get("status"):
            return
        if client.patch_pipeline_status(api, namespace, name, status, pipeline["metadata"].get("resourceVersion")):
            return
    raise kopf.TemporaryError(f"the status of GolemPipeline {namespace}/{name} kept changing while it was written; "
                              "retrying", delay=5)
