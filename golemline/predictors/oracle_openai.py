"""The `openai` Oracle backend: replies from any OpenAI-compatible chat completions server.

Why this API: vLLM, KServe's Hugging Face LLM runtime, llama.cpp's server and `transformers serve` all speak
`POST /v1/chat/completions`, so one client reaches whichever LLM a team runs. The system prompt is built from the
intent the Interpreter chose (its name and description), the user message is the transcript.

Faults name the oracle and map to the status a caller can act on: a server that is down or keeps failing is
`StageUnavailable` (503) after bounded retries; a server slower than `oracle_api_timeout_s` is `StageTimeout`
(504) at once — retrying a slow server only makes the caller wait longer. A reply that arrives is not trusted:
the pipeline's reply gate (`golemline.gating.check_reply`) rejects empty and degenerate text as for any backend.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from golemline.domain import Reply, ReplyRequest, compression_ratio
from golemline.errors import StageTimeout, StageUnavailable
from golemline.intents import IntentSet
from golemline.predictors.base import WeightlessBackend
from golemline.predictors.oracle_templates import intents_of
from golemline.settings import Settings

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
"""Answers worth another attempt: the server is busy or briefly broken. Any other status (401 bad key, 404 unknown
model, 400) will not change on retry and is reported at once."""

MAX_CONCURRENT = 16
"""Chat completions of one batch sent at the same time (servers batch concurrent requests themselves)."""


def chat_completions_url(base: str) -> str:
    """The endpoint from what users paste: `http://host:8000`, `http://host:8000/v1` or the full path."""
    base = base.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def system_prompt(intents: IntentSet, intent: str) -> str:
    """What the LLM is told about the request: the intent's name and description (the domain's own words)."""
    try:
        label = intents.label(intent)
        about = f"{label.name} ({label.description})"
    except KeyError:
        about = intent
    return (f"You are a voice assistant. The user's request is about {about}. Reply to the user in one short, "
            "friendly sentence, without lists or markup.")


def first_line(content: str) -> str:
    """The reply is the first non-empty line, whitespace collapsed: a spoken answer is one sentence (the system
    prompt asks for one), and a base model behind a chat template goes on past it ("…\nRequest: …") the way the
    local Oracle would, which stops at the first newline too."""
    for line in content.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


class OpenAIChat(WeightlessBackend[ReplyRequest, Reply]):
    """One chat completion per request; a batch's requests go out concurrently over one connection pool."""

    def __init__(self, model_dir: Path, settings: Settings) -> None:
        super().__init__(model_dir, settings)
        assert settings.oracle_api_url is not None  # Settings refuses the backend without it
        self._url = chat_completions_url(settings.oracle_api_url)
        self._intents = intents_of(settings)
        self._client: httpx.Client | None = None

    def load(self) -> None:
        settings = self.settings
        headers = {"Authorization": f"Bearer {settings.oracle_api_key}"} if settings.oracle_api_key else {}
        self._client = httpx.Client(headers=headers, timeout=settings.oracle_api_timeout_s,
                                    limits=httpx.Limits(max_connections=MAX_CONCURRENT))

    def unload(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def preprocess(self, batch: list[ReplyRequest]) -> list[dict[str, Any]]:
        settings = self.settings
        sampling: dict[str, Any] = {"temperature": 0.0}  # greedy, like the local Oracle without a seed
        if settings.seed is not None:
            sampling = {"temperature": 0.8, "seed": settings.seed}
        return [{"model": str(self.model_dir), "stream": False, "max_tokens": settings.max_new_tokens, **sampling,
                 "messages": [{"role": "system", "content": system_prompt(self._intents, r.intent)},
                              {"role": "user", "content": r.text}]} for r in batch]

    def forward(self, bodies: list[dict[str, Any]]) -> tuple[list[tuple[str, int | None]], float]:
        started = time.perf_counter()
        if len(bodies) == 1:
            answers = [self._complete(bodies[0])]
        else:
            with ThreadPoolExecutor(min(len(bodies), MAX_CONCURRENT), thread_name_prefix="oracle-api") as pool:
                answers = list(pool.map(self._complete, bodies))
        return answers, time.perf_counter() - started

    def _complete(self, body: dict[str, Any]) -> tuple[str, int | None]:
        """One chat completion with bounded retries → (content, completion tokens if the server counted them)."""
        attempts = self.settings.oracle_api_retries + 1
        client = self._client
        assert client is not None, "load() first"
        problem = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
            try:
                response = client.post(self._url, json=body)
            except httpx.TimeoutException as exc:
                raise StageTimeout(f"oracle: the OpenAI-compatible server at {self._url} did not answer within "
                                   f"{self.settings.oracle_api_timeout_s:g} s (oracle_api_timeout_s)") from exc
            except httpx.TransportError as exc:
                problem = f"is unavailable ({type(exc).__name__})"
                continue
            if response.status_code == 200:
                return _content(response, self._url)
            problem = f"answered HTTP {response.status_code}: {_error_text(response)}"
            if response.status_code not in RETRYABLE_STATUS:
                raise StageUnavailable(f"oracle: the OpenAI-compatible server at {self._url} {problem}")
        raise StageUnavailable(f"oracle: the OpenAI-compatible server at {self._url} {problem} "
                               f"({attempts} attempt{'s' if attempts > 1 else ''})")

    def postprocess(self, outputs: tuple[list[tuple[str, int | None]], float],
                    batch: list[ReplyRequest]) -> list[Reply]:
        answers, seconds = outputs
        replies = []
        for content, counted in answers:
            text = first_line(content)
            tokens = counted if counted is not None else len(text.split())
            replies.append(Reply(text=text, tokens=tokens,
                                 tokens_per_s=round(tokens / seconds, 1) if seconds else 0.0,
                                 compression_ratio=round(compression_ratio(text), 3)))
        return replies


def _content(response: httpx.Response, url: str) -> tuple[str, int | None]:
    """The first choice's message and the completion token count; anything else is a broken server (503)."""
    try:
        body = response.json()
        content = body["choices"][0]["message"].get("content") or ""
        if not isinstance(content, str):
            raise TypeError("message content is not text")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise StageUnavailable(f"oracle: the OpenAI-compatible server at {url} returned a malformed chat "
                               f"completion ({type(exc).__name__}: {exc})") from exc
    usage = body.get("usage") if isinstance(body, dict) else None
    counted = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return content, counted if isinstance(counted, int) and counted >= 0 else None


def _error_text(response: httpx.Response) -> str:
    """The server's own error message, short (OpenAI's shape is {"error": {"message": ...}})."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict) and "message" in error:
        error = error["message"]
    return str(error)[:300]
