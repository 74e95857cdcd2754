"""kopf handlers for GolemPipeline: small, idempotent, one job each.

Run with `golem operator` (or `kopf run -m golemline.operator.handlers --all-namespaces --standalone`).
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from golemline.operator import client
from golemline.operator.builders import build_inference_services, names
from golemline.operator.status import aggregate

from golemline.settings import GOLEMS

GROUP, VERSION, PLURAL = "golemline.io", "v1alpha1", "golempipelines"
STATUS_INTERVAL_S = float(os.environ.get("GOLEM_OPERATOR_STATUS_INTERVAL", "15"))


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
def reconcile(body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
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
    patch.status.update(_status(api, dict(body)))


@kopf.timer(GROUP, VERSION, PLURAL, interval=STATUS_INTERVAL_S, initial_delay=STATUS_INTERVAL_S)
def refresh_status(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Follow the InferenceServices' readiness into the pipeline's conditions."""
    patch.status.update(_status(client.api(), dict(body)))


@kopf.on.delete(GROUP, VERSION, PLURAL)
def cleanup(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    """Owner references let Kubernetes collect the children; delete them now so cleanup does not wait on GC."""
    api = client.api()
    for existing in client.owned(api, body.metadata.namespace or "", body.metadata.name or ""):
        client.delete(api, existing["metadata"]["namespace"], existing["metadata"]["name"])
        logger.info(f"InferenceService {existing['metadata']['name']}: deleted with its pipeline")
