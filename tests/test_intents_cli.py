"""Intents files through the command line and the settings: a bad file is one `golem: error:` line and exit 2
before any golem loads, and nothing is written; a good one changes what derives from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from golemline.cli import main
from golemline.errors import ConfigError
from golemline.settings import PROFILES, TEMPLATE_ORACLE, Settings

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "examples" / "intents" / "home.yaml"


def _good() -> dict[str, Any]:
    return {"intents": [{"name": "lights", "description": "switching lights", "examples": ["Turn on the lights."]},
                        {"name": "locks", "description": "locking doors", "examples": ["Lock the front door."]}]}


def _bad(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A bad intents file of the given kind, and the words its error must carry."""
    path = tmp_path / "intents.yaml"
    document = _good()
    if kind == "one intent":
        document["intents"] = document["intents"][:1]
        expected = "at least two intents"
    elif kind == "duplicate name":
        document["intents"][1]["name"] = "lights"
        expected = "'lights' appears twice"
    elif kind == "no examples":
        del document["intents"][1]["examples"]
        expected = "intent 'locks' has no examples"
    elif kind == "empty examples":
        document["intents"][1]["examples"] = []
        expected = "examples needs at least one entry"
    elif kind == "unknown key":
        document["intents"][0]["utterances"] = ["Lights on."]
        expected = "unknown key(s) utterances"
    elif kind == "unknown top-level key":
        document["replies"] = ["Okay."]
        expected = "unknown key(s) replies"
    elif kind == "bad name":
        document["intents"][0]["name"] = "Turn-On"
        expected = "'Turn-On' is not a metric-safe label"
    elif kind == "reserved name":
        document["intents"][0]["name"] = "none"
        expected = "'none' is reserved"
    elif kind == "missing file":
        return tmp_path / "nowhere.yaml", "cannot read the intents file"
    elif kind == "bad yaml":
        path.write_text("intents:\n  - name: lights\n    examples: [unclosed\n")
        return path, "not valid YAML"
    path.write_text(yaml.safe_dump(document))
    return path, expected


KINDS = ["one intent", "duplicate name", "no examples", "empty examples", "unknown key", "unknown top-level key",
         "bad name", "reserved name", "missing file", "bad yaml"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("surface", ["run flag", "environment", "check", "calibrate"])
def test_a_bad_intents_file_is_one_line_exit_2_and_nothing_written(kind: str, surface: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path, expected = _bad(kind, tmp_path)
    out = tmp_path / "gating.yaml"
    args = {"run flag": ["run", "--intents", str(path), str(ROOT / "samples" / "weather.wav"), "--json"],
            "environment": ["run", str(ROOT / "samples" / "weather.wav"), "--json"],
            "check": ["intents", "check", str(path)],
            "calibrate": ["gate", "calibrate", "--intents", str(path), "--out", str(out), "--small"]}[surface]
    if surface == "environment":
        monkeypatch.setenv("GOLEM_INTENTS", str(path))
    assert main(args) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()  # one line, no traceback
    assert line.startswith("golem: error: ") and str(path) in line and expected in line, line
    assert captured.out == "" and not out.exists()


def test_intents_check_summarises_what_derives_from_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["intents", "check", str(HOME)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{HOME}: 6 intents, valid")
    for name in ("lights", "thermostat", "locks", "blinds", "appliances", "shopping_list"):
        assert f"  {name} " in out
    assert "open-set gate on" in out and "templates" in out


def test_the_intents_set_the_prompt_the_oracle_and_the_known_intents() -> None:
    shipped = Settings()
    assert shipped.intents.is_shipped and shipped.golems["oracle"] == PROFILES["offline"]["oracle"]
    assert shipped.prompt.startswith("Is it going to be sunny this afternoon?")
    home = Settings.from_env({"GOLEM_INTENTS": str(HOME)})
    assert home.intents.names == ("lights", "thermostat", "locks", "blinds", "appliances", "shopping_list")
    assert home.prompt == home.intents.scribe_prompt and home.prompt.startswith("Turn on the kitchen lights.")
    assert home.golems["oracle"] == TEMPLATE_ORACLE  # the GPT-2 Oracle only knows the demo intents
    assert home.with_overrides(scribe_prompt="").prompt == ""  # an explicit prompt (even none) wins
    assert home.with_overrides(scribe_prompt="Porch light.").prompt == "Porch light."
    # an Oracle chosen explicitly stays chosen
    chosen = Settings.from_env({"GOLEM_INTENTS": str(HOME), "GOLEM_ORACLE_MODEL": "/models/my-llm"})
    assert chosen.golems["oracle"].model == "/models/my-llm"


def test_a_bad_intents_value_through_with_overrides_is_a_config_error(tmp_path: Path) -> None:
    path, _ = _bad("one intent", tmp_path)
    with pytest.raises(ConfigError, match="at least two intents"):
        Settings().with_overrides(intents=str(path))


def test_domain_requests_follow_the_configured_intents() -> None:
    from golemline.domain import IntentRequest, ReplyRequest
    from golemline.errors import InvalidInput

    home = Settings.from_env({"GOLEM_INTENTS": str(HOME)}).intents
    request = IntentRequest.create("Lights on please.", intents=home)
    assert [label.name for label in request.labels] == list(home.names)
    assert ReplyRequest.create("Lights on.", "lights", home.names).intent == "lights"
    with pytest.raises(InvalidInput, match="unknown intent 'weather'; known intents: lights, thermostat"):
        ReplyRequest.create("Will it rain?", "weather", home.names)


def _golden_folder(tmp_path: Path, rows: list[str]) -> Path:
    import shutil

    folder = tmp_path / "golden"
    folder.mkdir()
    for name in ("lights", "locks"):
        shutil.copy(ROOT / "tests" / "data" / "home" / f"{name}.wav", folder / f"{name}.wav")
    shutil.copy(ROOT / "samples" / "noise.wav", folder / "noise.wav")
    (folder / "metadata.csv").write_text("\n".join(["file_name,intent,stage,transcript", *rows]) + "\n")
    return folder


def test_the_canary_golden_set_follows_the_intents(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from golemline.serving.canary import GOLDEN, cases_for

    assert cases_for(Settings()) == GOLDEN  # shipped intents: the shipped samples
    home = Settings.from_env({"GOLEM_INTENTS": str(HOME)})
    with caplog.at_level("WARNING", logger="golemline.serve"):
        assert cases_for(home) is None  # custom intents and no golden set: off, and said
    assert "canary off" in caplog.text and str(HOME) in caplog.text
    folder = _golden_folder(tmp_path, ["lights.wav,lights,,Please turn on the lights in the kitchen.",
                                       "locks.wav,locks,,", "noise.wav,none,scribe,"])
    cases = cases_for(home.with_overrides(canary_golden_set=str(folder)))
    assert cases is not None and [(c.intent, c.stage) for c in cases] == [("lights", None), ("locks", None),
                                                                          (None, "scribe")]
    assert cases[0].spoken == "Please turn on the lights in the kitchen."


@pytest.mark.parametrize(("rows", "message"), [
    (["missing.wav,lights,,"], "line 2: no audio file 'missing.wav'"),
    (["lights.wav,lights,,", "locks.wav,weather,,"], "line 3: intent 'weather' is not in the intents file"),
    (["lights.wav,lights,scribe,"], "stage 'scribe' is for `none` rows only"),
])
def test_a_bad_golden_set_names_the_row(rows: list[str], message: str, tmp_path: Path) -> None:
    from golemline.serving.canary import cases_for

    settings = Settings.from_env({"GOLEM_INTENTS": str(HOME)}).with_overrides(
        canary_golden_set=str(_golden_folder(tmp_path, rows)))
    with pytest.raises(ConfigError, match=message):
        cases_for(settings)


def test_a_none_row_may_be_rejected_at_any_stage() -> None:
    from golemline.domain import IntentResult
    from golemline.gating import Rejection
    from golemline.pipeline import PipelineResult
    from golemline.serving.canary import GoldenCase, score

    cases = (GoldenCase("a", "lights"), GoldenCase("b"))
    ok = PipelineResult("a", intent=IntentResult(["lights", "fans"], [0.7, 0.2], 0.5))
    refused = PipelineResult("b", status="rejected", rejection=Rejection("interpreter", "low_intent_score", "unsure"))
    assert score(cases, [ok, refused]).accuracy["pipeline"] == 1.0
    answered = PipelineResult("b", intent=IntentResult(["locks", "lights"], [0.7, 0.2], 0.5))
    assert score(cases, [ok, answered]).accuracy["pipeline"] == 0.5


def test_the_split_transformer_sends_labels_only_when_they_differ_from_the_configured_intents() -> None:
    from golemline.domain import IntentRequest
    from golemline.intents import shipped_intents
    from golemline.serving.remote import CODECS

    home = Settings.from_env({"GOLEM_INTENTS": str(HOME)}).intents
    encode, _ = CODECS["interpreter"]
    configured = [IntentRequest.create("Lights on.", intents=home)]
    assert [i["name"] for i in encode(configured, home)] == ["text"]  # the remote Interpreter has the same file
    shipped = [IntentRequest.create("Lights on.")]
    [_, labels] = encode(shipped, home)
    assert labels["name"] == "labels" and json.loads(labels["data"][0]) == list(shipped_intents().names)
