"""Typed errors. Each names the HTTP status it becomes when served, like KServe's own error classes.

The CLI prints their message and exits non-zero; the server maps them to 4xx/5xx. Messages say what to do.
"""

from __future__ import annotations


class GolemlineError(Exception):
    """Base class: `http_status` is what a server answers with; the message is shown to the caller as is."""

    http_status = 500


class InvalidInput(GolemlineError):
    """The request or file cannot be used (bad audio, missing field, too many labels): 400."""

    http_status = 400


class PayloadTooLarge(InvalidInput):
    """The request body or audio exceeds a configured limit: 413."""

    http_status = 413


class ModelNotFound(GolemlineError):
    """A model reference does not resolve to weights on this machine: 404 (served) / exit 2 (CLI)."""

    http_status = 404


class BudgetError(GolemlineError):
    """The memory budget cannot hold the golem that must run: 503 (served), a configuration error (CLI)."""

    http_status = 503


class ConfigError(GolemlineError):
    """A setting is invalid (unknown profile, backend, dtype or policy; a malformed GOLEM_* value): exit 2."""

    http_status = 500


class StageUnavailable(GolemlineError):
    """A remote golem cannot be reached or failed: 503, naming the golem."""

    http_status = 503


class StageTimeout(GolemlineError):
    """A remote golem did not answer within its stage deadline: 504, naming the golem."""

    http_status = 504


class DeviceError(ConfigError):
    """The device or dtype cannot be used here (no GPU, a driver fault at load): exit 2 (CLI); the server keeps the
    golem not ready and says why in its log and readiness answer."""

    http_status = 503


class Overloaded(GolemlineError):
    """A golem's batching queue is full: 429, retry later."""

    http_status = 429
