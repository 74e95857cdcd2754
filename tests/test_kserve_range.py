"""The KServe range golemline declares (pyproject.toml) is the range it checks at import, the installed KServe is
inside it, and a KServe outside it stops `golem serve` with one line that says what to install."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from golemline.errors import ConfigError
from golemline.serving import kserve_internals

ROOT = Path(__file__).resolve().parents[1]


def declared() -> str:
    """The `kserve` requirement's specifier in pyproject.toml, e.g. `>=0.20,<0.22`."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(d.removeprefix("kserve") for d in dependencies if re.match(r"kserve\b", d))


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_ = re.findall(r"\d+", version)
    return int(major), int(minor_)


def test_pyproject_declares_the_range_the_adapter_checks() -> None:
    assert declared() == kserve_internals.supported_range()


def test_the_installed_kserve_is_inside_the_declared_range() -> None:
    floor, ceiling = re.fullmatch(r">=([\d.]+),<([\d.]+)", declared()).groups()  # type: ignore[union-attr]
    assert minor(floor) <= minor(metadata.version("kserve")) < minor(ceiling)


@pytest.mark.parametrize("version", ["0.20.0", "0.21.0", "0.21.3rc1"])
def test_versions_inside_the_range_are_accepted(version: str) -> None:
    kserve_internals.check_version(version)


@pytest.mark.parametrize("version", ["0.19.1", "0.22.0", "1.0.0"])
def test_versions_outside_the_range_are_refused_saying_what_to_install(version: str) -> None:
    with pytest.raises(ConfigError, match=rf"kserve {re.escape(version)} is installed; run: pip install "
                                          r"'kserve>=0\.20,<0\.22'"):
        kserve_internals.check_version(version)


@pytest.mark.slow
def test_serve_with_an_unsupported_kserve_is_one_line_and_exit_2() -> None:
    """As if KServe 0.22.0 were installed: `golem serve` stops before loading anything."""
    code = ("import importlib.metadata as m, sys\nreal = m.version\n"
            "m.version = lambda name: '0.22.0' if name == 'kserve' else real(name)\n"
            "from golemline.cli import main\nsys.exit(main(['serve', '--golem', 'interpreter']))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "golem: error: golemline supports kserve>=0.20,<0.22, but kserve 0.22.0 is installed; "
        "run: pip install 'kserve>=0.20,<0.22'")


@pytest.mark.parametrize("where", [".github/workflows/ci.yml", "docs/contributing.md"])
def test_ci_and_the_docs_test_the_declared_floor(where: str) -> None:
    """The floor is tested where it is declared tested: CI's job and the contributing page's command install it."""
    floor = re.fullmatch(r">=([\d.]+),<[\d.]+", declared()).group(1)  # type: ignore[union-attr]
    pinned = re.findall(r"'kserve==([\d.]+)'", (ROOT / where).read_text())
    assert pinned and all(minor(version) == minor(floor) for version in pinned), pinned
