"""Start `golem serve` processes on loopback and call them: what `golem bench` measures (split vs monolith,
batching on vs off, the load generator); the tests reuse it to run real servers."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from golemline.settings import GOLEMS

# How long a server may take to load its golems and report ready. Generous on purpose: on a busy 2-core machine
# three golems took over 120 s (the documented `png --demo` timed out there); a server that is not ready in ten
# minutes is broken, not slow.
READY_TIMEOUT_S = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One `golem serve ...` process bound to 127.0.0.1; records whether it was seen not-ready first."""

    def __init__(self, *args: str, port: int | None = None, env: dict[str, str] | None = None,
                 source: Path | None = None) -> None:
        """`source`: run the golemline in that checkout instead of this one (a benchmark's baseline)."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(tempfile.gettempdir()) / f"golem-serve-{self.port}.log"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
        if source is not None:
            env["PYTHONPATH"] = str(source)
        grpc = [] if "--grpc-port" in args or "--split" in args else ["--grpc-port", "0"]  # many servers, one host
        # Nothing routes around a loopback server: close at once on SIGTERM unless a test measures the drain. A
        # baseline checkout may predate the option, so it keeps its own default.
        drain = [] if "--drain-s" in args or source is not None else ["--drain-s", "0"]
        command = [sys.executable, "-m", "golemline.cli", "serve", "--host", "127.0.0.1",
                   "--http-port", str(self.port), *grpc, *drain, *args]
        self.process = subprocess.Popen(command, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                        cwd=source)
        self.seen_not_ready = False

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                response = httpx.get(f"{self.url}/v2/health/ready", timeout=2)
                if response.status_code == 200 and response.json().get("ready") is True:
                    return self
                self.seen_not_ready = True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server on {self.port} not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def wait_model_ready(self, model: str, timeout: float = 120, headers: dict[str, str] | None = None) -> Server:
        """Wait for one model's readiness (a transformer's server readiness also needs its remote golems)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v2/models/{model}/ready", timeout=2, headers=headers).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{model} on {self.port} not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        """SIGTERM, then wait for a graceful exit (kill after 20 s); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def audio_b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def v1(url: str, model: str, instances: list[Any], timeout: float = 60,
       headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/v1/models/{model}:predict", json={"instances": instances}, timeout=timeout,
                      headers=headers)


class SplitDeployment:
    """Microservices on loopback, as `golem serve --split` runs them: one server per golem plus the transformer,
    wired by URL. `ports` pins a golem's port (to restart it where the transformer expects it)."""

    def __init__(self, *golem_args: str, transformer_args: tuple[str, ...] = (),
                 ports: dict[str, int] | None = None) -> None:
        self.golems = {name: Server("--golem", name, *golem_args, port=(ports or {}).get(name))
                       for name in GOLEMS}
        urls = [arg for name, server in self.golems.items() for arg in (f"--{name}-url", server.url)]
        self.transformer = Server("--transformer", *transformer_args, *urls)

    @property
    def servers(self) -> list[Server]:
        return [*self.golems.values(), self.transformer]

    def wait_ready(self) -> SplitDeployment:
        for server in self.servers:
            server.wait_ready()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
