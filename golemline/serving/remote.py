"""Calling a golem on another server over the Open Inference Protocol (split mode), with a stage deadline.

Failures name the golem: unreachable or 5xx → 503, deadline passed → 504, the golem refused the input → 400. A call
refused, dropped or answered 503 is retried once (on the next replica when several are given) within the deadline.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import soundfile

from golemline import requestid
from golemline.audio import TARGET_RATE, Audio
from golemline.domain import IntentRequest, IntentResult, Reply, ReplyRequest, Transcript
from golemline.errors import InvalidInput, StageTimeout, StageUnavailable
from golemline.intents import IntentSet, shipped_intents

log = logging.getLogger("golemline.serve")


def _bytes_input(name: str, values: list[str]) -> dict[str, Any]:
    return {"name": name, "datatype": "BYTES", "shape": [len(values)], "data": values}


def _wav_base64(audio: Audio) -> str:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio.samples, TARGET_RATE, format="WAV", subtype="FLOAT")
    return base64.b64encode(buffer.getvalue()).decode()


def _encode_scribe(batch: list[Audio], intents: IntentSet) -> list[dict[str, Any]]:
    return [_bytes_input("audio", [_wav_base64(a) for a in batch])]


def _encode_interpreter(batch: list[IntentRequest], intents: IntentSet) -> list[dict[str, Any]]:
    """Texts, and label names only when a request names labels other than the configured intents (the remote
    Interpreter is configured with the same intents file: the operator and `--split` give every golem the same)."""
    inputs = [_bytes_input("text", [r.text for r in batch])]
    if any(r.labels != intents.labels for r in batch):
        inputs.append(_bytes_input("labels", [json.dumps([label.name for label in r.labels]) for r in batch]))
    return inputs


def _encode_oracle(batch: list[ReplyRequest], intents: IntentSet) -> list[dict[str, Any]]:
    return [_bytes_input("text", [r.text for r in batch]), _bytes_input("intent", [r.intent for r in batch])]


CODECS: dict[str, tuple[Callable[[list[Any], IntentSet], list[dict[str, Any]]], Callable[..., Any]]] = {
    "scribe": (_encode_scribe, Transcript),
    "interpreter": (_encode_interpreter, IntentResult),
    "oracle": (_encode_oracle, Reply),
}


RETRYABLE = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""Failures that mean the golem did not process the call (refused, or the connection closed before an answer — a
replica closing its listener at the end of a drain). A golem call is a pure function of its inputs, so calling
again cannot do anything twice."""


class _Retry(Exception):
    """One attempt failed in a way another attempt may not: the call is tried again while the deadline allows."""

    def __init__(self, error: StageUnavailable) -> None:
        super().__init__(str(error))
        self.error = error


class RemoteGolem:
    """A stage caller that sends a batch to `{base_url}/v2/models/{name}/infer`.

    `base_url` may name several replicas, comma-separated: calls alternate between them. A call that a replica
    refuses, drops, or answers 503 (loading, draining) is retried once on the next replica — on a fresh connection,
    so behind one Kubernetes Service URL it reaches another pod — within what is left of the stage deadline."""

    def __init__(self, name: str, base_url: str, timeout_s: float, client: httpx.AsyncClient | None = None,
                 token: str | None = None, intents: IntentSet | None = None) -> None:
        self.name = name
        self.intents = intents or shipped_intents()
        self.base_urls = [u.strip().rstrip("/") for u in base_url.split(",") if u.strip()]
        if not self.base_urls:
            raise ValueError(f"golem {name}: no URL given")
        self.base_url = ", ".join(self.base_urls)
        self.url = f"{self.base_urls[0]}/v2/models/{name}/infer"
        self.timeout_s = timeout_s
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._next = 0
        self.retries = 0
        """Calls retried so far (what the retry saved is visible in tests and logs)."""

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(headers=self._headers)
        return self._client

    async def __call__(self, batch: list[Any]) -> list[Any]:
        encode, result_type = CODECS[self.name]
        payload = {"inputs": encode(batch, self.intents)}
        headers = {"x-request-id": current} if (current := requestid.CURRENT.get()) else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        first = self._next
        self._next = (self._next + 1) % len(self.base_urls)
        try:
            return await self._attempt(self._infer_url_from(first, 0), payload, headers, self.timeout_s, result_type,
                                       fresh=False)
        except _Retry as failed:
            left = deadline - loop.time()
            if left <= 0:
                raise failed.error from None
            self.retries += 1
            url = self._infer_url_from(first, 1)
            log.info("golem %s: %s; retrying once at %s", self.name, failed.error, url)
            try:
                return await self._attempt(url, payload, headers, left, result_type, fresh=True)
            except _Retry as again:
                raise again.error from None

    def _infer_url_from(self, first: int, attempt: int) -> str:
        base = self.base_urls[(first + attempt) % len(self.base_urls)]
        return f"{base}/v2/models/{self.name}/infer"

    async def _attempt(self, url: str, payload: dict[str, Any], headers: dict[str, str] | None, timeout_s: float,
                       result_type: Callable[..., Any], fresh: bool) -> list[Any]:
        """One POST; a fresh connection (not the pool's) when retrying, so it can land on another replica."""
        try:
            if fresh:
                async with httpx.AsyncClient(headers=self._headers) as client:
                    response = await client.post(url, json=payload, timeout=timeout_s, headers=headers)
            else:
                response = await self._http().post(url, json=payload, timeout=timeout_s, headers=headers)
        except httpx.TimeoutException as exc:
            raise StageTimeout(f"golem {self.name} at {url} did not answer within {self.timeout_s:g} s") from exc
        except RETRYABLE as exc:
            raise _Retry(StageUnavailable(f"golem {self.name} at {url} is unavailable ({type(exc).__name__})")) from exc
        except httpx.TransportError as exc:
            raise StageUnavailable(f"golem {self.name} at {url} is unavailable ({type(exc).__name__})") from exc
        if response.status_code == 200:
            try:
                [output] = [o for o in response.json()["outputs"] if o["name"] == "result"]
                return [result_type(**json.loads(item)) for item in output["data"]]
            except (KeyError, ValueError, TypeError) as exc:
                raise StageUnavailable(f"golem {self.name} returned a malformed V2 response ({exc})") from exc
        detail = _error_text(response)
        if response.status_code in (400, 413, 422):
            raise InvalidInput(f"golem {self.name} refused the input: {detail}")
        error = StageUnavailable(f"golem {self.name} answered HTTP {response.status_code}: {detail}")
        if response.status_code == 503:  # loading or draining: another replica (or a moment later) may serve it
            raise _Retry(error)
        raise error

    async def ready(self) -> bool:
        """Ready when any replica is: the others are retried around."""
        for base in self.base_urls:
            try:
                response = await self._http().get(f"{base}/v2/models/{self.name}/ready", timeout=self.timeout_s)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                return True
        return False


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("error", body))[:300] if isinstance(body, dict) else str(body)[:300]
