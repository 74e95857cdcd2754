"""Render the key panels — p95 latency per stage, $ per 1,000 requests per golem, memory per golem — from
Prometheus range queries to one PNG, for people who would rather look than read.

python -m golemline.observability.png --prometheus http://127.0.0.1:9090 --out docs/dashboard.png [--minutes 15]
python -m golemline.observability.png --demo --out docs/dashboard.png [--seconds 90]
    (--demo starts `golem serve` and a local Prometheus with the rules, drives clean and noisy traffic, renders)

A missing Prometheus binary for --demo is the user's to fix (install it), so it is one line and exit 2, not a
traceback.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from golemline.observability import names as n
from golemline.observability import rules

PANELS = (
    ("p95 latency per pipeline stage", "seconds",
     f"histogram_quantile(0.95, sum by (le, stage) (rate({n.STAGE_SECONDS}_bucket[1m])))", "stage", 1.0),
    ("$ per 1,000 requests, per golem", "US dollars", rules.GOLEM_COST_PER_1K, "golem", 1.0),
    ("Device memory held per golem", "MiB", f"sum by (golem) ({n.DEVICE_MEMORY})", "golem", 1 / 2**20),
)


def _range(prometheus: str, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query_range",
                         params={"query": query, "start": start, "end": end, "step": step}, timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def render(prometheus: str, out: Path, minutes: float = 15, title: str = "Golemline") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = time.time()
    start = end - minutes * 60
    step = max(1.0, minutes * 60 / 300)
    figure, axes = plt.subplots(1, len(PANELS), figsize=(6 * len(PANELS), 4), dpi=110)
    for axis, (heading, unit, query, label, scale) in zip(axes, PANELS, strict=True):
        series = _range(prometheus, query, start, end, step)
        for item in series:
            points = [(float(t) - end, float(v) * scale) for t, v in item["values"] if v not in ("NaN", "+Inf")]
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot([x / 60 for x in xs], ys, label=item["metric"].get(label, label))
        axis.set_title(heading, fontsize=11)
        axis.set_xlabel("minutes ago")
        axis.set_ylabel(unit)
        axis.grid(alpha=0.3)
        if series:
            axis.legend(fontsize=8)
        else:
            axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
    figure.suptitle(title, fontsize=12)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    plt.close(figure)
    return out


class DemoUnavailable(RuntimeError):
    """What the demo needs is not installed here."""


def demo(out: Path, seconds: float = 90, price: float = 2.5) -> Path:
    """A real run on this machine: `golem serve` + Prometheus with golemline's rules + clean and noisy traffic."""
    import yaml

    from golemline.bench.loopback import Server, audio_b64, free_port, v1
    from golemline.resources import sample

    binary = shutil.which("prometheus")
    if binary is None:
        raise DemoUnavailable("the demo needs the prometheus binary on PATH (Debian package `prometheus`)")
    server = Server(env={"GOLEM_GPU_HOURLY_PRICE": str(price)}).wait_ready()
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        config, rule_file = Path(workdir) / "prometheus.yml", Path(workdir) / "golemline.rules.yaml"
        rule_file.write_text(yaml.safe_dump(rules.rule_groups(), sort_keys=False))
        config.write_text("global: {scrape_interval: 2s, evaluation_interval: 2s}\n"
                          f"rule_files: ['{rule_file}']\n"
                          "scrape_configs:\n  - job_name: golemline\n"
                          f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n")
        prometheus = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={workdir}/data",
                                       f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT)
        try:
            clips = [audio_b64(sample(s)) for s in ("weather", "timer", "music", "noise")]
            deadline = time.monotonic() + seconds
            with ThreadPoolExecutor(4) as pool:
                while time.monotonic() < deadline:  # bounded in time, loopback only
                    list(pool.map(lambda clip: v1(server.url, "pipeline", [{"audio": clip}]), clips))
            time.sleep(6)  # the last scrape and rule evaluation
            return render(f"http://127.0.0.1:{port}", out, minutes=seconds / 60 + 0.5,
                          title=f"Golemline on this machine (CPU, offline profile, priced at ${price}/device-hour)")
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=20)
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m golemline.observability.png", description=__doc__)
    parser.add_argument("--prometheus", help="Prometheus base URL")
    parser.add_argument("--demo", action="store_true", help="run a local server + Prometheus and render that")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--seconds", type=float, default=90, help="--demo: how long to send traffic (default 90)")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error(f"--seconds must be positive, got {args.seconds}")
    if args.demo:
        try:
            print(demo(args.out, seconds=args.seconds))
        except DemoUnavailable as problem:
            print(f"{parser.prog}: error: {problem}", file=sys.stderr)
            return 2
    elif args.prometheus:
        print(render(args.prometheus, args.out, args.minutes))
    else:
        parser.error("give --prometheus URL or --demo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
