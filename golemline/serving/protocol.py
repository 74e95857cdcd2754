"""KServe V1 and Open Inference Protocol V2 payloads ↔ the JSON instances every golem validates.

V1: ``{"instances": [{...}, ...]}`` → ``{"predictions": [{...}, ...]}``.
V2: one BYTES input per instance field, all of shape ``[n]`` (``audio``: base64 of the file bytes, or raw bytes
with the binary-data extension; ``labels``: a JSON list per instance) → one BYTES output ``result`` of shape
``[n]`` holding each result as a JSON string.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput

from golemline.audio import Audio, decode
from golemline.errors import InvalidInput, PayloadTooLarge
from golemline.settings import Settings

JSON_FIELDS = {"labels"}  # V2 fields whose BYTES elements hold JSON


@dataclass(frozen=True)
class Signature:
    """A model's V2 tensors: every input and the output are BYTES of shape [-1] (one element per instance)."""

    inputs: Mapping[str, bool]  # name -> required
    outputs: tuple[str, ...] = ("result",)

    def metadata(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(inputs, outputs) as the Open Inference Protocol's model metadata lists them."""
        tensors = [{"name": name, "datatype": "BYTES", "shape": [-1]} for name in self.inputs]
        return tensors, [{"name": name, "datatype": "BYTES", "shape": [-1]} for name in self.outputs]


SIGNATURES: dict[str, Signature] = {
    "pipeline": Signature({"audio": True}),
    "scribe": Signature({"audio": True}),
    "interpreter": Signature({"text": True, "labels": False}),
    "oracle": Signature({"text": True, "intent": True}),
}
"""The README's table of models, as data: what each model accepts over V1 (instance fields) and V2 (inputs)."""


def fields_only(instance: Any, model: str, signature: Signature) -> dict[str, Any]:
    """An instance must be an object with no fields beyond the signature's (the domain constructors then say what
    is missing or malformed)."""
    accepted = ", ".join(signature.inputs)
    if not isinstance(instance, dict):
        raise InvalidInput(f"{model}: each instance must be an object with fields: {accepted}")
    extra = set(instance) - set(signature.inputs)
    if extra:
        raise InvalidInput(f"{model}: unexpected fields {sorted(extra)}; accepted: {accepted}")
    return instance


def audio_instance(instance: Any, settings: Settings, model: str) -> Audio:
    """Validate {"audio": <base64 str, or raw bytes via V2's binary extension>} and decode it."""
    if not isinstance(instance, dict) or "audio" not in instance:
        raise InvalidInput(f"{model}: each instance must be an object with an 'audio' field (base64 of the file)")
    fields_only(instance, model, SIGNATURES["scribe"])
    encoded = instance["audio"]
    if isinstance(encoded, bytes):
        data = encoded
    elif isinstance(encoded, str):
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInput(f"{model}: 'audio' is not valid base64 ({exc})") from exc
    else:
        raise InvalidInput(f"{model}: 'audio' must be a base64 string, not {type(encoded).__name__}")
    return decode(data, max_seconds=settings.max_audio_seconds, max_bytes=settings.max_audio_bytes, name="audio")


@dataclass
class Prepared:
    """What preprocess hands to predict: validated requests, and the V2 request when the call came as V2."""

    requests: list[Any]
    v2: InferRequest | None = None


def _text(value: Any, model: str, name: str) -> str:
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{model}: input '{name}' is not UTF-8 text") from exc
    if isinstance(value, str):
        return value
    raise InvalidInput(f"{model}: input '{name}' elements must be strings, not {type(value).__name__}")


def check_instance_count(count: int, model: str, limit: int | None) -> None:
    """More instances than `limit` is 413 naming the per-request limit: the golem's queue could never hold them,
    so 429 "retry shortly" would be a promise no retry can keep."""
    if limit is not None and count > limit:
        raise PayloadTooLarge(f"{model}: {count} instances in one request exceed the per-request limit of {limit} "
                              "(--max-instances); split the request into smaller ones")


def instances_from(payload: Any, model: str, fields: Mapping[str, bool],
                   limit: int | None = None) -> tuple[list[Any], InferRequest | None]:
    """Turn a V1 dict or a V2 InferRequest into JSON-like instances. `fields`: name → required; `limit`: the most
    instances one request may carry (checked before any instance is decoded)."""
    if isinstance(payload, InferRequest):
        columns: dict[str, list[Any]] = {}
        for tensor in payload.inputs:
            if tensor.name not in fields:
                raise InvalidInput(f"{model}: unknown input '{tensor.name}'; expected {sorted(fields)}")
            if tensor.datatype != "BYTES":
                raise InvalidInput(f"{model}: input '{tensor.name}' must have datatype BYTES, not {tensor.datatype}")
            data = tensor.data
            if isinstance(data, list) and data:
                values = list(data)
            else:  # gRPC raw_input_contents (or a numpy tensor): BYTES elements come back as bytes
                try:
                    values = list(tensor.as_numpy().reshape(-1))
                except ValueError as exc:
                    raise InvalidInput(f"{model}: input '{tensor.name}' has no data matching its shape "
                                       f"{list(tensor.shape)}") from exc
            if list(tensor.shape) != [len(values)]:
                raise InvalidInput(f"{model}: input '{tensor.name}' must have shape [n] matching its "
                                   f"{len(values)} elements, got {list(tensor.shape)}")
            columns[tensor.name] = values
        missing = [name for name, required in fields.items() if required and name not in columns]
        if missing:
            raise InvalidInput(f"{model}: missing input(s) {missing}")
        sizes = {len(v) for v in columns.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise InvalidInput(f"{model}: all inputs need the same non-zero length, got "
                               f"{ {k: len(v) for k, v in columns.items()} }")
        count = sizes.pop()
        check_instance_count(count, model, limit)
        rows = []
        for i in range(count):
            row: dict[str, Any] = {}
            for name, values in columns.items():
                value = values[i]
                if name == "audio" and isinstance(value, bytes | bytearray):
                    row[name] = bytes(value)  # binary-data extension: the file bytes themselves
                    continue
                text = _text(value, model, name)
                if name in JSON_FIELDS:
                    try:
                        row[name] = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise InvalidInput(f"{model}: input '{name}' must hold JSON lists ({exc.msg})") from exc
                else:
                    row[name] = text
            rows.append(row)
        return rows, payload
    if isinstance(payload, bytes | bytearray):  # KServe hands over the raw body when the content type is not JSON
        try:
            payload = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"{model}: the body is not JSON ({exc}); send it with content-type: application/json"
                               ) from exc
    if not isinstance(payload, dict):
        raise InvalidInput(f"{model}: expected a JSON object with an 'instances' list")
    instances = payload.get("instances")
    if not isinstance(instances, list):
        raise InvalidInput(f"{model}: expected a JSON object with an 'instances' list")
    extra = set(payload) - {"instances", "parameters"}
    if extra:
        raise InvalidInput(f"{model}: unexpected top-level fields {sorted(extra)}")
    if not isinstance(payload.get("parameters", {}), dict):
        raise InvalidInput(f"{model}: 'parameters' must be an object")
    if not instances:
        raise InvalidInput(f"{model}: 'instances' is empty")
    check_instance_count(len(instances), model, limit)
    return instances, None


def respond(model: str, results: list[dict[str, Any]], v2: InferRequest | None) -> dict[str, Any] | InferResponse:
    """V1 predictions, or a V2 response whose BYTES output `result` carries each result as JSON."""
    if v2 is None:
        return {"predictions": results}
    binary = v2.use_binary_outputs or any(o.binary_data for o in v2.request_outputs or ())
    encoded: list[Any] = [json.dumps(r) for r in results]
    if binary:  # the binary-data extension (tritonclient's default for BYTES): raw UTF-8 JSON per element
        encoded = [item.encode("utf-8") for item in encoded]
    output = InferOutput(name="result", shape=[len(encoded)], datatype="BYTES", data=encoded)
    return InferResponse(response_id=v2.id or str(uuid.uuid4()), model_name=model, infer_outputs=[output],
                         use_binary_outputs=v2.use_binary_outputs, requested_outputs=v2.request_outputs)


def _split_bytes_tensor(raw: bytes, name: str, model: str) -> list[bytes]:
    """The binary-data extension's BYTES layout: each element is a 4-byte little-endian length, then its bytes."""
    elements, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput(f"{model}: input '{name}' has a truncated element length in its binary data")
        size = int.from_bytes(raw[offset:offset + 4], "little")
        offset += 4
        if offset + size > len(raw):
            raise InvalidInput(f"{model}: input '{name}' declares {size} bytes but its binary data ends first")
        elements.append(raw[offset:offset + size])
        offset += size
    return elements


def binary_request(body: bytes, json_length: str, model: str) -> InferRequest:
    """A V2 request using the binary-data extension (JSON header, then raw tensors), with BYTES elements kept as
    bytes: audio is not UTF-8, and KServe's own decoder would turn it into text and fail (a 500)."""
    try:
        length = int(json_length)
        header = json.loads(body[:length])
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{model}: unreadable binary request: Inference-Header-Content-Length {json_length!r} "
                           f"does not delimit a JSON header ({exc})") from exc
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list):
        raise InvalidInput(f"{model}: the binary request's JSON header needs an 'inputs' list")
    inputs, offset = [], length
    for spec in header["inputs"]:
        if not isinstance(spec, dict) or not {"name", "datatype", "shape"} <= set(spec):
            raise InvalidInput(f"{model}: every input needs name, datatype and shape")
        tensor = InferInput(name=spec["name"], shape=spec["shape"], datatype=spec["datatype"],
                            parameters=spec.get("parameters"))
        size = (spec.get("parameters") or {}).get("binary_data_size")
        if "data" in spec:
            tensor.data = spec["data"]
        elif isinstance(size, int) and size >= 0:
            raw = body[offset:offset + size]
            offset += size
            if spec["datatype"] != "BYTES":
                raise InvalidInput(f"{model}: input '{spec['name']}' must have datatype BYTES, not {spec['datatype']}")
            tensor.data = _split_bytes_tensor(raw, spec["name"], model)
        else:
            raise InvalidInput(f"{model}: input '{spec['name']}' has neither 'data' nor 'binary_data_size'")
        inputs.append(tensor)
    outputs = [RequestedOutput(name=o["name"], parameters=o.get("parameters"))
               for o in header.get("outputs") or () if isinstance(o, dict) and "name" in o] or None
    return InferRequest(model_name=model, infer_inputs=inputs, request_id=header.get("id"),
                        parameters=header.get("parameters"), request_outputs=outputs)
