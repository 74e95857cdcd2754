"""Opt-in capture of served audio for labelling: rows of an audiofolder dataset that `golem gate calibrate --data`
reads once a person has labelled them (docs/calibration.md).

Why: the gate is only as good as the data it was calibrated on, and the honest cure for the distribution shift it
suffers is the deployment's own recordings. Capture is off unless `--capture-dir` is given; it keeps a sample
(`--capture-rate`, chosen by a hash of the request id, so a replay keeps the same requests) of the verdicts asked
for (`--capture-verdicts accepted,rejected`, or per stage: `rejected:scribe`), and stops at `--capture-max-files`
or `--capture-max-bytes`. Each kept request becomes `audio/<content hash>.wav` (16 kHz mono, what the golems
heard) and one line of `metadata.jsonl`: file name, request id, time, verdict, stage, reason, predicted intent and
the gate's signals, with an empty `intent` for the labeller to fill; the transcript only with `--log-transcripts`.
The audio itself never reaches a log line: only its file name is logged.

The folder may be any fsspec URL (`s3://bucket/prefix`, `memory://` in tests); fsspec is imported only when
capture is on.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from golemline.errors import ConfigError

log = logging.getLogger("golemline.capture")

VERDICTS = ("accepted", "rejected", "rejected:scribe", "rejected:interpreter", "rejected:oracle")
"""What `--capture-verdicts` may list: every accepted answer, every refusal, or the refusals of one stage."""
METADATA = "metadata.jsonl"
AUDIO_DIR = "audio"


def parse_verdicts(text: str) -> frozenset[str]:
    """'accepted,rejected:interpreter' → the set; an unknown verdict is a ConfigError naming the allowed ones."""
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(chosen - set(VERDICTS))
    if unknown or not chosen:
        raise ConfigError(f"capture verdicts {text!r}: give a comma-separated list of {', '.join(VERDICTS)}")
    return chosen


def check(rate: float, verdicts: str, max_files: int, max_bytes: int) -> None:
    """The capture settings' own checks (called from `Settings.__post_init__`)."""
    if not 0 < rate <= 1:
        raise ConfigError(f"capture_rate {rate:g} must be above 0 and at most 1 (the share of requests kept)")
    parse_verdicts(verdicts)
    if max_files < 1 or max_bytes < 1:
        raise ConfigError("capture caps (capture_max_files, capture_max_bytes) must be at least 1")


@dataclass(frozen=True)
class CaptureConfig:
    url: str
    rate: float = 1.0
    verdicts: frozenset[str] = frozenset({"accepted", "rejected"})
    max_files: int = 1000
    max_bytes: int = 100 * 1024 * 1024
    log_transcripts: bool = False


def verdict_of(result: dict[str, Any]) -> tuple[str, str, str]:
    """(verdict, stage, reason) of a `PipelineResult.as_dict()`."""
    rejection = result.get("rejection")
    if result.get("status") == "ok" or not rejection:
        return "accepted", "", ""
    return "rejected", str(rejection.get("stage", "")), str(rejection.get("reason", ""))


def sampled(request_id: str, rate: float) -> bool:
    """Whether a request is in the sample: a stable hash of its id below `rate` (no random state to seed)."""
    if rate >= 1:
        return True
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") / 2**64 < rate


def signals_of(result: dict[str, Any]) -> dict[str, Any]:
    """The gate's numbers for a result: the Scribe's signals and the Interpreter's scores (no text)."""
    scribe = dict((result.get("stages", {}).get("scribe") or {}).get("signals") or {})
    scribe.pop("text", None)
    rejection = result.get("rejection") or {}
    intent = result.get("intent") or (rejection.get("signals") or {} if rejection.get("stage") == "interpreter"
                                      else {})
    out = {k: v for k, v in scribe.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    for key in ("score", "margin", "none_score"):
        if isinstance(intent.get(key), int | float):
            out[key] = intent[key]
    return out


def predicted_intent(result: dict[str, Any]) -> str:
    rejection = result.get("rejection") or {}
    intent = result.get("intent") or (rejection.get("signals") or {} if rejection.get("stage") == "interpreter"
                                      else {})
    return str(intent.get("label") or "")


class Capture:
    """Writes kept requests to the dataset folder; thread-safe (the server calls it from a worker thread)."""

    def __init__(self, config: CaptureConfig) -> None:
        import fsspec

        self.config = config
        self.fs, self.root = fsspec.core.url_to_fs(config.url)
        self.root = self.root.rstrip("/")
        self.fs.makedirs(f"{self.root}/{AUDIO_DIR}", exist_ok=True)
        existing = self.fs.ls(f"{self.root}/{AUDIO_DIR}", detail=True)
        self.files = len(existing)  # caps count what the folder already holds
        self.bytes = sum(int(entry.get("size") or 0) for entry in existing)
        self._lock = threading.Lock()
        self._full_logged = False

    def wanted(self, result: dict[str, Any]) -> bool:
        verdict, stage, _ = verdict_of(result)
        chosen = self.config.verdicts
        if verdict not in chosen and f"{verdict}:{stage}" not in chosen:
            return False
        return sampled(str(result.get("request_id") or result.get("input")), self.config.rate)

    def offer(self, inputs: Sequence[tuple[str, Any]], results: Sequence[dict[str, Any]]) -> int:
        """Keep the results the settings ask for; returns how many were written. A failing store is logged, never
        raised: capture must not fail a request."""
        kept = 0
        for (_, audio), result in zip(inputs, results, strict=True):
            if not self.wanted(result):
                continue
            try:
                kept += self._write(audio, result)
            except Exception as exc:  # the store is down or full: the answer still goes out
                log.warning("capture to %s failed: %s", self.config.url, type(exc).__name__)
        return kept

    def _write(self, audio: Any, result: dict[str, Any]) -> int:
        import soundfile

        buffer = io.BytesIO()
        soundfile.write(buffer, audio.samples, 16000, format="WAV", subtype="PCM_16")
        data = buffer.getvalue()
        with self._lock:
            if self.files + 1 > self.config.max_files or self.bytes + len(data) > self.config.max_bytes:
                if not self._full_logged:
                    log.warning("capture stopped: %s holds %d files, %d bytes (caps %d files, %d bytes)",
                                self.config.url, self.files, self.bytes, self.config.max_files,
                                self.config.max_bytes)
                    self._full_logged = True
                return 0
            # named by content: the same audio sent twice is one recording (a dataset row names a file once)
            name = f"{AUDIO_DIR}/{hashlib.sha256(data).hexdigest()[:20]}.wav"
            if self.fs.exists(f"{self.root}/{name}"):
                return 0
            self.files += 1
            self.bytes += len(data)
            request_id = str(result.get("request_id") or "request")
            with self.fs.open(f"{self.root}/{name}", "wb") as handle:
                handle.write(data)
            verdict, stage, reason = verdict_of(result)
            row: dict[str, Any] = {
                "file_name": name, "intent": "", "predicted_intent": predicted_intent(result),
                "input": str(result.get("input") or ""),
                "request_id": request_id, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "verdict": verdict, "stage": stage, "reason": reason, "signals": signals_of(result)}
            if self.config.log_transcripts and result.get("transcript") is not None:
                row["transcript"] = result["transcript"]
            self._append(json.dumps(row) + "\n")
        log.info("captured %s (%s) to %s", request_id, verdict, name)
        return 1

    def _append(self, line: str) -> None:
        """One metadata line; stores that cannot append (object stores) get the file rewritten."""
        path = f"{self.root}/{METADATA}"
        try:
            with self.fs.open(path, "ab") as handle:
                handle.write(line.encode())
        except (NotImplementedError, ValueError, OSError):
            before = self.fs.cat_file(path) if self.fs.exists(path) else b""
            with self.fs.open(path, "wb") as handle:
                handle.write(before + line.encode())


def from_settings(settings: Any) -> Capture | None:
    """The capture the settings ask for, or None (the default: capture off)."""
    url = getattr(settings, "capture_dir", None)
    if not url:
        return None
    return Capture(CaptureConfig(url, settings.capture_rate, parse_verdicts(settings.capture_verdicts),
                                 settings.capture_max_files, settings.capture_max_bytes,
                                 settings.server.log_transcripts))
