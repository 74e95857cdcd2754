"""Status aggregation: the InferenceServices' conditions → the GolemPipeline's status (pure)."""

from __future__ import annotations

import datetime
from typing import Any


def _ready(isvc: dict[str, Any] | None) -> tuple[bool, str]:
    if isvc is None:
        return False, "not created yet"
    for condition in (isvc.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            ok = condition.get("status") == "True"
            return ok, condition.get("message") or condition.get("reason") or ("ready" if ok else "not ready")
    return False, "no Ready condition reported yet"


def aggregate(generation: int | None, children: dict[str, dict[str, Any] | None], entry: str,
              previous: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Ready when every child InferenceService is; one condition per child; `url` from the entry point.

    `lastTransitionTime` changes only when a condition's status changes (Kubernetes convention), so refreshing an
    unchanged pipeline writes an identical status.
    """
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    conditions, golems = [], {}
    for component, isvc in children.items():
        ok, message = _ready(isvc)
        golems[component] = {"ready": ok, "inferenceService": (isvc or {}).get("metadata", {}).get("name")}
        conditions.append({"type": f"{component.capitalize()}Ready", "status": "True" if ok else "False",
                           "reason": "InferenceServiceReady" if ok else "InferenceServiceNotReady",
                           "message": message, "lastTransitionTime": now})
    waiting = [c["type"].removesuffix("Ready").lower() for c in conditions if c["status"] != "True"]
    ready = not waiting
    conditions.insert(0, {"type": "Ready", "status": "True" if ready else "False",
                          "reason": "AllGolemsReady" if ready else "GolemsNotReady",
                          "message": ("all InferenceServices are ready" if ready
                                      else f"waiting for: {', '.join(waiting)}"),
                          "lastTransitionTime": now})
    before = {c.get("type"): c for c in previous or []}
    for condition in conditions:
        old = before.get(condition["type"])
        if old and old.get("status") == condition["status"] and old.get("lastTransitionTime"):
            condition["lastTransitionTime"] = old["lastTransitionTime"]
    entry_isvc = children.get(entry) or {}
    url = (entry_isvc.get("status") or {}).get("url")
    return {"observedGeneration": generation, "conditions": conditions, "golems": golems,
            "url": f"{url}/v1/models/pipeline:predict" if url else None}
