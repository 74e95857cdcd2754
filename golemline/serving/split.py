"""`golem serve --split`: microservices on one machine — one server per golem plus the transformer.

Ports: the transformer on --http-port (P), scribe on P+1, interpreter on P+2, oracle on P+3; the transformer's gRPC
on --grpc-port, or P+4 when that is one of the golems' ports (the golems serve REST only). The transformer
finds them through --<golem>-url, KServe's predictor-host convention; in Kubernetes each runs in its own pod.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from types import FrameType

from golemline.settings import GOLEMS, Settings

log = logging.getLogger("golemline.split")


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
    base = _without(base, "--grpc-port", True)
    golem_ports = [port + 1 + i for i in range(len(GOLEMS))]
    # The golems talk REST to the transformer; clients reach gRPC on the transformer, which moves past the golems'
    # ports when its configured gRPC port is one of them (the default 8081 is the scribe's HTTP port here).
    grpc = settings.server.grpc_port
    grpc = port + 1 + len(GOLEMS) if grpc in golem_ports else grpc
    commands = [[*cli, *base, "--golem", g, "--http-port", str(p), "--grpc-port", "0"]
                for g, p in zip(GOLEMS, golem_ports, strict=True)]
    urls = [arg for g, p in zip(GOLEMS, golem_ports, strict=True) for arg in (f"--{g}-url", f"http://{local}:{p}")]
    commands.append([*cli, *base, "--transformer", "--http-port", str(port), "--grpc-port", str(grpc), *urls])
    return commands


ROLES = (*GOLEMS, "transformer")
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
"""Seconds before restarting a child that died, growing with each death in a row (reset after a minute up)."""


class Child:
    """One `golem serve` process of the split deployment, restartable."""

    def __init__(self, role: str, command: list[str]) -> None:
        self.role = role
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.deaths = 0
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command)
        self.started = time.monotonic()
        self.restart_at = None
        log.info("split: started %s (pid %d)", self.role, self.process.pid)

    def check(self) -> None:
        """If the process died, say so and schedule its restart with backoff; restart it when due."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        if now - self.started > 60:
            self.deaths = 0
        delay = BACKOFF_S[min(self.deaths, len(BACKOFF_S) - 1)]
        self.deaths += 1
        self.restart_at = now + delay
        log.warning("split: %s (pid %d) exited with code %s; restarting it in %.0f s (the transformer answers 503 "
                    "naming it meanwhile)", self.role, self.process.pid, self.process.returncode, delay)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_split(settings: Settings, argv: list[str]) -> int:
    """Start the four servers and keep them running — a child that dies is logged with its exit code and
    restarted with backoff — until SIGTERM/SIGINT, which stops them all and exits 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    children = [Child(role, command) for role, command in zip(ROLES, child_commands(settings, argv), strict=True)]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.start()
    while not stopping:
        for child in children:
            child.check()
        time.sleep(0.2)
    for child in children:
        child.stop()
    for child in children:
        child.wait()
    return 0
