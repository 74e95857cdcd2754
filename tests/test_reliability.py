"""Faults and security on loopback: auth, graceful shutdown, a golem restarted, a golem that never answers."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.servers import Server, SplitDeployment, audio_b64, free_port, v1

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TOKEN = "s3cret-token-for-tests-only"


@pytest.fixture(scope="module")
def authed() -> Iterator[Server]:
    server = Server("--golem", "interpreter", "--transformer", "--scribe-url", "http://127.0.0.1:9",
                    "--oracle-url", "http://127.0.0.1:9", env={"GOLEM_AUTH_TOKEN": TOKEN})
    # The transformer is not ready (its remotes are down on purpose): wait for the golem it hosts.
    server.wait_model_ready("interpreter", headers={"Authorization": f"Bearer {TOKEN}"})
    yield server
    server.stop()


def test_auth_missing_token_is_401(authed: Server) -> None:
    response = v1(authed.url, "interpreter", [{"text": "play jazz"}])
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", "Bearer nope", f"Bearer {TOKEN[:-1]}"])
def test_auth_wrong_token_is_403(authed: Server, header: str) -> None:
    assert v1(authed.url, "interpreter", [{"text": "play jazz"}], headers={"Authorization": header}).status_code == 403


def test_auth_right_token_is_200_and_probes_stay_open(authed: Server) -> None:
    response = v1(authed.url, "interpreter", [{"text": "play jazz"}], headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.json()["predictions"][0]["labels"][0] == "music"
    assert httpx.get(f"{authed.url}/v2/health/live").status_code == 200
    assert httpx.get(f"{authed.url}/metrics").status_code == 200
    # per-model readiness is a probe too (V2 …/ready and V1's model status); metadata and inference are not
    assert httpx.get(f"{authed.url}/v2/models/interpreter/ready").status_code == 200
    assert httpx.get(f"{authed.url}/v1/models/interpreter").status_code == 200
    assert httpx.get(f"{authed.url}/v2/models/interpreter").status_code == 401


def test_the_token_never_reaches_the_log(authed: Server) -> None:
    assert TOKEN not in authed.log.read_text()


def _wait_for_a_queue(server: Server, golem: str, timeout: float = 30) -> None:
    """Return once the golem's batching queue holds requests: a batch is running and more are waiting."""
    deadline = time.monotonic() + timeout
    pattern = re.compile(rf'^golemline_queue_depth{{golem="{golem}"}} ([0-9.]+)$', re.MULTILINE)
    while time.monotonic() < deadline:
        found = pattern.search(httpx.get(f"{server.url}/metrics", timeout=5).text)
        if found and float(found.group(1)) > 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"{golem}'s queue never filled within {timeout} s")


def test_sigterm_finishes_in_flight_requests_then_exits() -> None:
    server = Server().wait_ready()
    # Twelve commands: the Scribe decodes a batch of 8 while 4 wait, so SIGTERM lands mid-request, not after it.
    audio = [{"audio": audio_b64(SAMPLES / f"{n}.wav")} for n in ("weather", "timer", "music", "news")] * 3
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(v1, server.url, "pipeline", audio, 120)
        _wait_for_a_queue(server, "scribe")
        code = server.stop()
        response = in_flight.result()
    assert response.status_code == 200
    assert [p["status"] for p in response.json()["predictions"]] == ["ok"] * 12
    assert code == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{server.url}/v2/health/live", timeout=2)


class BlackHole:
    """A golem stuck mid-request: it answers its readiness probe (so the transformer is ready), but never answers an
    inference request."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        """Answer GETs (readiness) with 200 on a kept-alive connection; hold the connection of a POST forever."""
        buffered = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffered += chunk
                if buffered.startswith(b"POST"):
                    self.held.append(conn)
                    return
                while b"\r\n\r\n" in buffered:
                    _, buffered = buffered.split(b"\r\n\r\n", 1)
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n"
                                 b'{"ready": true}')
        except OSError:
            return

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_golem_that_never_answers_gives_504_within_the_deadline() -> None:
    hole = BlackHole()
    server = Server("--golem", "scribe", "--golem", "interpreter", "--transformer", "--oracle-url", hole.url,
                    "--stage-timeout-s", "2")
    try:
        server.wait_model_ready("pipeline")
        started = time.monotonic()
        response = v1(server.url, "pipeline", [{"audio": audio_b64(SAMPLES / "weather.wav")}])
        elapsed = time.monotonic() - started
        assert response.status_code == 504
        assert "golem oracle" in response.json()["error"] and "within 2 s" in response.json()["error"]
        assert elapsed < 2 + 8  # scribe + interpreter on CPU, then the 2 s deadline — not a hang
        noise = v1(server.url, "pipeline", [{"audio": audio_b64(SAMPLES / "noise.wav")}])
        assert noise.status_code == 200 and noise.json()["predictions"][0]["status"] == "rejected"  # never asks oracle
    finally:
        server.stop()
        hole.close()


def test_a_golem_killed_mid_request_then_restarted() -> None:
    scribe_port = free_port()
    split = SplitDeployment(transformer_args=("--stage-timeout-s", "5"), ports={"scribe": scribe_port})
    golems, transformer = split.golems, split.transformer
    request = [{"audio": audio_b64(SAMPLES / "timer.wav")}]
    try:
        split.wait_ready()
        assert v1(transformer.url, "pipeline", request).status_code == 200
        # Three of the Scribe's batches of 8: while it decodes the first, the other 16 wait in its queue, which its
        # own gauge shows. Killing it then is mid-request however fast the Scribe is (a fixed sleep was not).
        long_request = [{"audio": audio_b64(SAMPLES / f"{n}.wav")} for n in ("weather", "timer", "music", "news")] * 6
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(v1, transformer.url, "pipeline", long_request, 60)
            _wait_for_a_queue(golems["scribe"], "scribe")
            started = time.monotonic()
            golems["scribe"].kill()
            response = in_flight.result()
        assert response.status_code == 503 and "golem scribe" in response.json()["error"]
        assert time.monotonic() - started < 5  # answered promptly, no hang
        assert v1(transformer.url, "pipeline", request).status_code == 503
        assert httpx.get(f"{transformer.url}/v2/health/ready").status_code != 200
        golems["scribe"] = Server("--golem", "scribe", port=scribe_port).wait_ready()
        transformer.wait_ready(timeout=30)  # readiness flips back once the golem is back
        response = v1(transformer.url, "pipeline", request)
        assert response.status_code == 200 and response.json()["predictions"][0]["intent"]["label"] == "timer"
    finally:
        split.stop()  # stops the restarted scribe too: it replaced the first in `golems`


def test_a_device_that_is_not_there_keeps_the_server_up_not_ready_and_says_why() -> None:
    server = Server("--golem", "interpreter", "--device", "cuda")
    try:
        deadline, text = time.monotonic() + 60, ""
        while "device cuda" not in text and time.monotonic() < deadline:
            time.sleep(0.3)
            try:
                response = httpx.get(f"{server.url}/v2/health/ready", timeout=5)
                text = response.text
            except httpx.HTTPError:
                continue  # not listening yet
        assert response.status_code == 503
        assert "loading the golems failed: device cuda was asked for, but torch sees no usable GPU" in response.text
        model = httpx.get(f"{server.url}/v2/models/interpreter/ready", timeout=5)
        assert model.status_code == 503 and "no usable GPU" in model.json()["error"]
        assert server.process.poll() is None  # up, not ready, no crash loop
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = Server("--golem", "oracle", port=port)
        code = server.process.wait(timeout=60)
    assert code == 2
    assert re.search(rf"golem: error: cannot listen on 127\.0\.0\.1:{port}: .*; choose another --http-port",
                     server.log.read_text())
