"""kind end-to-end: runs tests/e2e/run_kind.sh where a Docker engine and kind/kubectl/helm exist; otherwise skips
and says which is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("run_kind.sh")


def _missing() -> str | None:
    absent = [tool for tool in ("docker", "kind", "kubectl", "helm") if shutil.which(tool) is None]
    if "docker" not in absent:
        engine = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
        if engine.returncode != 0:
            return "no Docker engine is reachable (`docker info` failed): kind cannot create a cluster here"
    if absent:
        return f"kind e2e needs {', '.join(absent)} on PATH"
    return None


MISSING = _missing()


@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
def test_kind_end_to_end() -> None:
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "e2e: passed" in result.stdout


def test_script_is_shell_valid() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
