"""A malformed YAML file a user wrote reads the same everywhere: one line naming the file, the line and column where
the YAML breaks and PyYAML's problem, as the error the caller's layer raises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from golemline.errors import ConfigError
from golemline.intents import IntentsError, load_intents
from golemline.plan.prices import load as load_prices
from golemline.settings import gating_from_file

READERS: list[tuple[str, Callable[[Path], Any], type[Exception]]] = [
    ("intents", load_intents, IntentsError), ("prices", load_prices, ConfigError),
    ("gating", gating_from_file, ConfigError)]


@pytest.mark.parametrize(("name", "reader", "error"), READERS, ids=[r[0] for r in READERS])
def test_malformed_yaml_is_one_line_with_its_line_and_column(name: str, reader: Callable[[Path], Any],
                                                              error: type[Exception], tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text("a: 1\nb: [1, 2\n")
    with pytest.raises(error) as caught:
        reader(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML at line 3, column 1 (") and "\n" not in message


@pytest.mark.parametrize(("name", "reader", "error"), READERS, ids=[r[0] for r in READERS])
def test_a_missing_file_says_it_cannot_be_read(name: str, reader: Callable[[Path], Any], error: type[Exception],
                                               tmp_path: Path) -> None:
    with pytest.raises(error, match=r"cannot read the .* \(No such file or directory\)"):
        reader(tmp_path / f"{name}.yaml")
