"""Files golemline ships inside its package, found the same way from a source checkout and from an installed wheel.

The sample utterances (`samples/` in the repository, `golemline.samples` once installed) are the workload of
`golem bench` and of the load generator, so neither needs a source checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SAMPLE_NAMES = ("weather", "timer", "music", "news", "smalltalk", "misheard", "noise", "silence")


def sample(name: str) -> Path:
    """Path of a shipped sample utterance (`weather`, `noise`, ...)."""
    if name not in SAMPLE_NAMES:
        raise KeyError(f"no shipped sample {name!r}; known: {', '.join(SAMPLE_NAMES)}")
    return Path(str(files("golemline.samples") / f"{name}.wav"))
