"""Reading a user's YAML file (intents, prices, gate thresholds) with the same one-line errors everywhere.

Why one place: a file a user wrote is a user fault when it is unreadable or malformed, so the message must name the
file, say where the YAML breaks and fit on one line (the CLI prints it and exits 2), never PyYAML's multi-line dump.
Each caller passes the error class its layer raises.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def parse_yaml(text: str, where: str, error: type[Exception]) -> Any:
    """The YAML document in `text`; malformed YAML raises `error` naming `where`, the line, column and problem."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise error(f"{where}: not valid YAML{at}" + (f" ({problem})" if problem else "")) from None


def read_yaml(path: str | os.PathLike[str], what: str, error: type[Exception]) -> Any:
    """The YAML document in the file at `path` (`what` names it in the message: "the intents file")."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    return parse_yaml(text, str(path), error)
