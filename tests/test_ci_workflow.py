"""The CI workflow (.github/workflows/ci.yml) is valid and safe, checked offline: GitHub's workflow schema
(check-jsonschema's vendored copy) and zizmor's audits; it runs the README's test command and the kind e2e."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent


def test_the_workflow_matches_githubs_schema() -> None:
    proc = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOW)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_of_medium_or_high_severity() -> None:
    proc = subprocess.run([str(BIN / "zizmor"), "--offline", "--persona", "auditor", "--format", "json",
                           str(WORKFLOW)], capture_output=True, text=True)
    findings = json.loads(proc.stdout or "[]")
    serious = [f["ident"] for f in findings if f["determinations"]["severity"] in ("Medium", "High")]
    assert serious == [], serious


def test_actions_are_pinned_by_sha_and_the_token_is_read_only() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    uses = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses


def test_ci_runs_the_readme_test_command_and_the_kind_e2e() -> None:
    text = WORKFLOW.read_text()
    assert "pip install -q -e '.[test]' -e ./operator && python -m pytest" in text
    assert "bash tests/e2e/run_kind.sh" in text


def test_the_lowest_direct_job_runs_the_documented_commands() -> None:
    """docs/contributing.md shows how to reproduce the job: the same commands, in the same order."""
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["lowest-direct"]
    [run] = [step["run"] for step in job["steps"] if "lowest-direct" in step.get("run", "")]
    blocks = re.findall(r"```console\n(.*?)```", (ROOT / "docs" / "contributing.md").read_text(), re.S)
    [block] = [b for b in blocks if "--resolution lowest-direct" in b]
    documented = [line.removeprefix("$ ") for line in block.splitlines() if line.startswith("$ ")]
    assert run.strip().splitlines() == documented
