"""golemline's own OpenAPI document: what this server really serves, with every status code it really answers.

Why not KServe's: FastAPI derives KServe's document from its handlers, so it lists generic tensors, no error bodies
and only 200/422. But golemline answers `{"error": …}` with 400, 401, 403, 404, 413, 429, 503 and 504, and it
never answers 422. The document is built from the same data the server validates with: `SIGNATURES` (each model's
fields), the domain limits, the settings (per-request instance limit, token, repository switch). Paths name the
models this server hosts, so a client, or a fuzzer such as Schemathesis, sees exactly what it can call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from golemline.domain import MAX_INTENT_CHARS, MAX_LABEL_CHARS, MAX_TEXT_CHARS
from golemline.intents import MAX_LABELS
from golemline.settings import Settings

ERROR = {"$ref": "#/components/schemas/Error"}
# At least one character Python does not strip (its whitespace includes \x1c-\x1f and \x85, ECMA's does not).
NON_BLANK = r"[^\s\x1c-\x1f\x85]"
_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS, "pattern": NON_BLANK}
INSTANCE_FIELDS: dict[str, dict[str, Any]] = {
    "text": _TEXT,
    # null or absent: the shipped intents
    "labels": {"type": "array", "nullable": True, "minItems": 2, "maxItems": MAX_LABELS, "uniqueItems": True,
               "items": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL_CHARS, "pattern": NON_BLANK}},
    # "enum" is filled in per server: the names of the configured intents (`document`)
    "intent": {"type": "string", "maxLength": MAX_INTENT_CHARS},
    "audio": {"type": "string", "format": "byte", "minLength": 1,
              "description": "base64 of a WAV/FLAC/MP3/OGG file (it must decode as audio: else 400)"},
}
STATUS_TEXT = {400: "invalid input (the message names the field)", 401: "missing bearer token",
               403: "invalid bearer token", 404: "no such model (or the API is switched off)",
               413: "too large: body, audio, or more instances than --max-instances",
               429: "the golem's queue is full; retry shortly", 503: "not ready, or a golem is unavailable",
               504: "a remote golem did not answer within --stage-timeout-s"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _responses(ok: dict[str, Any], *statuses: int, guarded: bool) -> dict[str, Any]:
    answers: dict[str, Any] = {"200": {"description": "OK", **_json(ok)}}
    for status in sorted({*statuses, *((401, 403) if guarded else ())}):
        answers[str(status)] = {"description": STATUS_TEXT[status], **_json(ERROR)}
    return answers


def _object(properties: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def _instance(fields: Mapping[str, bool], intents: Iterable[str]) -> dict[str, Any]:
    known = {**INSTANCE_FIELDS, "intent": {**INSTANCE_FIELDS["intent"], "enum": list(intents)}}
    return {**_object({name: known[name] for name in fields},
                      [name for name, required in fields.items() if required]), "additionalProperties": False}


def document(settings: Settings, models: Iterable[str]) -> dict[str, Any]:
    """The OpenAPI 3.0 document for a server hosting `models` under `settings`."""
    from golemline.serving.protocol import SIGNATURES

    guarded = settings.server.auth_token is not None
    limit = settings.server.instance_limit
    op_errors = (400, 404, 413, 429, 503, 504)
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "liveness", "security": [],
                      "responses": _responses(_object({"status": {"type": "string"}}), guarded=False)}},
        "/v2/health/live": {"get": {"summary": "liveness", "security": [],
                                    "responses": _responses(_object({"live": {"type": "boolean"}}), guarded=False)}},
        "/v2/health/ready": {"get": {"summary": "readiness: every model can serve", "security": [],
                                     "responses": _responses(_object({"ready": {"type": "boolean"}}), 503,
                                                             guarded=False)}},
        "/v2": {"get": {"summary": "server metadata", "responses": _responses(_object(
            {"name": {"type": "string"}, "version": {"type": "string"},
             "extensions": {"type": "array", "items": {"type": "string"}}}), guarded=guarded)}},
        "/v2/models": {"get": {"summary": "hosted models", "responses": _responses(_object(
            {"models": {"type": "array", "items": {"type": "string"}}}), guarded=guarded)}},
        "/v1/models": {"get": {"summary": "hosted models", "responses": _responses(_object(
            {"models": {"type": "array", "items": {"type": "string"}}}), guarded=guarded)}},
    }
    ready = _object({"name": {"type": "string"}, "ready": {"type": "boolean"}})
    tensor = _object({"name": {"type": "string"}, "datatype": {"type": "string"},
                      "shape": {"type": "array", "items": {"type": "integer"}}})
    for model in models:
        signature = SIGNATURES[model]
        v2_inputs = {"type": "array", "minItems": 1, "items": {
            **_object({"name": {"type": "string", "enum": list(signature.inputs)},
                       "datatype": {"type": "string", "enum": ["BYTES"]},
                       "shape": {"type": "array", "minItems": 1, "maxItems": 1,
                                 "items": {"type": "integer", "minimum": 1, "maximum": limit}},
                       "data": {"type": "array", "minItems": 1, "maxItems": limit, "items": {"type": "string"}}},
                      ["name", "datatype", "shape", "data"])}}
        paths[f"/v1/models/{model}"] = {"get": {"summary": f"{model} readiness", "security": [],
                                                "responses": _responses(ready, 503, guarded=False)}}
        paths[f"/v2/models/{model}/ready"] = {"get": {"summary": f"{model} readiness", "security": [],
                                                      "responses": _responses(ready, 503, guarded=False)}}
        paths[f"/v2/models/{model}"] = {"get": {"summary": f"{model} metadata", "responses": _responses(_object(
            {"name": {"type": "string"}, "platform": {"type": "string"},
             "versions": {"type": "array", "items": {"type": "string"}},
             "inputs": {"type": "array", "items": tensor}, "outputs": {"type": "array", "items": tensor}}),
            guarded=guarded)}}
        paths[f"/v1/models/{model}:predict"] = {"post": {
            "summary": f"{model}: one result per instance (V1)",
            "requestBody": {"required": True, **_json({**_object(
                {"instances": {"type": "array", "minItems": 1, "maxItems": limit,
                               "items": _instance(signature.inputs, settings.intents.names)},
                 "parameters": {"type": "object"}}, ["instances"]), "additionalProperties": False})},
            "responses": _responses(_object({"predictions": {"type": "array", "items": {"type": "object"}}}),
                                    *op_errors, guarded=guarded)}}
        paths[f"/v2/models/{model}/infer"] = {"post": {
            "summary": f"{model}: one BYTES input per field, shape [n]; output `result`: one JSON string each (V2)",
            "requestBody": {"required": True, **_json(_object(
                {"id": {"type": "string"}, "parameters": {"type": "object"}, "inputs": v2_inputs}, ["inputs"]))},
            "responses": _responses(_object({"model_name": {"type": "string"}, "id": {"type": "string"},
                                             "outputs": {"type": "array", "items": tensor}}),
                                    *op_errors, guarded=guarded)}}
        if settings.server.model_repository_api:
            for action in ("load", "unload"):
                paths[f"/v2/repository/models/{model}/{action}"] = {"post": {
                    "summary": f"{action} {model} (--model-repository-api)", "responses": _responses(
                        _object({"name": {"type": "string"}, action: {"type": "boolean"}}), 404, guarded=guarded)}}
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics", "security": [], "responses": {
        "200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "golemline", "version": _version(),
                 "description": "KServe V1 and Open Inference Protocol V2 for the golems and the pipeline. Errors "
                                "are `{\"error\": message}`; see docs/security.md for access."},
        "paths": paths,
        "components": {"schemas": {"Error": {**_object({"error": {"type": "string"}}, ["error"])}}},
    }
    if guarded:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
    return doc


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("golemline")
    except PackageNotFoundError:
        return "0"
