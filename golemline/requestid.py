"""Request ids: one per request, honoured from `X-Request-Id` or issued, carried in a context variable so every log
line, every result and every hop to a remote golem can name it without passing it through each call."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

CURRENT: ContextVar[str | None] = ContextVar("golemline_request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_id() -> str:
    return uuid.uuid4().hex


def accept(header: str | None) -> str:
    """The caller's id when it is a sane token (letters, digits, `._:-`, at most 128), else a new one — so a
    header cannot inject text into a log line."""
    return header if header is not None and _VALID.match(header) else new_id()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (`-` outside a request) for the log format."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = CURRENT.get() or "-"
        return True
