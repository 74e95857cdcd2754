"""Calling a golem on another server over the Open Inference Protocol (split mode), with a stage deadline.

Failures name the golem: unreachable or 5xx → 503, deadline passed → 504, the golem refused the input → 400.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import soundfile

from golemline import requestid
from golemline.audio import TARGET_RATE, Audio
from golemline.domain import IntentRequest, IntentResult, Reply, ReplyRequest, Transcript
from golemline.errors import InvalidInput, StageTimeout, StageUnavailable
from golemline.intents import IntentSet, shipped_intents


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


class RemoteGolem:
    """A stage caller that sends a batch to `{base_url}/v2/models/{name}/infer`."""

    def __init__(self, name: str, base_url: str, timeout_s: float, client: httpx.AsyncClient | None = None,
                 token: str | None = None, intents: IntentSet | None = None) -> None:
        self.name = name
        self.intents = intents or shipped_intents()
        self.base_url = base_url
        self.url = f"{base_url}/v2/models/{name}/infer"
        self.timeout_s = timeout_s
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(headers=self._headers)
        return self._client

    async def __call__(self, batch: list[Any]) -> list[Any]:
        encode, result_type = CODECS[self.name]
        payload = {"inputs": encode(batch, self.intents)}
        try:
            headers = {"x-request-id": current} if (current := requestid.CURRENT.get()) else None
            response = await self._http().post(self.url, json=payload, timeout=self.timeout_s, headers=headers)
        except httpx.TimeoutException as exc:
            raise StageTimeout(f"golem {self.name} at {self.url} did not answer within {self.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise StageUnavailable(f"golem {self.name} at {self.url} is unavailable ({type(exc).__name__})") from exc
        if response.status_code == 200:
            try:
                [output] = [o for o in response.json()["outputs"] if o["name"] == "result"]
                return [result_type(**json.loads(item)) for item in output["data"]]
            except (KeyError, ValueError, TypeError) as exc:
                raise StageUnavailable(f"golem {self.name} returned a malformed V2 response ({exc})") from exc
        detail = _error_text(response)
        if response.status_code in (400, 413, 422):
            raise InvalidInput(f"golem {self.name} refused the input: {detail}")
        raise StageUnavailable(f"golem {self.name} answered HTTP {response.status_code}: {detail}")

    async def ready(self) -> bool:
        try:
            response = await self._http().get(self.url.removesuffix("/infer") + "/ready", timeout=self.timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("error", body))[:300] if isinstance(body, dict) else str(body)[:300]
