"""The `golem` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from golemline.errors import ConfigError, GolemlineError
from golemline.settings import DEVICES, DTYPES, GOLEMS, POLICIES, PROFILES, Settings, format_size


def _settings_options() -> argparse.ArgumentParser:
    """Options shared by every command that builds golems (the parent parser, as KServe's servers do)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--profile", choices=list(PROFILES), help="model set: offline (bundled) or mission (hub)")
    parent.add_argument("--policy", choices=POLICIES, help="lifecycle: resident | sequential | lru")
    parent.add_argument("--budget", help="memory budget for the golems, e.g. 300MiB or 2GB")
    parent.add_argument("--device", choices=DEVICES, help="cpu, cuda or auto")
    parent.add_argument("--dtype", choices=DTYPES, help="weights/compute precision")
    parent.add_argument("--seed", type=int, help="sample replies with this seed (default: greedy)")
    parent.add_argument("--max-new-tokens", type=int, help="upper bound on reply length (1..256)")
    parent.add_argument("--threads", type=int, help="CPU threads for inference")
    parent.add_argument("--gpu-hourly-price", type=float, help="price of one device per hour (cost metrics)")
    for golem in GOLEMS:
        parent.add_argument(f"--{golem}-model", help=f"{golem} model: HF id, directory or package:<module>")
        parent.add_argument(f"--{golem}-backend", help=f"{golem} backend")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parent = _settings_options()
    parser = argparse.ArgumentParser(prog="golem", description="Golemline: speech → intent → reply, gated.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[parent], help="run audio files through the pipeline")
    run.add_argument("audio", nargs="+", type=Path, help="WAV/FLAC/MP3/OGG files")
    run.add_argument("--json", action="store_true", help="print one JSON object per input")

    serve = commands.add_parser("serve", parents=[parent], help="serve the golems and the pipeline (KServe V1/V2)")
    serve.add_argument("--http-port", type=int, help="port (default 8080; --split uses the next three too)")
    serve.add_argument("--host", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--golem", action="append", choices=GOLEMS,
                       help="serve only this golem (repeatable); without --transformer, no pipeline model")
    serve.add_argument("--transformer", action="store_true",
                       help="serve the pipeline model; golems not served here are called at --<golem>-url")
    serve.add_argument("--split", action="store_true",
                       help="microservices: one process per golem plus one for the transformer")
    serve.add_argument("--max-batch-size", type=int, help="largest micro-batch (1 turns batching off)")
    serve.add_argument("--max-latency-ms", type=float, help="how long a batch waits for company")
    serve.add_argument("--max-queue", type=int, help="queued requests per golem before 429")
    serve.add_argument("--max-body-bytes", type=int, help="largest request body before 413")
    serve.add_argument("--stage-timeout-s", type=float, help="deadline for each remote golem call")
    for golem in GOLEMS:
        serve.add_argument(f"--{golem}-url", help=f"base URL of a remote {golem} server (split mode)")
    serve.add_argument("--auth-token-file", type=Path,
                       help="require `Authorization: Bearer <token>` on inference endpoints (or GOLEM_AUTH_TOKEN)")

    bench = commands.add_parser("bench", help="measure configurations side by side (JSON + docs/performance.md)")
    bench.add_argument("--sections", default="batching,lifecycle,baseline,dtype,split,nli",
                       help="comma-separated: batching, lifecycle, baseline, dtype, split, nli")
    bench.add_argument("--out", type=Path, default=Path("docs/bench.json"))
    profile = commands.add_parser("profile", parents=[parent], help="torch.profiler around a golem's requests")
    profile.add_argument("--golem", required=True, choices=["interpreter", "oracle"])
    profile.add_argument("--trace", type=Path, default=Path("profile-trace.json"), help="Chrome trace output")
    profile.add_argument("--batch", type=int, default=16)

    operator = commands.add_parser("operator", help="run the GolemPipeline operator (kopf) against the cluster")
    operator.add_argument("--namespace", action="append", help="watch only this namespace (repeatable)")
    operator.add_argument("--liveness-port", type=int, default=8080, help="serves /healthz for the liveness probe")

    models = commands.add_parser("models", help="list, pull, verify or train the models")
    actions = models.add_subparsers(dest="action", required=True)
    for action, text in (("list", "where each golem's model resolves"), ("pull", "download hub models"),
                         ("verify", "checksum the weights")):
        sub = actions.add_parser(action, parents=[parent], help=text)
        sub.add_argument("--json", action="store_true")
    train = actions.add_parser("train-oracle", help="retrain the bundled offline Oracle reproducibly")
    train.add_argument("--output", type=Path, required=True)
    train.add_argument("--steps", type=int)
    return parser


SERVER_FLAGS = ("http_port", "host", "max_batch_size", "max_latency_ms", "max_queue", "max_body_bytes",
                "stage_timeout_s", "scribe_url", "interpreter_url", "oracle_url")


def settings_from_args(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    values = {name: getattr(args, name, None) for name in
              ("profile", "policy", "budget", "device", "dtype", "seed", "max_new_tokens", "threads",
               "gpu_hourly_price")}
    for golem in GOLEMS:
        for part in ("model", "backend"):
            values[f"{golem}_{part}"] = getattr(args, f"{golem}_{part}", None)
    server = {name: getattr(args, name, None) for name in SERVER_FLAGS}
    token_file = getattr(args, "auth_token_file", None)
    if token_file is not None:
        try:
            server["auth_token"] = token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{token_file}: cannot read the auth token file ({exc.strerror})") from exc
    return Settings.from_env(environ).with_overrides(server=server, **values)


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)


def _print_human(result: dict[str, Any]) -> None:
    print(f"{result['input']}  {result['status'].upper()}")
    print(f"  transcript  {result['transcript']!r}")
    if result["status"] == "ok":
        intent = result["intent"]
        print(f"  intent      {intent['label']} (score {intent['score']:.3f}, margin {intent['margin']:.3f})")
        print(f"  reply       {result['reply']}")
    else:
        rejection = result["rejection"]
        print(f"  rejected    at {rejection['stage']}: {rejection['reason']} — {rejection['detail']}")
    stages = " · ".join(f"{name} {stage['seconds']:.3f} s" for name, stage in result["stages"].items())
    print(f"  stages      {stages}")
    memory = result["memory"]
    print(f"  memory      policy {memory['policy']} · peak golems {format_size(memory['peak_golem_bytes'])}"
          f" · peak RSS {format_size(memory['peak_rss_bytes'])}")


def command_run(args: argparse.Namespace) -> int:
    from golemline.pipeline import Pipeline

    settings = settings_from_args(args)
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    pipeline = Pipeline(settings)
    inputs = [(str(path), pipeline.decode_file(path)) for path in args.audio]  # fail fast, before loading
    try:
        results = pipeline.run(inputs)
    finally:
        pipeline.close()
    for result in results:
        if args.json:
            print(json.dumps(result.as_dict()))
        else:
            _print_human(result.as_dict())
    return 0


def command_serve(args: argparse.Namespace, argv: list[str]) -> int:
    settings = settings_from_args(args)  # may raise ConfigError (bad token file): main() turns it into exit 2
    if args.split:
        from golemline.serving.split import run_split

        return run_split(settings, argv)
    from golemline.serving.server import serve

    if args.golem and not args.transformer:
        serve(settings, tuple(args.golem), with_pipeline=False)
    elif args.transformer:
        serve(settings, tuple(args.golem or ()), with_pipeline=True)
    else:
        serve(settings, GOLEMS, with_pipeline=True)
    return 0


def command_operator(args: argparse.Namespace) -> int:
    """One replica, standalone (no peering), liveness only — kopf's own deployment advice."""
    import kopf

    import golemline.operator.handlers  # noqa: F401  (registers the handlers)

    kopf.run(standalone=True, clusterwide=not args.namespace, namespaces=args.namespace or (),
             liveness_endpoint=f"http://0.0.0.0:{args.liveness_port}/healthz")
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
    if args.action == "list" and any(row.get("status") == "missing" for row in rows):
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    _quiet_libraries()
    try:
        if args.command == "run":
            return command_run(args)
        if args.command == "serve":
            return command_serve(args, arguments)
        if args.command == "operator":
            return command_operator(args)
        if args.command == "bench":
            from golemline.bench import suite

            sections = [s.strip() for s in args.sections.split(",") if s.strip()]
            unknown = set(sections) - set(suite.SECTIONS)
            if unknown:
                raise ConfigError(f"unknown bench sections {sorted(unknown)}; known: {', '.join(suite.SECTIONS)}")
            print(json.dumps(suite.run(sections, args.out), indent=2))
            return 0
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
