"""The `golem` command as a user runs it: real subprocesses, JSON output, exit codes, error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golemline.cli import main
from golemline.settings import parse_size

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_KEYS = {"input", "status", "transcript", "intent", "reply", "rejection", "stages", "memory"}


def golem(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "golemline.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def run_json() -> dict[str, dict]:  # type: ignore[type-arg]
    """One `golem run --json` over the weather, noise and silence samples (models load once)."""
    proc = golem("run", "samples/weather.wav", "samples/noise.wav", "samples/silence.wav", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 3
    return {Path(r["input"]).stem: r for r in lines}


def test_weather_sample_gets_weather_and_a_reply(run_json: dict[str, dict]) -> None:  # type: ignore[type-arg]
    result = run_json["weather"]
    assert set(result) >= REQUIRED_KEYS
    assert result["status"] == "ok"
    assert "weather" in result["transcript"].lower()
    assert result["intent"]["label"] == "weather" and 0 < result["intent"]["score"] <= 1
    assert result["reply"]
    assert all(stage["seconds"] >= 0 for stage in result["stages"].values())
    assert result["memory"]["peak_golem_bytes"] > 0


@pytest.mark.parametrize("name", ["noise", "silence"])
def test_noise_and_silence_are_rejected_with_exit_zero(run_json: dict[str, dict], name: str) -> None:  # type: ignore[type-arg]
    result = run_json[name]
    assert result["status"] == "rejected" and result["reply"] is None
    assert result["rejection"]["stage"] == "scribe" and result["rejection"]["reason"] == "no_speech"


def test_human_output_shows_the_rejection_reason() -> None:
    proc = golem("run", "samples/silence.wav")
    assert proc.returncode == 0, proc.stderr
    assert "REJECTED" in proc.stdout and "no_speech" in proc.stdout
    assert "transcript  — (not transcribed)" in proc.stdout and "None" not in proc.stdout


def test_one_bad_file_does_not_lose_the_good_ones(tmp_path: Path) -> None:
    """Every good input's result, one error per bad input (in order), then exit 2."""
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "b.wav").write_bytes((ROOT / "samples" / "noise.wav").read_bytes())
    (folder / "a.wav").write_bytes((ROOT / "samples" / "silence.wav").read_bytes())
    proc = golem("run", "samples/weather.wav", "samples/nope.wav", str(folder), "--json")
    assert proc.returncode == 2
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(Path(r["input"]).name, r["status"]) for r in results] == [
        ("weather.wav", "ok"), ("nope.wav", "error"), ("a.wav", "rejected"), ("b.wav", "rejected")]
    assert "no such file" in results[1]["error"]
    # stderr: loading progress, then one line per bad input
    assert [line for line in proc.stderr.splitlines() if "error" in line] == [
        "golem: error: samples/nope.wav: no such file"]


@pytest.mark.parametrize(("args", "message"), [
    (["run", "missing.wav"], "missing.wav: no such file"),
    (["run", "pyproject.toml"], "pyproject.toml: undecodable audio"),
    (["run", "samples/weather.wav", "--budget", "1MiB"], "cannot hold golem scribe ("),
    (["run", "samples/weather.wav", "--oracle-model", "/nonexistent/model"], "does not exist"),
    (["run", "samples/weather.wav", "--device", "cuda"], "device cuda was asked for, but torch sees no usable GPU"),
])
def test_errors_name_the_problem_and_exit_non_zero(args: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_models_list_shows_the_offline_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["golem"] for r in rows] == ["scribe", "interpreter", "oracle"]
    assert all(r["status"] == "available" for r in rows)


def test_models_list_reports_missing_hub_models(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert main(["models", "list", "--profile", "mission", "--json"]) == 2  # like verify: missing models are exit 2
    rows = json.loads(capsys.readouterr().out)
    # the hint fetches the models that are missing: the mission profile's, not the offline default (edge 8)
    assert all(r["status"] == "missing" and "`golem models pull --profile mission`" in r["hint"] for r in rows)
    assert main(["models", "verify", "--profile", "mission"]) == 2


def test_models_verify_checks_every_golems_checksum(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "verify", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["golem"] for r in rows} == {"scribe", "interpreter", "oracle"}
    assert all(r["status"] == "ok" for r in rows)  # none "unrecorded" (edge 16)


def test_models_verify_fails_on_weights_it_has_no_checksum_for(capsys: pytest.CaptureFixture[str],
                                                               tmp_path: Path) -> None:
    import shutil

    from golemline.modelref import resolve

    copy = tmp_path / "oracle"
    shutil.copytree(resolve("package:golemline/bundled/oracle-gpt2-tiny"), copy)
    (copy / "golemline-training.json").unlink()
    assert main(["models", "verify", "--json", "--oracle-model", str(copy)]) == 2
    captured = capsys.readouterr()
    assert [r["status"] for r in json.loads(captured.out) if r["golem"] == "oracle"] == ["unrecorded"]
    assert captured.err.strip().splitlines()[-1].startswith("golem: error: no recorded checksum for oracle:")


def test_unsupported_dtype_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    import ctranslate2

    if "bfloat16" in ctranslate2.get_supported_compute_types("cpu"):
        pytest.skip("this CPU supports bfloat16, so there is no error to show")
    assert main(["run", "samples/weather.wav", "--dtype", "bf16"]) == 2
    assert "dtype bf16 is not usable on cpu" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["run", "samples/weather.wav", "--budget", "a lot"], "'a lot' is not a size"),
    (["run", "samples/weather.wav", "--seed", "abc"], "'abc' is not a whole number"),
    (["run", "samples/weather.wav", "--device", "tpu"], "is not one of: cpu, cuda, auto"),
])
def test_bad_flag_values_are_one_line_and_exit_2(args: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(args)
    assert raised.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("GOLEM_SEED", "abc", "GOLEM_SEED='abc' is not a whole number"),
    ("GOLEM_BUDGET", "lots", "GOLEM_BUDGET='lots' is not a size"),
    ("GOLEM_PREFETCH", "maybe", "GOLEM_PREFETCH='maybe' is not true or false"),
    ("GOLEM_MAX_BATCH_SIZE", "1.5", "GOLEM_MAX_BATCH_SIZE='1.5' is not a whole number"),
])
def test_bad_environment_values_are_one_line_and_exit_2(variable: str, value: str, message: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["models", "list"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"golem: error: {message}")


@pytest.mark.parametrize("command", [
    ["-m", "golemline.bench.report"], ["-m", "golemline.observability.generate"],
    ["-m", "golemline.observability.png"], ["-m", "golemline.bench.batching"], ["-m", "golemline.bench.load"],
    ["-m", "golemline.serving.probe"]])
def test_every_entry_point_has_help_and_does_no_work_for_it(command: list[str], tmp_path: Path) -> None:
    args = [sys.executable, str(ROOT / command[0])] if command[0].endswith(".py") else [sys.executable, *command]
    proc = subprocess.run([*args, "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python ")  # the command a user types, not "generate.py"
    assert list(tmp_path.iterdir()) == []  # no file named --help, no report written


def test_the_bench_report_finds_the_profile_beside_the_bench(tmp_path: Path) -> None:
    from golemline.bench.report import main as report

    (tmp_path / "bench.json").write_text((ROOT / "docs" / "bench.json").read_text())
    (tmp_path / "profile.json").write_text((ROOT / "docs" / "profile.json").read_text())
    out = tmp_path / "performance.md"
    assert report([str(tmp_path / "bench.json"), "--out", str(out)]) == 0
    assert "## Profile:" in out.read_text()


def test_the_operator_without_a_cluster_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "golemline_operator.cli"], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "no")},
                          timeout=60)
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("golemline-operator: error: no Kubernetes configuration found") and "KUBECONFIG" in line


def test_an_lru_budget_is_never_exceeded_and_one_that_cannot_work_fails_up_front() -> None:
    """Sized from the golems' own accounting (weights at the dtype: the same on every machine), not from one machine's
    RSS: a budget just below the largest golem fails before loading, naming it and a budget that works; that budget
    holds the largest golem alone, not beside the others, and is never exceeded (issue 26, edges 3 and 20)."""
    import re

    from golemline.pipeline import build_golems
    from golemline.settings import Settings, format_size

    sizes = {name: g.estimated_bytes() for name, g in build_golems(Settings().with_overrides(dtype="fp32")).items()}
    largest = max(sizes, key=lambda name: sizes[name])
    too_small = golem("run", "samples/weather.wav", "--policy", "lru", "--budget",
                      format_size(sizes[largest] - 2**20).replace(" ", ""), "--dtype", "fp32")
    assert too_small.returncode == 2
    assert too_small.stdout == "" and f"cannot hold golem {largest} (" in too_small.stderr
    advised = re.search(r"raise --budget to at least ([0-9.]+ MiB)", too_small.stderr)
    assert advised, too_small.stderr
    budget = advised.group(1).replace(" ", "")
    assert sizes[largest] + min(sizes.values()) > parse_size(budget)  # the largest fits alone, not beside another
    proc = golem("run", "samples/weather.wav", "samples/timer.wav", "--policy", "lru", "--budget", budget, "--json",
                 "--dtype", "fp32")
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines():
        memory = json.loads(line)["memory"]
        assert memory["budget_bytes"] == parse_size(budget) and 0 < memory["peak_golem_bytes"] <= parse_size(budget)
        assert memory["budget_warnings"] == []
        assert memory["golem_bytes"]["scribe"] == sizes["scribe"]  # measured once loaded = estimated before


@pytest.mark.parametrize("args", [["models", "list", "--policy", "lru"], ["models", "verify", "--budget", "1GB"],
                                  ["profile", "--golem", "oracle", "--policy", "lru"]])
def test_commands_refuse_options_that_do_nothing_there(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(args)
    assert raised.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_collecting_tests_does_not_feed_pytest_flags_to_kserve() -> None:
    """KServe parses the command line when imported; `pytest --co` must not be read as its --configure_logging."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "tests/test_interpreter.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "tests collected" in proc.stdout or "collected" in proc.stdout
