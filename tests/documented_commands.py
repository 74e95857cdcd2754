"""Every shell command the README and docs/ show a user, and how the fresh-install test runs it here.

Why a registry: a command shown to a user must work on the install the README tells them to make, and a new one
must not slip in untested. `tests/test_documented_commands.py` has a fast test that fails when a ```bash or
```console block on any page holds a command this registry does not know, and a slow test that builds a fresh
venv with the README's install command (no extras) in a throwaway copy of the repository and runs every entry:
as written, with a named substitution (a smaller input, a port of its own), or not at all, with the reason.

Commands are keyed by their text as the page shows it, continuation lines joined and whitespace collapsed
(`normalize`). In a console block a command is a line starting with `$ `; in a bash block, every line that is not
a comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs")


@dataclass(frozen=True)
class How:
    """How one documented command is run by the fresh-install test."""

    instead: str | None = None  # the command run in its place; None: as written
    why: str = ""  # why it is substituted or skipped
    skip: bool = False
    needs: tuple[str, ...] = ()  # programs it needs; where one is missing it must fail in one line, exit 2
    server: bool = False  # talks to the `golem serve` the test started (localhost:8080 → its address)
    serves: bool = False  # starts that server: run in the background, ready, then SIGTERM must end it with 0
    json_answer: bool = False  # prints a JSON answer that must hold no "error"
    expect_rc: int = 0


AS_WRITTEN = How()


def substitute(instead: str, why: str, needs: tuple[str, ...] = (), serves: bool = False) -> How:
    return How(instead=instead, why=why, needs=needs, serves=serves)


def skip(why: str) -> How:
    return How(skip=True, why=why)


INSTALL = ("python3 -m venv .venv && . .venv/bin/activate && pip install -e . && "
           "golem run samples/weather.wav --json")
NEEDS_CLUSTER = "needs a Kubernetes cluster (helm, kubectl); tests/test_chart.py renders and lints the chart instead"
LOWEST = ("a second venv at every direct dependency's floor, then the fast tier (about half an hour on this machine); "
          "CI's lowest-direct job runs it")
NEEDS_DOCKER = "needs a Docker engine; tests/e2e/run_kind.sh builds the images where one exists"
AUDIO = "AUDIO=$(base64 -w0 samples/weather.wav)"
CURL = How(server=True, json_answer=True)  # against the test's server; the answer is JSON with no "error"


REGISTRY: dict[str, How] = {
    # README: the two commands
    INSTALL: How(why="the setup: builds the fresh venv, run exactly as written, in a copy of the repository"),
    "python3 -m venv .venv && . .venv/bin/activate && pip install -q -e '.[test]' -e ./operator && python -m pytest":
        skip("the whole suite; .ci/run runs it verbatim (tests/test_readme.py checks the two agree)"),
    # docs/run.md
    "golem run samples/weather.wav samples/noise.wav samples/offtopic.wav": AS_WRITTEN,
    # docs/gate.md
    "golem gate calibrate --max-wrong 0.05 --signals-out docs/gating-signals.jsonl.gz --out docs/gating.yaml "
    "--report docs/gating.md": substitute(
        "golem gate calibrate --max-wrong 0.05 --signals docs/gating-signals.jsonl.gz --out docs/gating.yaml "
        "--report docs/gating.md",
        "from the committed recording instead of recording the corpus (15 min, espeak-ng and sox)"),
    "golem gate calibrate --signals docs/gating-signals.jsonl.gz --max-wrong 0.05 --out g.yaml --report r.md":
        AS_WRITTEN,
    "pip install -e '.[voices]'": skip("the optional voices extra (Piper and its voice); tests/test_gate_voices.py "
                                       "runs Piper where it is installed"),
    "golem gate voices --interpreter-backend embedding --signals docs/gating-signals.jsonl.gz --natural-signals-out "
    "docs/gating-signals-natural.jsonl.gz": skip("needs the voices extra and records 270 cases through the Scribe "
                                                 "(minutes); the next command reads the recording it writes"),
    "golem gate voices --signals docs/gating-signals.jsonl.gz --natural-signals docs/gating-signals-natural.jsonl.gz "
    "--report docs/gating-voices.md": AS_WRITTEN,
    # docs/serving.md
    "golem serve --http-port 8080": substitute(
        "golem serve --http-port {port} --grpc-port {grpc_port}", "on free ports, in the background, for the "
        "commands that call it", serves=True),
    "golem serve --split --http-port 8080": skip("four more model servers; tests/test_split.py starts this mode"),
    "golem serve --golem scribe --http-port 8081": skip("one golem per process, the split mode's part; "
                                                        "tests/test_split.py starts it"),
    "golem serve --transformer --scribe-url http://127.0.0.1:8081 --interpreter-url ... --oracle-url ...":
        skip("a template (the `...` are the other golems' URLs); tests/test_split.py starts a transformer"),
    AUDIO: How(server=True),
    'curl -s localhost:8080/v1/models/pipeline:predict -H \'content-type: application/json\' -d '
    '"{\\"instances\\": [{\\"audio\\": \\"$AUDIO\\"}]}"': CURL,
    'curl -s localhost:8080/v2/models/pipeline/infer -H \'content-type: application/json\' -d '
    '"{\\"inputs\\": [{\\"name\\": \\"audio\\", \\"datatype\\": \\"BYTES\\", \\"shape\\": [1], \\"data\\": '
    '[\\"$AUDIO\\"]}]}"': CURL,
    'curl -s localhost:8080/v1/models/scribe:predict -H \'content-type: application/json\' -d '
    '"{\\"instances\\": [{\\"audio\\": \\"$AUDIO\\"}]}"': CURL,
    'curl -s localhost:8080/v1/models/interpreter:predict -H \'content-type: application/json\' -d '
    '\'{"instances": [{"text": "turn off the lights", "labels": ["lights", "music"]}]}\'':
        CURL,
    'curl -s localhost:8080/v2/models/oracle/infer -H \'content-type: application/json\' -d '
    '\'{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["will it rain?"]}, '
    '{"name": "intent", "datatype": "BYTES", "shape": [1], "data": ["weather"]}]}\'':
        CURL,
    "python -m golemline.bench.load --requests 1000 --concurrency 64": substitute(
        "python -m golemline.bench.load --requests 40 --concurrency 8", "40 requests instead of 1,000 (the load "
        "test's figures are measured once, into docs/reliability.md)"),
    "python -m golemline.bench.batching --model interpreter": substitute(
        "python -m golemline.bench.batching --model interpreter --requests 16 --rounds 1 --concurrency 4",
        "one short round instead of three of 96 requests"),
    # docs/observability.md
    "python -m golemline.observability.generate": AS_WRITTEN,
    "python -m golemline.observability.png --demo": substitute(
        "python -m golemline.observability.png --demo --seconds 10", "10 s of traffic instead of 90",
        needs=("prometheus",)),
    # docs/performance, docs/scribe.md
    "python -m golemline.bench.report docs/bench.json": AS_WRITTEN,
    # docs/kubernetes.md
    "helm install golems charts/golemline -n golemline --create-namespace": skip(NEEDS_CLUSTER),
    "helm install golems charts/golemline -f charts/golemline/examples/gpu-pool.yaml": skip(NEEDS_CLUSTER),
    "helm install golems charts/golemline -f charts/golemline/examples/monolith.yaml": skip(NEEDS_CLUSTER),
    "docker build -f predictors/Dockerfile -t registry.example.com/golemline:0.1.0 . && "
    "docker push registry.example.com/golemline:0.1.0": skip(NEEDS_DOCKER),
    "docker build -t registry.example.com/golemline-operator:0.1.0 operator/ && "
    "docker push registry.example.com/golemline-operator:0.1.0": skip(NEEDS_DOCKER),
    "helm install golems charts/golemline --set image.repository=registry.example.com/golemline --set "
    "image.tag=0.1.0 --set operator.image.repository=registry.example.com/golemline-operator --set "
    "operator.image.tag=0.1.0": skip(NEEDS_CLUSTER),
    "kubectl cp -n golemline -c kserve-container POD:/var/lib/golemline/capture captured": skip(NEEDS_CLUSTER),
    "golem plan --bench docs/bench.json --rate 2 --p95 2 --values-out plan.yaml": AS_WRITTEN,
    "helm install golems charts/golemline -f plan.yaml": skip(NEEDS_CLUSTER),
    # docs/planning.md
    "golem bench --sections golems --out docs/bench.json": skip(
        "measures every golem at five batch sizes (minutes); tests/test_bench.py runs the bench's sections"),
    "golem plan --prometheus http://prometheus:9090 --rate 20 --p95 1.5 --prices my-prices.yaml "
    "--values-out plan.yaml": skip("needs a live Prometheus and the reader's own price file; tests/test_plan.py "
                                   "plans from a real Prometheus"),
    # docs/calibration.md
    "golem gate export-corpus --no-audio --out corpus-dataset": AS_WRITTEN,
    "golem gate calibrate --data corpus-dataset --signals docs/gating-signals.jsonl.gz --max-wrong 0.05 "
    "--out gating-check.yaml": AS_WRITTEN,
    "cmp gating-check.yaml docs/gating.yaml": AS_WRITTEN,
    "golem run --capture-dir captured samples/": AS_WRITTEN,
    "golem capture export-labelstudio captured --out tasks.json": AS_WRITTEN,
    # docs/cli.md
    "golem --version": AS_WRITTEN,
    "golem run --help": AS_WRITTEN,
    # docs/contributing.md
    "python -m pytest -m 'not slow'": skip("the fast tier of the suite itself"),
    "python3 -m venv .venv-lowest && . .venv-lowest/bin/activate": skip(LOWEST),
    "pip install -q torch==2.13.0 uv": skip(LOWEST),
    "uv pip install -q --resolution lowest-direct --override .ci/torch.txt --reinstall-package fsspec "
    "--reinstall-package setuptools -e '.[test]' -e ./operator": skip(LOWEST),
    'python -m pytest -m "not slow" -q -p no:cacheprovider': skip(LOWEST),
    "export UV_FIND_LINKS=/opt/wheels UV_EXTRA_INDEX_URL=\"file:///opt/pypi/simple file:///opt/pypi-more/simple\" "
    "UV_INDEX_STRATEGY=unsafe-best-match": skip(LOWEST),
    "python -m pytest tests/test_documented_commands.py": skip("this test"),
    ("python3 -m venv /tmp/kserve-floor && . /tmp/kserve-floor/bin/activate && pip install -q -e '.[test]' -e "
     "./operator 'kserve==0.20.0' && python -m pytest tests/test_kserve_range.py tests/test_serving.py "
     "tests/test_access.py tests/test_oip_clients.py tests/test_openapi.py tests/test_split.py "
     "tests/test_reliability.py"): skip("a second venv with the lowest supported KServe and the serving tests; "
                                        "CI's kserve-floor job runs it"),
    "mkdocs build --strict --site-dir /tmp/golemline-site": skip(
        "mkdocs comes with the test extra, not the README's install; tests/test_docs_site.py runs it"),
}


def normalize(command: str) -> str:
    """One line, single spaces: the key a command is registered under."""
    return " ".join(command.replace("\\\n", " ").split())


def _strip_comment(line: str) -> tuple[str, bool]:
    """The line without a trailing `# comment`, and whether a quote is still open at its end."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), False
    return line, bool(quote)


def _commands(block: str, console: bool) -> Iterator[str]:
    pending: list[str] = []
    open_quote = False
    for raw in block.splitlines():
        if not pending:
            if console:
                if not raw.startswith("$ "):
                    continue
                raw = raw[2:]
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
        line = raw if open_quote else _strip_comment(raw)[0]
        pending.append(line)
        open_quote = _open_after(" ".join(pending))
        if not open_quote and not line.endswith("\\"):
            yield normalize("\n".join(pending))
            pending = []
    if pending:
        yield normalize("\n".join(pending))


def _open_after(text: str) -> bool:
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
    return bool(quote)


def pages(root: Path = ROOT) -> list[Path]:
    """The README and every Markdown page under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def documented(root: Path = ROOT) -> list[tuple[str, str]]:
    """(page, command) for every command in a ```bash or ```console block, in page order."""
    found = []
    for page in pages(root):
        for language, block in re.findall(r"^```(bash|console)\n(.*?)^```", page.read_text(), flags=re.S | re.M):
            for command in _commands(block, console=language == "console"):
                found.append((str(page.relative_to(root)), command))
    return found
