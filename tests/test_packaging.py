"""`pip install .` (not editable) gives a working `golem`: the wheel holds every subpackage and the shipped data,
and runs from a folder that is not the checkout. This is what the container image does."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [built] = out.glob("golemline-*.whl")
    return built


def test_the_wheel_holds_every_subpackage_and_the_shipped_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.parent.relative_to(ROOT)) for p in ROOT.glob("golemline/**/__init__.py")}
    assert {f"{package}/__init__.py" for package in packages} <= names
    assert {f"golemline/samples/{name}.wav" for name in ("weather", "noise")} <= names
    assert "golemline/plan/prices.yaml" in names  # `golem plan`'s default price table
    assert "golemline/bundled/oracle-gpt2-tiny/model.safetensors" in names
    assert not any(name.startswith(("tests/", "operator/", "golemline_operator/")) for name in names)


def test_the_installed_wheel_runs_the_pipeline_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    """A fresh venv with only the wheel installed; its dependencies are borrowed from this venv through a .pth
    line (a plain path: the editable install's hook in there is not run, so golemline comes from the wheel)."""
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "borrowed-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import golemline; print(golemline.__file__)"], cwd=elsewhere,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(purelib), where  # the wheel's copy, not the checkout
    subpackages = [".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("golemline/**/__init__.py")]
    imported = subprocess.run([str(python), "-c", f"import importlib; [importlib.import_module(m) for m in "
                               f"{subpackages!r}]"], cwd=elsewhere, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    run = subprocess.run([str(env_dir / "bin" / "golem"), "run", str(ROOT / "samples" / "weather.wav"), "--json"],
                         cwd=elsewhere, capture_output=True, text=True, timeout=600,
                         env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["status"] == "ok" and result["intent"]["label"] == "weather"
