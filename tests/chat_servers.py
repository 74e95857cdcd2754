"""OpenAI-compatible servers on loopback for the Oracle's `openai` backend tests.

- `transformers_serve`: the real one, transformers' own `transformers serve`, on the bundled GPT-2 Oracle given a
  chat template (`CHAT_TEMPLATE`) that lays the OpenAI messages out in the prompt format the model was trained on.
- `ScriptedChatServer`: a stdlib HTTP server that answers each POST with the next scripted (status, body) and
  records what it was sent — for the faults a real model cannot be made to produce on cue (a 429, a 401, garbage).
- `HungServer`: accepts connections and never answers (a stuck server: the per-call timeout must fire).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from golemline.bench.loopback import free_port

BUNDLED_ORACLE = Path(__file__).resolve().parents[1] / "golemline" / "bundled" / "oracle-gpt2-tiny"

CHAT_TEMPLATE = (
    "{%- set system = messages[0]['content'] if messages[0]['role'] == 'system' else '' -%}"
    "{%- set intent = system.split('is about ')[1].split(' (')[0] if 'is about ' in system else 'smalltalk' -%}"
    "Request: {{ messages[-1]['content'] }}\nIntent: {{ intent }}\nReply:"
)
"""The bundled Oracle was trained on "Request: …\\nIntent: …\\nReply:" (golemline.predictors.prompt); this template
takes the intent's name from the system prompt the `openai` backend writes ("… is about NAME (description) …")."""


def completion(content: Any, tokens: int | None = None) -> dict[str, Any]:
    """An OpenAI chat completion body with one choice."""
    body: dict[str, Any] = {"id": "chatcmpl-test", "object": "chat.completion", "model": "scripted",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": content}}]}
    if tokens is not None:
        body["usage"] = {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens}
    return body


class ScriptedChatServer:
    """Answers POSTs with scripted (status, JSON body) pairs in order (the last one repeats); records requests.

    `barrier`: every request waits there first — a batch whose requests do not arrive together never passes it."""

    def __init__(self, answers: list[tuple[int, Any]], barrier: threading.Barrier | None = None) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    status, answer = server.answers.pop(0) if len(server.answers) > 1 else server.answers[0]
                if barrier is not None:
                    barrier.wait()
                payload = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class HungServer:
    """A listening socket that accepts and never answers."""

    def __enter__(self) -> HungServer:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()


RUNNING: dict[str, subprocess.Popen[bytes]] = {}
"""`transformers serve` processes by base URL, so a test can stop one to see the Oracle's 503."""


def dead_url() -> str:
    """A loopback address nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"


def chat_model_dir(target: Path) -> Path:
    """A copy of the bundled Oracle with the chat template beside it (what `transformers serve` loads)."""
    model = target / "oracle-gpt2-chat"
    shutil.copytree(BUNDLED_ORACLE, model)
    (model / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    return model


@contextmanager
def transformers_serve(workdir: Path, timeout: float = 300) -> Iterator[str]:
    """Start `transformers serve` on loopback (CPU, offline) and yield its base URL once it answers."""
    port = free_port()
    log = workdir / "transformers-serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [str(Path(sys.executable).with_name("transformers")), "serve", "--host", "127.0.0.1", "--port",
               str(port), "--device", "cpu"]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"transformers serve not up in {timeout}s: {log.read_text()[-3000:]}")
            time.sleep(0.5)
        RUNNING[f"{url}/v1"] = process
        yield f"{url}/v1"
    finally:
        RUNNING.pop(f"{url}/v1", None)
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
