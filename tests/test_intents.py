"""The intents file: the shipped domain loads from it unchanged, and every kind of bad file is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from golemline.intents import IntentsError, load_intents, resolve_intents, shipped_intents

GOOD = {"intents": [
    {"name": "lights", "description": "switch lights on or off", "examples": ["Turn on the lights."],
     "replies": ["Okay, lights changed."]},
    {"name": "locks", "description": "lock or unlock a door", "examples": ["Lock the front door."]},
]}


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "intents.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_shipped_domain_is_the_five_demo_intents_with_a_background() -> None:
    shipped = shipped_intents()
    assert shipped.names == ("weather", "timer", "music", "news", "smalltalk")
    assert shipped.is_shipped and len(shipped.background) > 10
    assert all(label.examples and label.replies for label in shipped.labels)
    assert resolve_intents(None) is shipped and resolve_intents("") is shipped


def test_a_file_of_ones_own_loads_with_its_replies_and_prompt(tmp_path: Path) -> None:
    domain = load_intents(_write(tmp_path, GOOD))
    assert domain.names == ("lights", "locks") and not domain.is_shipped
    assert domain.label("lights").replies == ("Okay, lights changed.",)
    assert domain.label("locks").replies == () and domain.background == ()
    assert domain.scribe_prompt == "Turn on the lights. Lock the front door."


def _bad(change: str) -> object:
    document: dict = {"intents": [dict(intent) for intent in GOOD["intents"]]}
    first = document["intents"][0]
    if change == "one intent":
        document["intents"] = document["intents"][:1]
    elif change == "duplicate":
        document["intents"][1]["name"] = "lights"
    elif change == "no examples":
        del first["examples"]
    elif change == "empty examples":
        first["examples"] = []
    elif change == "unknown key":
        first["utterances"] = ["x"]
    elif change == "unknown top key":
        document["intent"] = []
    elif change == "bad name":
        first["name"] = "Lights On"
    elif change == "reserved name":
        first["name"] = "none"
    elif change == "no description":
        first["description"] = " "
    elif change == "not a mapping":
        return ["lights", "locks"]
    return document


@pytest.mark.parametrize("change, words", [
    ("one intent", "at least two"), ("duplicate", "appears twice"), ("no examples", "no examples"),
    ("empty examples", "at least one"), ("unknown key", "unknown key"), ("unknown top key", "unknown key"),
    ("bad name", "metric-safe"), ("reserved name", "reserved"), ("no description", "description"),
    ("not a mapping", "mapping"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_problem(tmp_path: Path, change: str, words: str) -> None:
    path = _write(tmp_path, _bad(change))
    with pytest.raises(IntentsError) as error:
        load_intents(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path)) and words in message


def test_a_missing_or_unparsable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(IntentsError, match="cannot read"):
        load_intents(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("intents: [\n  - name: x\n")
    with pytest.raises(IntentsError, match="not valid YAML at line"):
        load_intents(broken)
