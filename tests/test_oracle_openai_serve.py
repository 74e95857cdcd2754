"""Must-show 4: the `openai` Oracle against a real OpenAI-compatible server on loopback — `transformers serve`
(transformers' own server) on the bundled GPT-2 Oracle given a chat template — through `golem serve` (V1, V2, the
pipeline) and `golem run`; the server down is 503 naming the oracle, a server slower than the timeout is 504, and
`golem run` says so in one line with exit 2."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from golemline.domain import ReplyRequest
from golemline.predictors.oracle import Oracle
from golemline.settings import Settings
from tests.chat_servers import HungServer, chat_model_dir, dead_url, transformers_serve
from tests.servers import Server, audio_b64, v1, v2, v2_results

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
REQUESTS = [ReplyRequest("Will it rain in Lisbon tomorrow?", "weather"), ReplyRequest("Play some jazz.", "music"),
            ReplyRequest("Set a timer for ten minutes.", "timer")]


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL of `transformers serve`, the model directory it serves: the bundled Oracle + a chat template)."""
    work = tmp_path_factory.mktemp("llm")
    model = chat_model_dir(work)
    with transformers_serve(work) as url:
        yield url, model


def openai_settings(url: str, model: Path | str, **overrides: object) -> Settings:
    return Settings().with_overrides(oracle_backend="openai", oracle_model=str(model), oracle_api_url=url,
                                     oracle_api_timeout_s=120, **overrides)


def test_the_server_writes_what_the_bundled_oracle_writes(llm: tuple[str, Path]) -> None:
    """Greedy decoding of the same weights on the same prompt: the server's reply is the local Oracle's, so the
    chat template, the system prompt, the request and the first-line cut all carry the intent through."""
    url, model = llm
    remote = Oracle(openai_settings(url, model))
    local = Oracle(Settings())
    remote.load()
    local.load()
    served, expected = remote.run(REQUESTS), local.run(REQUESTS)
    assert [r.text for r in served] == [r.text for r in expected]
    assert all(r.text and r.tokens > 0 for r in served)


def test_golem_serve_answers_through_the_server_and_names_the_oracle_when_it_is_down(
        llm: tuple[str, Path], tmp_path: Path) -> None:
    url, model = llm
    server = Server("--oracle-backend", "openai", "--oracle-model", str(model), "--oracle-api-url", url,
                    "--oracle-api-retries", "1").wait_ready(timeout=300)
    hung_server = None
    try:
        response = v1(server.url, "pipeline", [{"audio": audio_b64(SAMPLES / "weather.wav")}], timeout=300)
        assert response.status_code == 200, response.text
        [result] = response.json()["predictions"]
        assert result["status"] == "ok" and result["intent"]["label"] == "weather" and result["reply"]
        oracle = {"text": ["Play some jazz."], "intent": ["music"]}
        response = v2(server.url, "oracle", oracle, timeout=300)
        assert response.status_code == 200, response.text
        [reply] = v2_results(response)
        assert reply["text"] and reply["tokens"] > 0

        with HungServer() as hung:
            hung_server = Server("--golem", "oracle", "--oracle-backend", "openai", "--oracle-model", "m",
                                 "--oracle-api-url", hung.url, "--oracle-api-timeout-s", "1").wait_ready(timeout=300)
            for response in (v1(hung_server.url, "oracle", [{"text": "Play jazz.", "intent": "music"}]),
                             v2(hung_server.url, "oracle", oracle)):
                assert response.status_code == 504, response.text
                assert response.json()["error"].startswith("oracle: the OpenAI-compatible server at ")
                assert "did not answer within 1 s" in response.json()["error"]
    finally:
        if hung_server is not None:
            hung_server.stop()
        llm_process_stopped = _stop_llm(llm)
    assert llm_process_stopped
    try:
        for response in (v1(server.url, "pipeline", [{"audio": audio_b64(SAMPLES / "weather.wav")}], timeout=300),
                         v1(server.url, "oracle", [{"text": "Play jazz.", "intent": "music"}]),
                         v2(server.url, "oracle", oracle)):
            assert response.status_code == 503, response.text
            assert response.json()["error"].startswith("oracle: the OpenAI-compatible server at ")
            assert "is unavailable (ConnectError) (2 attempts)" in response.json()["error"]
    finally:
        server.stop()


def _stop_llm(llm: tuple[str, Path]) -> bool:
    """Stop `transformers serve` (the module fixture's): this test runs last and needs the server gone."""
    import httpx

    from tests import chat_servers

    process = chat_servers.RUNNING.pop(llm[0], None)
    if process is None:
        return False
    process.terminate()
    process.wait(timeout=60)
    try:
        httpx.get(f"{llm[0]}/models", timeout=5)
    except httpx.ConnectError:
        return True
    return False


def test_golem_run_says_the_oracle_is_down_in_one_line() -> None:
    command = [sys.executable, "-m", "golemline.cli", "run", str(SAMPLES / "weather.wav"), "--oracle-backend",
               "openai", "--oracle-model", "m", "--oracle-api-url", dead_url(), "--oracle-api-retries", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr
    # stderr also carries the loading progress (one line per golem); the fault is one line, the last, no traceback
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("golem: error:")]
    assert errors == lines[-1:] and "Traceback" not in done.stderr, lines
    assert errors[0].startswith("golem: error: oracle: the OpenAI-compatible server at "), errors
    assert errors[0].endswith("is unavailable (ConnectError) (1 attempt)")
