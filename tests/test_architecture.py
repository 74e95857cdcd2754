"""The layout keeps its promises: one-way layers, a torch-free domain, a repository that stands alone, and no
top-level folder that shadows the standard library."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = [p for p in (*ROOT.glob("golemline/**/*.py"), *ROOT.glob("operator/**/*.py"), *ROOT.glob("tests/**/*.py"),
                    *ROOT.glob("scripts/*"), ROOT / ".ci" / "run") if p.is_file()]


def test_import_contracts_hold() -> None:
    """import-linter: domain → golems → lifecycle → pipeline → serving/bench/observability → CLI, one way only;
    the domain, settings and gate import no model or serving library."""
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_every_module_sits_in_a_layer() -> None:
    """A module outside every layer escapes the one-way rule silently: each top-level module and package of
    golemline must be named in the layers contract."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in config if c["type"] == "layers")
    named = {part.strip() for layer in layers for part in re.split(r"[|:]", layer)}
    modules = {f"golemline.{p.stem}" for p in (ROOT / "golemline").glob("*.py") if p.stem != "__init__"}
    packages = {f"golemline.{p.parent.name}" for p in (ROOT / "golemline").glob("*/__init__.py")}
    assert sorted(modules | packages) == sorted(named)


@pytest.mark.parametrize("module", ["golemline.gating", "golemline.domain", "golemline.settings"])
def test_the_gate_and_the_domain_load_neither_torch_nor_kserve(module: str) -> None:
    code = (f"import sys, {module}; heavy = sorted(m for m in ('torch', 'kserve', 'fastapi', 'transformers', "
            "'ctranslate2') if m in sys.modules); print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_code_or_test_reads_outside_the_repository() -> None:
    """A bare clone has nothing beside it: no path may climb out of the repository."""
    outside = re.compile(r"\.\./shared|parent\s*/\s*[\"']shared|parents\[[2-9]\]|\.parent\.parent\.parent")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in CODE if p != Path(__file__)
                 for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if outside.search(line)]
    assert offenders == []


def test_no_top_level_package_shadows_the_standard_library() -> None:
    shadows = [d.name for d in ROOT.iterdir() if (d / "__init__.py").is_file() and d.name in sys.stdlib_module_names]
    assert shadows == []


def test_python_started_in_the_repository_gets_the_standard_library(tmp_path: Path) -> None:
    """From the repository root, in a new plain venv (no editable-install hook to hide a shadowing package)."""
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    proc = subprocess.run([str(python), "-"], input="import re, enum, operator; print(operator.__file__)",
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not proc.stdout.strip().startswith(str(ROOT)) and "site-packages" not in proc.stdout


def test_mypy_sees_the_golems(tmp_path: Path) -> None:
    """With the project's mypy configuration, misuse of a golem's result type is an error (it is not Any)."""
    probe = tmp_path / "probe.py"
    probe.write_text("from golemline.gating import GatePolicy, check_transcript\n"
                     "from golemline.settings import Settings\n"
                     "check_transcript(42, GatePolicy.of(Settings()))\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(probe)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout
    assert 'incompatible type "int"; expected "Transcript"' in proc.stdout
