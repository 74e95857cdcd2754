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


KSERVE_INTERNALS = ROOT / "golemline" / "serving" / "kserve_internals.py"
PUBLIC_KSERVE_MODULES = {"kserve", "kserve.errors", "kserve.protocol.infer_type",
                         "kserve.protocol.grpc.grpc_predict_v2_pb2", "kserve.protocol.grpc.grpc_predict_v2_pb2_grpc"}
"""What golemline may import from KServe outside the internals module: the package (kserve.Model, ModelServer,
ModelRepository, InferRequest…), its errors, and the Open Inference Protocol types and generated gRPC stubs."""
KSERVE_PRIVATE = re.compile(
    r"_model_registry|FASTAPI_APP_IMPORT_STRING|\bDataPlane\b|\bRESTServer\b|model_server\b|_app_configured"
    r"|ModelRepositoryExtension|InferenceServicer|ExceptionToStatusInterceptor|disable_predictor_health_check"
    r"|get_model_from_registry|parse_known_args|\bkserve(?:\.\w+)*\._\w+")


def kserve_coupling(root: Path) -> list[str]:
    """`file:line: what` for each KServe internal named, or KServe module imported beyond the public ones, in
    golemline/ outside the internals module."""
    import ast

    found = []
    for path in sorted((root / "golemline").rglob("*.py")):
        if path.name == KSERVE_INTERNALS.name and path.parent.name == "serving":
            continue
        text = path.read_text()
        where = path.relative_to(root)
        found += [f"{where}:{i}: {m.group(0)}" for i, line in enumerate(text.splitlines(), 1)
                  for m in KSERVE_PRIVATE.finditer(line)]
        for node in ast.walk(ast.parse(text)):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            if isinstance(node, ast.ImportFrom) and node.module == "kserve.protocol.grpc":  # the generated stubs
                modules = [f"{node.module}.{a.name}" for a in node.names]
            found += [f"{where}:{node.lineno}: import {m}" for m in modules
                      if m.split(".")[0] == "kserve" and m not in PUBLIC_KSERVE_MODULES]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kserve" \
                    and (node.attr.startswith("_") or node.attr in {"model_server", "protocol", "model_repository"}):
                found.append(f"{where}:{node.lineno}: kserve.{node.attr}")
    return found


def test_kserve_internals_are_named_only_in_their_module() -> None:
    """KServe changes its internals between minor versions: outside `golemline/serving/kserve_internals.py`,
    golemline uses only KServe's public API, so a KServe upgrade has one module to review."""
    assert kserve_coupling(ROOT) == []


def test_the_coupling_check_finds_each_kind_of_internal(tmp_path: Path) -> None:
    """Each way of reaching into KServe is caught: a private name, an internal module, a private attribute."""
    (tmp_path / "golemline" / "serving").mkdir(parents=True)
    (tmp_path / "golemline" / "serving" / "kserve_internals.py").write_text("from kserve.model_server import app\n")
    (tmp_path / "golemline" / "leak.py").write_text(
        "import kserve\nfrom kserve.protocol.rest.server import RESTServer\nfrom kserve.errors import InvalidInput\n"
        "import kserve.model_repository\nregistry = dataplane._model_registry\nkserve._private()\n")
    assert sorted(set(kserve_coupling(tmp_path))) == [
        "golemline/leak.py:2: RESTServer", "golemline/leak.py:2: import kserve.protocol.rest.server",
        "golemline/leak.py:4: import kserve.model_repository", "golemline/leak.py:5: _model_registry",
        "golemline/leak.py:6: kserve._private"]
