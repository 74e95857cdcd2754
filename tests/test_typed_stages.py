"""mypy sees the chain's stage results typed end to end: a Transcript handed on where an IntentResult is expected
is a type error (tests/typecheck/stages_wrong.py), its correct twin is clean (tests/typecheck/stages_right.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TYPECHECK = ROOT / "tests" / "typecheck"


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
                          cwd=ROOT, capture_output=True, text=True)


def test_a_transcript_where_an_intent_result_is_expected_fails_the_type_check() -> None:
    proc = _mypy(str(TYPECHECK / "stages_right.py"), str(TYPECHECK / "stages_wrong.py"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert errors and all(line.startswith("tests/typecheck/stages_wrong.py:") for line in errors), proc.stdout
    assert any('Argument "interpreter" to "StageCallers"' in line and "list[Transcript]" in line
               and "Awaitable[list[IntentResult]]" in line for line in errors), proc.stdout
    assert any('expression has type "Transcript", variable has type "IntentResult | None"' in line
               for line in errors), proc.stdout


def test_the_project_type_check_leaves_the_wrong_twin_out() -> None:
    """`mypy tests` (a folder, as a contributor might run it) skips the deliberately wrong file and checks the
    right one, so the project's own runs stay clean."""
    proc = _mypy(str(TYPECHECK.relative_to(ROOT)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues found in 2 source files" in proc.stdout  # __init__.py and stages_right.py
