"""`spec.capture` → the capture settings of the pod that runs the whole pipeline: `GOLEM_CAPTURE_*` variables and,
for a folder, the volume the dataset is written to (golemline.capture; docs/calibration.md).

Why only the transformer (or the monolith): a captured row holds the audio, the verdict and the gate's signals of
every stage, and only the process that runs the pipeline sees all of them; a golem sees one stage.
Why a volume: the pods' root filesystem is read-only, so a folder must be a mount: a PersistentVolumeClaim, which
outlives the pod, or else an emptyDir sized from the byte cap, which lives as long as the pod. An object-store URL
(`s3://bucket/prefix`) is written to directly and needs no volume.
"""

from __future__ import annotations

import math
from typing import Any

CAPTURING = ("transformer", "monolith")
"""The components that capture (see above)."""
CAPTURE_DIR = "/var/lib/golemline/capture"
VOLUME = "capture"
METADATA_HEADROOM_MI = 64
"""An emptyDir holds the audio cap plus this (metadata.jsonl is a few hundred bytes a row)."""
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
"""golemline's own default cap (`capture_max_bytes`), when the spec gives none: it sizes the emptyDir."""

ENV = {"rate": "GOLEM_CAPTURE_RATE", "verdicts": "GOLEM_CAPTURE_VERDICTS", "maxFiles": "GOLEM_CAPTURE_MAX_FILES",
       "maxBytes": "GOLEM_CAPTURE_MAX_BYTES", "logTranscripts": "GOLEM_LOG_TRANSCRIPTS"}
"""CRD property → the setting's variable (tests/test_config_surfaces.py checks that golemline reads each)."""


def capture_env(spec: dict[str, Any], component: str) -> dict[str, Any]:
    """The variables that turn capture on; {} when the spec asks for none or the component does not capture.
    Properties the spec leaves out are not written, so golemline's defaults apply."""
    capture = spec.get("capture")
    if capture is None or component not in CAPTURING:
        return {}
    env: dict[str, Any] = {"GOLEM_CAPTURE_DIR": capture.get("url") or CAPTURE_DIR}
    env.update({name: capture.get(prop) for prop, name in ENV.items()})
    return env


def capture_volume(spec: dict[str, Any], component: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(volume, volumeMount) for a folder; None for an object-store URL, without capture, or for a golem."""
    capture = spec.get("capture")
    if capture is None or component not in CAPTURING or capture.get("url"):
        return None
    source: dict[str, Any]
    if capture.get("persistentVolumeClaim"):
        source = {"persistentVolumeClaim": {"claimName": capture["persistentVolumeClaim"]}}
    else:
        mebibytes = math.ceil(int(capture.get("maxBytes") or DEFAULT_MAX_BYTES) / 2**20) + METADATA_HEADROOM_MI
        source = {"emptyDir": {"sizeLimit": f"{mebibytes}Mi"}}
    return {"name": VOLUME, **source}, {"name": VOLUME, "mountPath": CAPTURE_DIR}
