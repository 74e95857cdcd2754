"""The README's two commands are the ones that work: CI runs the README's test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    blocks = _bash_blocks()
    assert len(blocks) >= 2
    test_command = blocks[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_install_command_runs_a_bundled_sample() -> None:
    install = _bash_blocks()[0]
    sample = re.search(r"golem run (\S+)", install)
    assert sample and (ROOT / sample.group(1)).is_file()
    assert "pip install" in install
