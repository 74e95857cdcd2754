"""`golem plan`: the queueing formulas against textbook values, the layouts' sizing, and the real command on the
committed docs/bench.json, whose values file must lint and render with real Helm and become valid
InferenceServices."""

from __future__ import annotations

import json
import math
from pathlib import Path

import helm_python
import pytest
import yaml

from golemline.cli import main
from golemline.plan import layouts, prices, profiles
from golemline.plan.queueing import ServiceCurve, erlang_c, shared_device_stretch, station
from golemline_operator.builders import build_inference_services
from tests.k8s_schemas import validate
from tests.test_chart import CHART, kinds, render

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench.json"


def test_erlang_c_matches_textbook_values() -> None:
    assert erlang_c(1, 0.6) == pytest.approx(0.6)  # M/M/1: an arrival waits with probability ρ
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2, a = 1: (1/(2·0.5)) / (1 + 1 + 1)
    assert erlang_c(3, 3.5) == 1.0 and erlang_c(3, 0) == 0.0


def test_one_server_without_batching_is_pollaczek_khinchine() -> None:
    curve = ServiceCurve({1: 0.2}, {1: 0.2})
    estimate = station(rate=3.0, replicas=1, curve=curve)
    rho = 3.0 * 0.2
    assert estimate.utilisation == pytest.approx(rho)
    assert estimate.mean_s - 0.2 == pytest.approx(rho * 0.2 / (2 * (1 - rho)))  # M/D/1 mean wait


def test_batching_keeps_a_station_stable_that_one_by_one_could_not_carry() -> None:
    curve = ServiceCurve({1: 0.1, 4: 0.12, 8: 0.14}, {1: 0.1, 4: 0.12, 8: 0.14})
    assert not station(rate=20, replicas=1, curve=curve, max_batch=1).stable  # 20/s × 0.1 s = 2 erlangs
    batched = station(rate=20, replicas=1, curve=curve, max_batch=8, window_s=0.01)
    assert batched.stable and batched.batch > 2
    assert station(rate=20, replicas=3, curve=curve).p95_s < station(rate=20, replicas=2, curve=curve).p95_s


def test_a_shared_device_stretches_the_tail_by_how_often_requests_meet() -> None:
    """The p95 of "T with probability 1 − p, uniform on (T, 2T) with probability p" is T·(2 − 0.05/p)."""
    assert shared_device_stretch(0.0, 0.2) == 1.0
    assert shared_device_stretch(0.1, 0.2) == 1.0  # p = 1 − e^−0.04 ≈ 0.04: fewer than one in twenty meet
    device_s, rate = 0.15, 0.5
    met = 1 - math.exp(-2 * rate * device_s)
    stretch = shared_device_stretch(rate, device_s)
    assert stretch == pytest.approx(2 - 0.05 / met)
    # the same quantile from the distribution itself, sampled on a fine grid
    draws = sorted([device_s] * round(1e5 * (1 - met)) + [device_s * (1 + (i + 0.5) / round(1e5 * met))
                                                          for i in range(round(1e5 * met))])
    assert draws[int(0.95 * len(draws))] / device_s == pytest.approx(stretch, abs=1e-3)
    assert 1 < stretch < shared_device_stretch(2.0, device_s) < 2


def test_a_monolith_pod_adds_the_larger_of_queueing_and_sharing_not_both() -> None:
    cpu = prices.Device("cpu", "cpu", 1 << 40, 0.0)
    golems = {name: profiles.GolemProfile(name, ServiceCurve({1: 0.1}, {1: 0.1}), 1) for name in layouts.GOLEMS}
    quiet = layouts.Objective(rate=0.05, p95_s=5, max_batch=1, window_s=0.0)
    stations, p95 = layouts.monolith_estimate(golems, cpu, 1, quiet)
    assert p95 == pytest.approx(sum(s.p95_s for s in stations.values()))  # requests rarely meet: no stretch
    busy = layouts.Objective(rate=1.0, p95_s=5, max_batch=1, window_s=0.0)
    stations, p95 = layouts.monolith_estimate(golems, cpu, 1, busy)
    waits = sum(s.wait_p95_s for s in stations.values())
    sharing = (shared_device_stretch(1.0, 0.3) - 1) * 0.3  # three golems' passes alone: 0.3 s of device work
    assert 0 < waits < sharing
    assert p95 == pytest.approx(sum(s.p95_s for s in stations.values()) - waits + sharing)
    assert layouts.monolith_estimate(golems, cpu, 2, busy)[1] < p95  # a second pod halves each pod's rate


def _measurements() -> profiles.Measurements:
    return profiles.from_bench(BENCH)


def test_more_traffic_needs_more_replicas_and_costs_more_per_hour() -> None:
    table = prices.load()
    cpu = next(d for d in table.devices if d.kind == "cpu")
    measured = _measurements()
    # Twice what one Scribe can serve at its best batch size: more than one replica's worth, whatever the bench
    # measured (a fixed rate stopped needing a second replica once the Scribe got faster).
    scribe = measured.golems["scribe"].curve.median_s
    rate = round(2 * max(batch / seconds for batch, seconds in scribe.items()), 1)
    light = layouts.plan_split(measured, cpu, table, layouts.Objective(rate=0.5, p95_s=3))
    heavy = layouts.plan_split(measured, cpu, table, layouts.Objective(rate=rate, p95_s=3))
    assert light.meets(layouts.Objective(0.5, 3)) and heavy.meets(layouts.Objective(rate, 3))
    assert heavy.replicas["scribe"] > light.replicas["scribe"]
    assert heavy.dollars_per_hour > light.dollars_per_hour
    assert heavy.dollars_per_1k(layouts.Objective(rate, 3)) < light.dollars_per_1k(layouts.Objective(0.5, 3))


def _lint_render_validate(values_file: Path) -> list[dict]:  # type: ignore[type-arg]
    values = yaml.safe_load(values_file.read_text())
    report = helm_python.lint(str(CHART), values, strict=True)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []
    docs = render(values)
    for doc in docs:
        validate(doc)
    [pipeline] = kinds(docs, "GolemPipeline")
    pipeline["metadata"]["uid"] = "uid-from-the-api-server"  # what the API server adds on create
    services = build_inference_services(pipeline)
    for service in services:
        validate(service)
    return services


def test_golem_plan_on_the_committed_bench_prints_layouts_and_writes_values_helm_accepts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values_file = tmp_path / "values.yaml"
    assert main(["plan", "--bench", str(BENCH), "--rate", "2", "--p95", "2", "--values-out", str(values_file)]) == 0
    out = capsys.readouterr().out
    assert "$/hour" in out and "$/1k req" in out
    for layout in ("monolith", "split", "split (MIG)", "monolith (MIG)"):
        assert f"\n{layout} " in out
    assert "cheapest that meets the objective" in out
    services = _lint_render_validate(values_file)
    assert services

    assert main(["plan", "--bench", str(BENCH), "--rate", "2", "--p95", "2", "--json",
                 "--values-out", str(tmp_path / "v2.yaml")]) == 0
    candidates = json.loads(capsys.readouterr().out)["candidates"]
    meeting = [c for c in candidates if c["meets"]]
    assert meeting[0]["dollars_per_hour"] == min(c["dollars_per_hour"] for c in meeting)  # the cheapest is chosen


def test_a_mig_slice_too_small_for_the_monolith_gives_a_split_on_mig_slices(tmp_path: Path) -> None:
    measured = _measurements()
    total = sum(p.memory_bytes for p in measured.golems.values())
    largest = max(p.memory_bytes for p in measured.golems.values())
    slice_gib = (largest + (total - largest) / 2) / 2**30  # holds any one golem, not all three
    table = tmp_path / "prices.yaml"
    table.write_text(yaml.safe_dump({"overhead_gib": 0, "devices": [
        {"name": "cpu", "kind": "cpu", "memory_gib": 0.001, "price_per_hour": 0.05},
        {"name": "tiny-slice", "kind": "mig", "memory_gib": slice_gib, "price_per_hour": 0.5,
         "resource": "nvidia.com/mig-1g.5gb", "node_selector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB"}},
    ]}))
    values_file = tmp_path / "values.yaml"
    assert main(["plan", "--bench", str(BENCH), "--prices", str(table), "--rate", "1", "--p95", "5",
                 "--values-out", str(values_file)]) == 0
    spec = yaml.safe_load(values_file.read_text())["pipeline"]["spec"]
    assert spec["mode"] == "microservices"
    assert spec["golems"]["scribe"]["gpu"] == {"count": 1, "resourceName": "nvidia.com/mig-1g.5gb"}
    services = _lint_render_validate(values_file)
    resources = [s["spec"]["predictor"]["containers"][0]["resources"]["limits"] for s in services
                 if s["metadata"]["name"].endswith(("scribe", "interpreter", "oracle"))]
    assert len(resources) == 3 and all(r.get("nvidia.com/mig-1g.5gb") in (1, "1") for r in resources)


@pytest.mark.parametrize(("args", "message"), [
    (["--rate", "0", "--p95", "1"], "--rate must be greater than 0"),
    (["--rate", "1", "--p95", "0.001"], "no layout meets the objective"),
    (["--rate", "1", "--p95", "1", "--bench", "docs/performance.md"], "not a readable bench JSON"),
    (["--rate", "1", "--p95", "1", "--prices", "{tmp}/bad.yaml"], "not valid YAML at line"),
    (["--rate", "1", "--p95", "1", "--prices", "{tmp}/missing.yaml"], "cannot read the price table"),
])
def test_user_faults_are_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    (tmp_path / "bad.yaml").write_text("devices: [unclosed\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--bench" not in args:
        args += ["--bench", "docs/bench.json"]
    assert main(["plan", *args, "--values-out", str(tmp_path / "v.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_bench_report_without_the_golems_section_says_how_to_get_it(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    report.write_text(json.dumps({"machine": {}, "batching": {}}))
    with pytest.raises(Exception, match="golem bench --sections golems"):
        profiles.from_bench(report)


def test_the_shipped_price_table_names_a_source_and_date_for_every_device() -> None:
    table = prices.load()
    assert {d.kind for d in table.devices} == {"cpu", "gpu", "mig"}
    for device in table.devices:
        assert device.source and device.date and device.price_per_hour > 0 and math.isfinite(device.speed)
