"""Every command the README and docs/ show a user works on the README's own install.

The fast tests keep the registry (`tests/documented_commands.py`) complete: a command on a page that the registry
does not know fails here, so a new documented command cannot go untested. The slow test builds a fresh venv with
the README's install command exactly as written, in a throwaway copy of the repository, and runs every registered
command with it (issue 30: three plotting commands once ended in a traceback on that install, while the test
venv, whose extras bring matplotlib, hid it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.documented_commands import INSTALL, REGISTRY, ROOT, How, documented, normalize
from tests.servers import free_port

TRACEBACK = "Traceback (most recent call last)"


def test_every_documented_command_is_registered() -> None:
    shown = documented()
    unknown = [f"{page}: {command}" for page, command in shown if command not in REGISTRY]
    assert not unknown, ("commands shown on a page that tests/documented_commands.py does not know; add each "
                         "with how to run it here:\n" + "\n".join(unknown))
    stale = set(REGISTRY) - {command for _, command in shown}
    assert not stale, f"registered commands that no page shows any more: {sorted(stale)}"


def test_every_substitution_and_skip_says_why() -> None:
    for command, how in REGISTRY.items():
        if how.skip or how.instead is not None:
            assert how.why.strip(), command


def test_the_install_the_slow_test_builds_is_the_readmes() -> None:
    readme = (ROOT / "README.md").read_text()
    assert normalize(re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)[0]) == INSTALL
    assert "[" not in INSTALL, "the README's install has no extras: what a user gets"


def test_commands_are_read_from_bash_and_console_blocks(tmp_path: Path) -> None:
    """Continuation lines, quotes across lines and comments, as the pages write them; console output is not a
    command."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("```bash\n# a comment\ngolem run a.wav   # why\ncurl -d '{\"a\": 1,\n"
                                        "  \"b\": 2}' x\nhelm install \\\n   a b\n```\n")
    (tmp_path / "docs" / "p.md").write_text("```console\n$ golem plan --rate 2   # note\nprinted # output\n"
                                            "$ echo '#not a comment'\n```\n```python\nprint(1)\n```\n")
    assert documented(tmp_path) == [
        ("README.md", "golem run a.wav"), ("README.md", "curl -d '{\"a\": 1, \"b\": 2}' x"),
        ("README.md", "helm install a b"), ("docs/p.md", "golem plan --rate 2"),
        ("docs/p.md", "echo '#not a comment'")]


# --- the fresh install ------------------------------------------------------------------------------------------


def _copy_of_the_repository(dest: Path) -> Path:
    """Tracked and new (not ignored) files only: no .venv, no build outputs, as a fresh clone has."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _environment(copy: Path) -> dict[str, str]:
    """What a user's shell has after `. .venv/bin/activate` in the copy; nothing of this test's own venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    own_venv = os.environ.get("VIRTUAL_ENV")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if not own_venv or not p.startswith(own_venv)]
    env["PATH"] = os.pathsep.join([str(copy / ".venv" / "bin"), *path])
    env["VIRTUAL_ENV"] = str(copy / ".venv")
    return env


class Ran:
    """The log of what the slow test did with each command, printed at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def add(self, verdict: str, command: str, note: str = "") -> None:
        self.rows.append((verdict, command, note))

    def table(self) -> str:
        lines = [f"{'verdict':<12} command  [note]"]
        lines += [f"{verdict:<12} {command}" + (f"  [{note}]" if note else "") for verdict, command, note in self.rows]
        return "\n".join(lines)


def _check(proc: subprocess.CompletedProcess[str], command: str, how: How, missing: list[str]) -> None:
    output = proc.stdout + proc.stderr
    assert TRACEBACK not in output, f"{command}: a traceback\n{output[-4000:]}"
    if missing:
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and missing[0] in lines[0], (
            f"{command}: without {missing[0]} it must say so in one line and exit 2; got {proc.returncode}\n{output}")
        return
    assert proc.returncode == how.expect_rc, f"{command}: exit {proc.returncode}\n{output[-4000:]}"
    if how.json_answer:
        body = json.loads(proc.stdout)
        assert "error" not in body, f"{command}: {body}"


def _run(command: str, copy: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_documented_commands_work_on_a_fresh_install(capsys: pytest.CaptureFixture[str]) -> None:
    # A folder of its own rather than tmp_path: pytest prunes old basetemp folders, and on a machine where other
    # pytest runs start meanwhile it pruned this one's venv while the commands were running.
    with tempfile.TemporaryDirectory(prefix="golemline-fresh-install-") as folder:
        _fresh_install(_copy_of_the_repository(Path(folder) / "golemline"), capsys)


def _fresh_install(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = _environment(copy)
    ran = Ran()
    try:
        install = _run(INSTALL, copy, env, timeout=1800)
        assert TRACEBACK not in install.stdout + install.stderr, install.stderr[-4000:]
        assert install.returncode == 0, install.stderr[-4000:]
        first = json.loads(install.stdout.strip().splitlines()[-1])
        assert first["status"] == "ok", first
        ran.add("ran", INSTALL, "the setup")

        shown = list(dict.fromkeys(command for _, command in documented(copy)))
        for command in shown:
            how = REGISTRY[command]
            if command == INSTALL or how.server or how.serves:
                continue
            if how.skip:
                ran.add("skipped", command, how.why)
                continue
            actual = how.instead or command
            missing = [tool for tool in how.needs if shutil.which(tool, path=env["PATH"]) is None]
            _check(_run(actual, copy, env), command, how, missing)
            verdict = "ran" if how.instead is None else "substituted"
            ran.add(verdict, actual, f"{how.why}" + (f"; without {missing[0]}: one line, exit 2" if missing else ""))

        _serve_and_call(shown, copy, env, ran)
    finally:
        with capsys.disabled():
            print(f"\ndocumented commands on a fresh `pip install -e .` ({len(ran.rows)}):\n{ran.table()}")


def _serve_and_call(shown: list[str], copy: Path, env: dict[str, str], ran: Ran) -> None:
    """Start the documented server on free ports, run the commands that call it, then stop it as a user would."""
    (serve,) = [command for command in shown if REGISTRY[command].serves]
    port, grpc_port = free_port(), free_port()
    actual = (REGISTRY[serve].instead or serve).format(port=port, grpc_port=grpc_port)
    log = copy / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(["bash", "-c", f"exec {actual}"], cwd=copy, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while True:
            assert server.poll() is None, f"{actual} ended with {server.returncode}\n{log.read_text()[-4000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{actual}: not ready in 600 s\n{log.read_text()[-4000:]}"
            time.sleep(1)
        ran.add("substituted", actual, REGISTRY[serve].why)
        calls = dict(env)
        for command in shown:
            how = REGISTRY[command]
            if not how.server:
                continue
            assignment = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", command)
            if assignment:  # a variable the following commands use, as the page's shell would keep it
                name = assignment.group(1)
                proc = _run(f'{command} && printf %s "${name}"', copy, calls)
                _check(proc, command, how, [])
                calls[name] = proc.stdout
            else:
                actual_call = command.replace("localhost:8080", f"127.0.0.1:{port}")
                _check(_run(actual_call, copy, calls, timeout=600), command, how, [])
            ran.add("ran", command, f"against the server on port {port}" if not assignment else "")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=300)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    output = log.read_text()
    assert TRACEBACK not in output, output[-4000:]
    assert code == 0, f"SIGTERM: exit {code}\n{output[-4000:]}"
