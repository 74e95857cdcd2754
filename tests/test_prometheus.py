"""A real Prometheus scrapes a real `golem serve`; golem metrics are read back through Prometheus's HTTP API."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from golemline.observability import rules
from golemline.observability.dashboards import DASHBOARDS, queries, to_json, uid_of
from tests.servers import Server, audio_b64, free_port, v1

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
PRICE = 3.6  # dollars per device-hour = $0.001 per device-second
PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed "
                                "(Debian package `prometheus`; .ci/run installs it)")


def fast_rules(workdir: Path, *, drop_for: bool = False) -> Path:
    """The shipped rule groups, evaluated every second instead of every 30 s (the test waits seconds, not minutes,
    for a recorded series: with the shipped interval the first evaluation may land after a 30 s timeout), and with
    `for` durations removed when an alert must fire at once."""
    import yaml

    groups = rules.rule_groups()
    for group in groups["groups"]:
        group.pop("interval", None)  # falls back to the global evaluation_interval of 1 s
        for rule in group["rules"]:
            if drop_for:
                rule.pop("for", None)
    path = workdir / "rules.yaml"
    path.write_text(yaml.safe_dump(groups, sort_keys=False))
    return path


def start_prometheus(workdir: Path, rule_file: Path, target_port: int) -> tuple[subprocess.Popen[bytes], str]:
    """A real Prometheus on loopback scraping one golemline server every second, with a rules file loaded."""
    port = free_port()
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{rule_file}']\n"
        "scrape_configs:\n"
        "  - job_name: golemline\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n")
    prometheus = subprocess.Popen(
        [str(PROMETHEUS), f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return prometheus, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    server = Server("--max-batch-size", "8", "--max-latency-ms", "25", env={"GOLEM_GPU_HOURLY_PRICE": str(PRICE)})
    workdir = tmp_path_factory.mktemp("prometheus")
    prometheus, url = start_prometheus(workdir, fast_rules(workdir), server.port)
    try:
        server.wait_ready()
        # Traffic must come after Prometheus has seen the zero-initialised series, or the first increments are
        # invisible to rate() (a counter first seen already incremented has no earlier sample to compare with).
        eventually(url, 'golemline_device_busy_seconds_total{golem="scribe"} == 0', timeout=60)
        yield server, url
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
        server.stop()


def query(prometheus: str, promql: str) -> list[dict]:  # type: ignore[type-arg]
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]  # type: ignore[no-any-return]


def eventually(prometheus: str, promql: str, timeout: float = 30) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = query(prometheus, promql)
        except httpx.HTTPError:
            result = []
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"no data for {promql!r} after {timeout}s")


def test_golem_metrics_reach_prometheus(scraped: tuple[Server, str]) -> None:
    server, prometheus = scraped
    clean, noise = audio_b64(SAMPLES / "weather.wav"), audio_b64(SAMPLES / "noise.wav")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda a: v1(server.url, "pipeline", [{"audio": a}]), [clean, noise] * 4))
    assert all(a.status_code == 200 for a in answers)
    texts = [f"play song {i}" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        assert all(r.status_code == 200 for r in pool.map(lambda t: v1(server.url, "interpreter", [{"text": t}]),
                                                           texts))

    ok = eventually(prometheus, 'golemline_requests_total{model="pipeline",outcome="ok"} >= 4')
    assert float(ok[0]["value"][1]) >= 4
    rejected = eventually(prometheus, 'golemline_rejections_total{stage="scribe",reason="no_speech"} >= 4')
    assert float(rejected[0]["value"][1]) >= 4
    loaded = eventually(prometheus, "golemline_model_loaded == 1")
    assert {r["metric"]["golem"] for r in loaded} == {"scribe", "interpreter", "oracle"}
    busy = eventually(prometheus, "golemline_device_busy_seconds_total > 0")
    assert {r["metric"]["device"] for r in busy} == {"cpu"}
    memory = eventually(prometheus, "golemline_device_memory_bytes > 1e6")
    assert len(memory) == 3
    assert eventually(prometheus, 'histogram_quantile(0.95, sum by (le, stage) '
                                  '(rate(golemline_stage_duration_seconds_bucket[1m]))) > 0')
    batched = eventually(prometheus, 'golemline_batch_size_count{golem="interpreter"} - ignoring(le) '
                                     'golemline_batch_size_bucket{golem="interpreter",le="1.0"} > 0')
    assert float(batched[0]["value"][1]) > 0  # some batches held more than one request


def test_golem_plan_reads_service_times_and_memory_from_prometheus(scraped: tuple[Server, str]) -> None:
    """`golem plan --prometheus`: seconds per batch and mean batch size from the scraped counters, against the
    server's own /metrics totals (traffic from the test above; the window covers all of it)."""
    from golemline.plan.profiles import from_prometheus

    server, prometheus = scraped
    text = httpx.get(f"{server.url}/metrics", timeout=10).text  # no traffic follows: these totals are final
    busy = _metric_values(text, "golemline_device_busy_seconds_total")
    requests = _metric_values(text, "golemline_batch_size_sum")
    memory = _metric_values(text, "golemline_device_memory_bytes")
    for golem, total in requests.items():  # wait until Prometheus has scraped every batch the server counted
        eventually(prometheus, f'golemline_batch_size_sum{{golem="{golem}"}} >= {total}')
    measured = from_prometheus(prometheus, window="10m")
    for golem, profile in measured.golems.items():
        per_request = busy[golem] / requests[golem]
        assert profile.curve.at(1) == pytest.approx(per_request, rel=0.15), golem
        assert profile.memory_bytes == int(memory[golem])


def _metric_values(text: str, name: str) -> dict[str, float]:
    """{golem: value} for one metric family in Prometheus text format."""
    values = {}
    for line in text.splitlines():
        match = re.match(rf'^{name}{{([^}}]*)}} ([0-9.e+-]+)$', line)
        if match:
            golem = re.search(r'golem="([^"]+)"', match.group(1))
            if golem:
                values[golem.group(1)] = float(match.group(2))
    return values


def test_every_dashboard_query_evaluates(scraped: tuple[Server, str]) -> None:
    server, prometheus = scraped
    clips = [{"audio": audio_b64(SAMPLES / name)} for name in ("timer.wav", "noise.wav")]
    assert v1(server.url, "pipeline", clips).status_code == 200
    eventually(prometheus, f"{rules.GOLEM_COST_PER_1K}")  # recording rules have run
    for dashboard in DASHBOARDS:
        if uid_of(dashboard) == "golemline-quality":
            continue  # needs the canary running: evaluated in the canary test below
        for expression in queries(to_json(dashboard)):
            promql = expression.replace("$__rate_interval", "1m")
            if "DCGM_" in promql:
                assert isinstance(query(prometheus, promql), list)  # parses and runs; no GPU here, so no data
            else:
                assert eventually(prometheus, promql), (uid_of(dashboard), promql)


def test_cost_per_1k_requests_matches_a_hand_computation(scraped: tuple[Server, str]) -> None:
    server, prometheus = scraped
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda t: v1(server.url, "interpreter", [{"text": t}]), [f"play track {i}" for i in range(24)]))
    exposed = httpx.get(f"{server.url}/metrics").text
    busy = _metric_values(exposed, "golemline_device_busy_seconds_total")
    items = _metric_values(exposed, "golemline_batch_size_sum")
    # Prometheus must have scraped the final values before we compare.
    eventually(prometheus, f'golemline_device_busy_seconds_total{{golem="interpreter"}} == {busy["interpreter"]!r}')
    expected = {g: 1000 * busy[g] * (PRICE / 3600) / items[g] for g in busy if items.get(g)}
    [expression] = [r["expr"] for r in rules.recording_rules() if r["record"] == rules.GOLEM_COST_PER_1K]
    # The recorded series is this expression over recorded inputs; evaluate the same formula from raw counters.
    busy_dollars = [r["expr"] for r in rules.recording_rules() if r["record"] == rules.BUSY_DOLLARS][0]
    golem_items = [r["expr"] for r in rules.recording_rules() if r["record"] == rules.GOLEM_ITEMS][0]
    assert expression == f"1000 * {rules.BUSY_DOLLARS} / {rules.GOLEM_ITEMS}"
    measured = {r["metric"]["golem"]: float(r["value"][1])
                for r in query(prometheus, f"1000 * ({busy_dollars}) / ({golem_items})")}
    assert set(expected) <= set(measured)
    for golem, value in expected.items():
        assert measured[golem] == pytest.approx(value, rel=1e-6), golem
    assert expected["interpreter"] > 0


def test_key_panels_render_to_png(scraped: tuple[Server, str], tmp_path: Path) -> None:
    from golemline.observability.png import render

    server, prometheus = scraped
    assert v1(server.url, "pipeline", [{"audio": audio_b64(SAMPLES / "weather.wav")}]).status_code == 200
    eventually(prometheus, rules.GOLEM_COST_PER_1K)
    out = render(prometheus, tmp_path / "panels.png", minutes=3)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_a_broken_interpreter_fires_the_canary_alert_and_quality_has_data(tmp_path: Path,
                                                                          tiny_nli_dir: Path) -> None:
    """Swap in an Interpreter that names wrong labels (random NLI weights): the canary's accuracy falls on a real
    Prometheus and the alert fires (the rules are loaded with their `for` durations removed, so it fires at once)."""
    server = Server("--canary-interval-s", "2", "--interpreter-backend", "nli", "--interpreter-model",
                    str(tiny_nli_dir), "--gate-min-intent-score", "0", "--gate-min-intent-margin", "0")
    prometheus, url = start_prometheus(tmp_path, fast_rules(tmp_path, drop_for=True), server.port)
    try:
        server.wait_ready()
        [accuracy] = eventually(url, 'golemline_canary_accuracy{stage="interpreter"} < 1', timeout=120)
        assert float(accuracy["value"][1]) < 1
        eventually(url, 'ALERTS{alertname="GolemlineCanaryAccuracyDropped", alertstate="firing"}', timeout=60)
        assert query(url, 'golemline_canary_accuracy{stage="scribe"} == 1')  # the scribe still works
        # live traffic (the canary's own requests stay out of the production series), then every Quality query
        clips = [{"audio": audio_b64(SAMPLES / name)} for name in ("weather.wav", "noise.wav", "timer.wav")]
        assert v1(server.url, "pipeline", clips).status_code == 200
        eventually(url, rules.REJECTION_SHARE_7D)
        [quality] = [d for d in DASHBOARDS if uid_of(d) == "golemline-quality"]
        for expression in queries(to_json(quality)):
            promql = expression.replace("$__rate_interval", "1m").replace("$__interval", "1m")
            assert eventually(url, promql), promql
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=20)
        server.stop()
