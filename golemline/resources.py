"""Files golemline ships inside its package, found the same way from a source checkout and from an installed wheel.

The sample utterances (`samples/` in the repository, `golemline.samples` once installed) are the workload of
`golem bench` and of the load generator, so neither needs a source checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SAMPLE_NAMES = ("weather", "timer", "music", "news", "smalltalk", "misheard", "noise", "silence")

SPOKEN = {"weather": "What is the weather like in Paris today?", "timer": "Set a timer for ten minutes.",
          "music": "Please play some music.", "news": "What is the news today?",
          "smalltalk": "Hello, how are you doing today?"}
"""What each clean sample says (`scripts/make_samples.sh` speaks these), one per shipped intent. The one source of
demo sentences: the benchmarks' typed requests, the canary's golden set and the WER checks all read them here, so
a typed request and its spoken sample never drift apart."""


def sample(name: str) -> Path:
    """Path of a shipped sample utterance (`weather`, `noise`, ...)."""
    if name not in SAMPLE_NAMES:
        raise KeyError(f"no shipped sample {name!r}; known: {', '.join(SAMPLE_NAMES)}")
    return Path(str(files("golemline.samples") / f"{name}.wav"))
