"""The documented examples are real: `golem run`'s console output and JSON shape (docs/run.md), every curl command
and client snippet (docs/serving.md), run here. They moved out of the README when it became a product page; the
checks followed them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import golem

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RUN_PAGE = (ROOT / "docs" / "run.md").read_text()
SERVING_PAGE = (ROOT / "docs" / "serving.md").read_text()

# Figures that change from run to run or machine to machine; everything else must match the real output exactly.
MEASURED = re.compile(r"\d+\.\d+ s|\d+\.\d+ [KMG]iB")


def _comparable(lines: list[str]) -> list[str]:
    """The lines with measured figures masked, and, for a sample refused at the Scribe (noise), what Whisper made
    of the noise: the int8 kernels differ by CPU instruction set, so the same noise decodes to different words and a
    slightly different no-speech probability on another machine (the verdict and its reason do not change)."""
    chunks: list[list[str]] = []
    for line in lines:
        if not line.startswith(" ") or not chunks:
            chunks.append([])
        chunks[-1].append(MEASURED.sub("#", line))
    for chunk in chunks:
        if any(line.startswith("  rejected    at scribe: no_speech") for line in chunk):
            chunk[:] = [("  transcript  #" if line.startswith("  transcript  ") else
                         re.sub(r"no-speech probability \d\.\d+", "no-speech probability #", line)) for line in chunk]
    return [line for chunk in chunks for line in chunk]


def _block(language: str, index: int = 0, page: str = RUN_PAGE) -> str:
    return re.findall(rf"```{language}\n(.*?)\n```", page, flags=re.S)[index]


def _paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{prefix}{k}", *_paths(v, f"{prefix}{k}.")}}
    return set()


def test_the_console_example_is_what_golem_run_prints() -> None:
    command, *expected = _block("console").splitlines()
    args = command.removeprefix("$ golem ").split()
    proc = golem(*args)
    assert proc.returncode == 0, proc.stderr
    assert _comparable(proc.stdout.splitlines()) == _comparable(expected)


def test_the_json_example_has_the_real_shape() -> None:
    example = json.loads(_block("json"))
    proc = golem("run", "samples/weather.wav", "--json")
    assert proc.returncode == 0, proc.stderr
    real = json.loads(proc.stdout)
    assert _paths(example) == _paths(real)
    for key in ("input", "status", "transcript", "reply", "rejection"):
        assert example[key] == real[key]
    assert example["intent"]["label"] == real["intent"]["label"]


@pytest.fixture(scope="module")
def server_url(monolith: Any) -> str:
    """The session's default server (conftest), as `golem serve --http-port 8080` starts it."""
    return str(monolith.url)


def test_every_curl_command_in_the_docs_answers(server_url: str) -> None:
    """docs/serving.md's curl block, run verbatim as one bash script (pointed at this server): every answer is JSON
    with results and no error."""
    block = next(b for b in re.findall(r"```bash\n(.*?)\n```", SERVING_PAGE, flags=re.S) if "curl" in b)
    wrapper = 'curl() { command curl "$@"; printf "\\n%%%%END%%%%\\n"; }\n'
    script = wrapper + block.replace("localhost:8080", server_url.removeprefix("http://"))
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(chunk) for chunk in proc.stdout.split("%%END%%") if chunk.strip()]
    assert len(answers) == block.count("curl ")
    for body in answers:
        assert "error" not in body, body
        results = body.get("predictions") or [json.loads(x) for x in body["outputs"][0]["data"]]
        assert results and all(isinstance(r, dict) for r in results), body


def test_the_readme_test_command_is_what_ci_runs() -> None:
    test_command = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()
    assert sys.executable  # the suite itself is running under that command's venv


@pytest.fixture(scope="module")
def grpc_server(monolith: Any) -> tuple[str, str]:
    """The same server: its REST and gRPC addresses."""
    return str(monolith.url).removeprefix("http://"), str(monolith.grpc_url)


@pytest.mark.parametrize("index", range(3))
def test_every_client_snippet_in_the_docs_runs(grpc_server: tuple[str, str], index: int) -> None:
    """Each in a process of its own (tritonclient's and KServe's gRPC modules cannot share one)."""
    snippet = re.findall(r"```python\n(.*?)\n```", SERVING_PAGE, flags=re.S)[index]
    rest, grpc = grpc_server
    code = snippet.replace("localhost:8080", rest).replace("localhost:8081", grpc)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = proc.stdout.strip().splitlines()
    expected = re.findall(r"print\(.*?\)\s+# (.+)$", snippet, flags=re.M)
    assert printed and len(printed) >= len(expected)
    if index == 0:
        assert "'name': 'audio'" in printed[0] and printed[1].startswith("ok weather ")
    for line in expected:
        if not line.startswith("["):
            assert line.strip() in printed, (line, printed)
