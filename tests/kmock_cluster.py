"""The operator against kmock (a Kubernetes API emulator), shared by the tests that run it: the emulator's resources
and the operator running in its own thread for the length of a block (the `kubeconfig` fixture, in conftest.py,
points the operator at the emulator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import kmock
import kopf
import kopf.testing

import golemline_operator.handlers  # noqa: F401  (registers the handlers)

PIPELINES = "golemline.io/v1alpha1/golempipelines"
ISVCS = "serving.kserve.io/v1beta1/inferenceservices"


def isvc_names(emulator: kmock.KubernetesEmulator) -> set[str]:
    return {key[2] for key, obj in emulator.objects.items() if str(key[0]) == str(kmock.resource(ISVCS))
            and not obj.deleted}


def register_resources(emulator: kmock.KubernetesEmulator) -> None:
    """GolemPipelines and InferenceServices as namespaced resources with a status subresource."""
    emulator.resources.load_bundled()
    for resource, kind in ((PIPELINES, "GolemPipeline"), (ISVCS, "InferenceService")):
        emulator.resources[resource].kind = kind
        emulator.resources[resource].namespaced = True
        emulator.resources[resource].verbs = {"get", "list", "watch", "create", "patch", "update", "delete"}
        emulator.resources[resource].subresources = {"status"}


async def until(condition: Any, timeout: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


@asynccontextmanager
async def running_operator(timeout: float) -> AsyncIterator[kopf.testing.KopfRunner]:
    """The real operator on namespace `ml`, without cluster-wide scanning or event posting (kmock serves neither).
    It runs in its own thread while kmock answers from the test's event loop, so it is joined off that loop."""
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    settings.posting.enabled = False
    runner = kopf.testing.KopfRunner(["run", "--standalone", "--namespace", "ml", "-m", "golemline_operator.handlers"],
                                     settings=settings, timeout=timeout)
    runner.__enter__()
    try:
        yield runner
    finally:
        await asyncio.to_thread(runner.__exit__, None, None, None)  # joining must not block kmock's loop
