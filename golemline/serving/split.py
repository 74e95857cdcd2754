"""`golem serve --split`: microservices on one machine — one server per golem plus the transformer.

Ports: the transformer on --http-port (P), scribe on P+1, interpreter on P+2, oracle on P+3. The transformer
finds them through --<golem>-url, KServe's predictor-host convention; in Kubernetes each runs in its own pod.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType

from golemline.settings import GOLEMS, Settings


def _without(argv: list[str], flag: str, takes_value: bool) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == flag:
            skip = takes_value
            continue
        if arg.startswith(flag + "="):
            continue
        out.append(arg)
    return out


def child_commands(settings: Settings, argv: list[str]) -> list[list[str]]:
    """The four `golem serve` command lines, sharing every other flag given to --split."""
    base = _without(_without(argv, "--split", False), "--http-port", True)
    base = [a for a in base if a != "serve"]
    port, host = settings.server.http_port, settings.server.host
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    cli = [sys.executable, "-m", "golemline.cli", "serve"]
    commands = [[*cli, *base, "--golem", g, "--http-port", str(port + 1 + i)] for i, g in enumerate(GOLEMS)]
    urls = [arg for i, g in enumerate(GOLEMS) for arg in (f"--{g}-url", f"http://{local}:{port + 1 + i}")]
    commands.append([*cli, *base, "--transformer", "--http-port", str(port), *urls])
    return commands


def run_split(settings: Settings, argv: list[str]) -> int:
    """Start the four servers; stop them all when one exits or on SIGTERM/SIGINT."""
    children = [subprocess.Popen(command) for command in child_commands(settings, argv)]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0 if stopping else 1
