"""The Oracle's weightless backends: `templates` (replies from the intents file) and `openai` (any OpenAI-compatible
chat completions server). Fast tests: the backends against loopback HTTP servers that script each fault; the real
server (`transformers serve` on the bundled GPT-2) is in tests/test_oracle_openai_serve.py."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from golemline.cli import build_parser, settings_from_args
from golemline.domain import ReplyRequest
from golemline.errors import ConfigError, InvalidInput, StageTimeout, StageUnavailable
from golemline.gating import GatePolicy, check_reply
from golemline.intents import IntentSet, parse_intents, shipped_intents
from golemline.lifecycle import LifecycleManager
from golemline.predictors.oracle import Oracle
from golemline.predictors.oracle_openai import chat_completions_url, system_prompt
from golemline.predictors.oracle_templates import choose_reply, generic_reply
from golemline.settings import PROFILES, Settings
from tests.chat_servers import HungServer, ScriptedChatServer, completion, dead_url

HOME = parse_intents({"intents": [
    {"name": "lights", "description": "switch lights on or off, dim or brighten them",
     "examples": ["Turn on the kitchen lights."], "replies": ["Okay, I've changed the lights.", "Lights done.",
                                                             "The lights are set."]},
    {"name": "door_lock", "description": "lock or unlock a door", "examples": ["Lock the front door."]},
]}, "home.yaml")


def oracle(backend: str, intents: IntentSet | None = None, **overrides: object) -> Oracle:
    """A loaded Oracle on `backend`; `intents` set on the settings the way the intents setting will carry them."""
    model = {"oracle_model": "golem-test-model"} if backend == "openai" else {}
    settings = Settings().with_overrides(oracle_backend=backend, **model, **overrides)
    if intents is not None:
        object.__setattr__(settings, "intents", intents)  # stands in for --intents until the settings carry it
    golem = Oracle(settings)
    golem.load()
    return golem


# -- templates ---------------------------------------------------------------------------------------------------
def test_templates_answer_from_the_intents_file_deterministically() -> None:
    golem = oracle("templates", HOME)
    texts = [f"Please turn on light number {n}." for n in range(12)]
    replies = golem.run([ReplyRequest(t, "lights") for t in texts])
    assert {r.text for r in replies} <= set(HOME.label("lights").replies)
    assert len({r.text for r in replies}) > 1  # a hash of the text spreads requests over the replies
    again = golem.run([ReplyRequest(t, "lights") for t in reversed(texts)])
    assert [r.text for r in again] == [r.text for r in reversed(replies)]  # the same text, the same reply
    assert all(check_reply(r, GatePolicy.of(golem.settings)) is None for r in replies)


def test_the_golem_forward_runs_the_backend_step_on_its_device_thread() -> None:
    """`Golem.forward` is the public device step `Golem.run` uses: given an executor, the backend's `forward` runs
    there, between `preprocess` and `postprocess` on the caller's thread."""
    from concurrent.futures import ThreadPoolExecutor

    from golemline.predictors.oracle_templates import TemplateReplies

    ran: list[tuple[str, str]] = []

    class Recording(TemplateReplies):
        def preprocess(self, batch: list[ReplyRequest]) -> object:
            ran.append(("preprocess", threading.current_thread().name))
            return super().preprocess(batch)

        def forward(self, inputs: object) -> object:
            ran.append(("forward", threading.current_thread().name))
            return super().forward(inputs)

    class RecordingOracle(Oracle):
        backends = {**Oracle.backends, "templates": Recording}

    with ThreadPoolExecutor(1, thread_name_prefix="device-oracle") as device:
        golem = RecordingOracle(Settings().with_overrides(oracle_backend="templates"), device)
        golem.load()
        [reply] = golem.run([ReplyRequest("Will it rain?", "weather")])
        assert golem.forward(["as given"]) == ["as given"]
    caller = threading.current_thread().name
    assert ran[:2] == [("preprocess", caller), ("forward", "device-oracle_0")]
    assert ran[2] == ("forward", "device-oracle_0") and reply.text


def test_an_intent_without_replies_gets_the_generic_acknowledgement() -> None:
    [reply] = oracle("templates", HOME).run([ReplyRequest("Lock the front door.", "door_lock")])
    assert reply.text == generic_reply(HOME.label("door_lock")) == "Okay, I've noted your door lock request."


def test_templates_default_to_the_shipped_replies() -> None:
    [reply] = oracle("templates").run([ReplyRequest("Will it rain?", "weather")])
    assert reply.text in shipped_intents().label("weather").replies


def test_templates_refuse_an_intent_the_file_does_not_name() -> None:
    with pytest.raises(InvalidInput, match=r"intent 'weather' is not in the intents file home\.yaml; known: lights"):
        oracle("templates", HOME).run([ReplyRequest("Will it rain?", "weather")])


def test_custom_intents_without_an_llm_get_the_templates_not_the_demo_model() -> None:
    """The bundled GPT-2 knows the five demo intents only: with other intents it is never asked to reply."""
    settings = Settings()
    object.__setattr__(settings, "intents", HOME)
    golem = Oracle(settings)
    assert golem.spec.backend == "templates" and golem.weightless
    assert Oracle(Settings()).spec == PROFILES["offline"]["oracle"]  # the demo intents keep the bundled model
    own_model = Settings().with_overrides(oracle_model="distilgpt2")
    object.__setattr__(own_model, "intents", HOME)
    assert Oracle(own_model).spec.backend not in ("templates", "openai")  # a model of one's choice stays chosen


def test_choose_reply_is_a_function_of_the_text() -> None:
    label = HOME.label("lights")
    assert choose_reply(ReplyRequest("Dim it.", "lights"), label) == choose_reply(ReplyRequest("Dim it.", "x"), label)


@pytest.mark.parametrize("backend", ["templates", "openai"])
def test_weightless_backends_cost_nothing_in_the_lifecycle(backend: str) -> None:
    """A one-byte budget holds a weightless Oracle under every policy: nothing to resolve, prefetch or account."""
    model = {"oracle_model": "any-name"} if backend == "openai" else {}
    settings = Settings().with_overrides(oracle_backend=backend, oracle_api_url=dead_url(), **model)
    golem = Oracle(settings)
    assert golem.weightless and golem.estimated_bytes() == 0
    for policy in ("resident", "sequential", "lru"):
        manager = LifecycleManager({"oracle": golem}, policy, budget_bytes=1, device="cpu")
        manager.start()
        with manager.use("oracle") as (loaded, _):
            assert loaded.loaded and loaded.memory_bytes() == 0
        manager.shutdown()


# -- settings ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("overrides", "message"), [
    ({"oracle_backend": "openai", "oracle_model": "m"}, "needs the server's address: give --oracle-api-url"),
    ({"oracle_backend": "openai", "oracle_api_url": "http://x:8000/v1"}, "give the model name the server serves"),
    ({"oracle_api_url": "vllm:8000"}, "is not an http(s) URL"),
    ({"oracle_api_timeout_s": 0}, "oracle_api_timeout_s must be a positive"),
    ({"oracle_api_retries": 11}, "oracle_api_retries must be between 0 and 10"),
])
def test_bad_openai_settings_are_one_clear_error(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings().with_overrides(**overrides)


def test_the_api_key_comes_from_a_file_or_the_environment_never_a_flag(tmp_path: Path) -> None:
    parser = build_parser()
    for command in ("run", "serve"):
        sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
        assert not [a for a in sub._actions if a.dest == "oracle_api_key"]  # no flag holds the key itself
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    args = parser.parse_args(["run", "x.wav", "--oracle-backend", "openai", "--oracle-model", "m",
                              "--oracle-api-url", "http://127.0.0.1:9/v1", "--oracle-api-key-file", str(key_file)])
    settings = settings_from_args(args, environ={})
    assert settings.oracle_api_key == "sk-from-file" and "sk-from-file" not in repr(settings)
    from_env = Settings.from_env({"GOLEM_ORACLE_API_KEY": "sk-env", "GOLEM_ORACLE_BACKEND": "openai",
                                  "GOLEM_ORACLE_MODEL": "m", "GOLEM_ORACLE_API_URL": "http://h/v1"})
    assert from_env.oracle_api_key == "sk-env"
    missing = parser.parse_args(["run", "x.wav", "--oracle-api-key-file", str(tmp_path / "absent")])
    with pytest.raises(ConfigError, match="cannot read the Oracle API key file"):
        settings_from_args(missing, environ={})


@pytest.mark.parametrize("base", ["http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/",
                                  "http://h:8000/v1/chat/completions"])
def test_the_endpoint_accepts_what_users_paste(base: str) -> None:
    assert chat_completions_url(base) == "http://h:8000/v1/chat/completions"


# -- openai against loopback servers -----------------------------------------------------------------------------
def test_the_request_carries_the_intent_the_text_and_the_key() -> None:
    with ScriptedChatServer([(200, completion("The lights are on now.", tokens=6))]) as server:
        golem = oracle("openai", HOME, oracle_api_url=server.url, oracle_api_key="sk-test-key", max_new_tokens=24)
        [reply] = golem.run([ReplyRequest("Turn on the porch light.", "lights")])
    assert (reply.text, reply.tokens) == ("The lights are on now.", 6)
    [body] = server.requests
    assert body["model"] == "golem-test-model" and body["max_tokens"] == 24 and body["temperature"] == 0.0
    assert body["messages"] == [{"role": "system", "content": system_prompt(HOME, "lights")},
                                {"role": "user", "content": "Turn on the porch light."}]
    assert "lights (switch lights on or off, dim or brighten them)" in body["messages"][0]["content"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test-key"


def test_a_batch_is_sent_concurrently() -> None:
    """Each request waits at a barrier for the other: sent one after the other, the first would time out."""
    barrier = threading.Barrier(3, timeout=120)
    with ScriptedChatServer([(200, completion("Done."))], barrier=barrier) as server:
        golem = oracle("openai", HOME, oracle_api_url=server.url, oracle_api_timeout_s=180, oracle_api_retries=0)
        replies = golem.run([ReplyRequest(f"Lights {n}.", "lights") for n in range(3)])
    assert [r.text for r in replies] == ["Done."] * 3 and len(server.requests) == 3


def test_busy_answers_are_retried_within_the_bound() -> None:
    busy = (429, {"error": {"message": "rate limited"}})
    with ScriptedChatServer([busy, (503, "overloaded"), (200, completion("Lights on."))]) as server:
        [reply] = oracle("openai", HOME, oracle_api_url=server.url).run([ReplyRequest("Lights.", "lights")])
    assert reply.text == "Lights on." and len(server.requests) == 3
    with ScriptedChatServer([busy]) as server, pytest.raises(StageUnavailable) as caught:
        oracle("openai", HOME, oracle_api_url=server.url, oracle_api_retries=1).run([ReplyRequest("L.", "lights")])
    assert len(server.requests) == 2
    assert str(caught.value).startswith("oracle: the OpenAI-compatible server at ")
    assert "answered HTTP 429: rate limited (2 attempts)" in str(caught.value)
    assert caught.value.http_status == 503


def test_a_refusal_that_retrying_cannot_change_is_reported_at_once() -> None:
    with ScriptedChatServer([(401, {"error": {"message": "invalid api key"}})]) as server, \
            pytest.raises(StageUnavailable, match="oracle: .* answered HTTP 401: invalid api key$"):
        oracle("openai", HOME, oracle_api_url=server.url).run([ReplyRequest("Lights.", "lights")])
    assert len(server.requests) == 1


def test_a_server_that_is_down_is_503_naming_the_oracle() -> None:
    url = dead_url()
    with pytest.raises(StageUnavailable, match=r"^oracle: the OpenAI-compatible server at .* is unavailable "
                                               r"\(ConnectError\) \(2 attempts\)$") as caught:
        oracle("openai", HOME, oracle_api_url=url, oracle_api_retries=1).run([ReplyRequest("L.", "lights")])
    assert caught.value.http_status == 503


def test_a_server_slower_than_the_timeout_is_504_naming_the_oracle() -> None:
    with HungServer() as server, pytest.raises(StageTimeout, match=r"^oracle: .* did not answer within 0\.5 s") \
            as caught:
        oracle("openai", HOME, oracle_api_url=server.url, oracle_api_timeout_s=0.5).run(
            [ReplyRequest("L.", "lights")])
    assert caught.value.http_status == 504


@pytest.mark.parametrize(("content", "reason"), [
    ("", "empty_reply"), ("  \n ... !!! \n", "empty_reply"),
    ("la la la la la la la la la la la la la la la la la la la la la la la la", "repetitive_reply"),
])
def test_garbage_replies_are_stopped_by_the_reply_gate(content: str, reason: str) -> None:
    with ScriptedChatServer([(200, completion(content))]) as server:
        golem = oracle("openai", HOME, oracle_api_url=server.url)
        [reply] = golem.run([ReplyRequest("Lights.", "lights")])
    rejection = check_reply(reply, GatePolicy.of(golem.settings))
    assert rejection is not None and rejection.reason == reason


def test_only_the_first_line_is_the_reply() -> None:
    with ScriptedChatServer([(200, completion("\n  Lights on.  \nRequest: more\nIntent: lights"))]) as server:
        [reply] = oracle("openai", HOME, oracle_api_url=server.url).run([ReplyRequest("Lights.", "lights")])
    assert reply.text == "Lights on." and reply.tokens == 2


@pytest.mark.parametrize("body", ["not json", {"choices": []}, {"choices": [{"message": {"content": 3}}]}])
def test_a_malformed_completion_is_503_naming_the_oracle(body: object) -> None:
    with ScriptedChatServer([(200, body)]) as server, \
            pytest.raises(StageUnavailable, match="^oracle: .* returned a malformed chat completion"):
        oracle("openai", HOME, oracle_api_url=server.url).run([ReplyRequest("Lights.", "lights")])


def test_an_abbreviated_option_is_refused_so_a_key_never_reaches_a_file_flag() -> None:
    """`--oracle-api-key sk-...` must not be taken as `--oracle-api-key-file sk-...` (argparse's prefix matching)."""
    from golemline.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "x.wav", "--oracle-api-key", "sk-secret"])
    assert exit_.value.code == 2
    assert build_parser().parse_args(["run", "x.wav", "--oracle-api-key-file", "k"]).oracle_api_key_file.name == "k"
