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


class FreshInstall:
    """The throwaway copy and the README's install in it, started in the background as the session begins
    (`tests/conftest.py`, when the slow test below is selected): the install mostly unpacks wheels, one core's work,
    while the tests before this one mostly wait for servers to load, so the two share the machine instead of
    queueing. The test waits for it, then checks it exactly as before.

    A folder of its own rather than tmp_path: pytest prunes old basetemp folders, and on a machine where other
    pytest runs start meanwhile it pruned this one's venv while the commands were running."""

    TIMEOUT_S = 1800.0

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started = 0.0

    def start(self) -> None:
        if self._folder is not None:
            return
        self._folder = tempfile.TemporaryDirectory(prefix="golemline-fresh-install-")
        self.copy = _copy_of_the_repository(Path(self._folder.name) / "golemline")
        self.env = _environment(self.copy)
        self._started = time.monotonic()
        with (self.copy.parent / "install.out").open("wb") as out, (self.copy.parent / "install.err").open("wb") as err:
            self._process = subprocess.Popen(["bash", "-o", "pipefail", "-c", INSTALL], cwd=self.copy, env=self.env,
                                             stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)

    def result(self) -> subprocess.CompletedProcess[str]:
        """Wait for the install (at most TIMEOUT_S from its start), as `subprocess.run` would have returned it."""
        self.start()
        assert self._process is not None
        try:
            code = self._process.wait(timeout=max(1.0, self._started + self.TIMEOUT_S - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        out, err = ((self.copy.parent / name).read_text(errors="replace") for name in ("install.out", "install.err"))
        return subprocess.CompletedProcess(INSTALL, code, out, err)

    def stop(self) -> None:
        """End the install if it still runs (the session ends early) and delete the folder."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


FRESH_INSTALL = FreshInstall()


@pytest.mark.slow
def test_documented_commands_work_on_a_fresh_install(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        _fresh_install(FRESH_INSTALL, capsys)
    finally:
        FRESH_INSTALL.stop()


def _fresh_install(fresh: FreshInstall, capsys: pytest.CaptureFixture[str]) -> None:
    ran = Ran()
    try:
        install = fresh.result()
        copy, env = fresh.copy, fresh.env
        assert TRACEBACK not in install.stdout + install.stderr, install.stderr[-4000:]
        assert install.returncode == 0, install.stderr[-4000:]
        first = json.loads(install.stdout.strip().splitlines()[-1])
        assert first["status"] == "ok", first
        ran.add("ran", INSTALL, "the setup")

        shown = list(dict.fromkeys(command for _, command in documented(copy)))
        # The documented server loads its golems while the other commands run (it waits for requests, they do the
        # work); it is on free ports of its own, so nothing they start meets it.
        server = _DocumentedServer(shown, copy, env)
        try:
            _run_the_commands(shown, copy, env, ran)
            server.wait_ready()
            ran.add("substituted", server.actual, REGISTRY[server.command].why)
            _call_the_server(shown, copy, env, ran, server.port)
        except BaseException:
            server.process.kill()  # the failure above is the news, not how the server takes an early end
            server.process.wait()
            raise
        server.stop()
    finally:
        with capsys.disabled():
            print(f"\ndocumented commands on a fresh `pip install -e .` ({len(ran.rows)}):\n{ran.table()}")


def _run_the_commands(shown: list[str], copy: Path, env: dict[str, str], ran: Ran) -> None:
    """Every command that needs no server, in page order: as written, substituted, or skipped with the reason."""
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


class _DocumentedServer:
    """The documented `golem serve`, started in the background on free ports; `stop` ends it as a user would
    (SIGTERM), which must exit 0 with no traceback in its log."""

    def __init__(self, shown: list[str], copy: Path, env: dict[str, str]) -> None:
        (self.command,) = [command for command in shown if REGISTRY[command].serves]
        self.port, grpc_port = free_port(), free_port()
        self.actual = (REGISTRY[self.command].instead or self.command).format(port=self.port, grpc_port=grpc_port)
        self.log = copy / "serve.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(["bash", "-c", f"exec {self.actual}"], cwd=copy, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 600
        while True:
            assert self.process.poll() is None, (
                f"{self.actual} ended with {self.process.returncode}\n{self.log.read_text()[-4000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/v2/health/ready", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{self.actual}: not ready in 600 s\n{self.log.read_text()[-4000:]}"
            time.sleep(1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        output = self.log.read_text()
        assert TRACEBACK not in output, output[-4000:]
        assert code == 0, f"SIGTERM: exit {code}\n{output[-4000:]}"


def _call_the_server(shown: list[str], copy: Path, env: dict[str, str], ran: Ran, port: int) -> None:
    """The commands that call the documented server, in page order, with the variables the page's shell keeps."""
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
