"""The Oracle's CTranslate2 backend: the same weights, converted at load time, give the torch backend's greedy
replies token for token (at batch 1 and batched), honour the same context and length bounds, and sample
reproducibly with a seed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from golemline.bench.backends import heldout_reply_requests
from golemline.domain import ReplyRequest
from golemline.predictors.oracle import Oracle
from golemline.settings import Settings
from tests.test_oracle import HELD_OUT

pytestmark = pytest.mark.slow

REQUESTS = [*(ReplyRequest(text, intent) for intent, texts in HELD_OUT.items() for text in texts),
            *heldout_reply_requests()]


def _loaded(backend: str, **overrides: object) -> Oracle:
    oracle = Oracle(Settings().with_overrides(oracle_backend=backend, **overrides))
    oracle.load()
    return oracle


@pytest.fixture(scope="module")
def both() -> Iterator[dict[str, Oracle]]:
    oracles = {b: _loaded(b) for b in ("causal-lm", "ctranslate2")}
    yield oracles
    for oracle in oracles.values():
        oracle.unload()


def _token_ids(oracle: Oracle, request: ReplyRequest) -> list[int]:
    """The generated token ids at batch 1, as the backend's forward step returns them (padding dropped)."""
    backend = oracle._loaded_backend()
    generated = backend.forward(backend.preprocess([request]))[0]  # type: ignore[attr-defined]
    row = generated[0] if isinstance(generated, list) else generated[0].tolist()
    pad = backend._tokenizer.pad_token_id  # type: ignore[attr-defined]
    return [t for t in row if t != pad]


def test_greedy_replies_are_token_for_token_the_torch_backends(both: dict[str, Oracle]) -> None:
    torch_ids = [_token_ids(both["causal-lm"], r) for r in REQUESTS]
    ct2_ids = [_token_ids(both["ctranslate2"], r) for r in REQUESTS]
    assert all(torch_ids)  # real replies, not empty ones
    assert ct2_ids == torch_ids


def test_batched_replies_are_the_torch_backends_too(both: dict[str, Oracle]) -> None:
    """A batch of ragged prompts (the server's case) gives every request the reply it gets alone on torch."""
    torch_replies = [both["causal-lm"].run([r])[0] for r in REQUESTS]
    ct2_batched = both["ctranslate2"].run(REQUESTS)
    assert [(r.text, r.tokens) for r in ct2_batched] == [(r.text, r.tokens) for r in torch_replies]


def test_a_request_longer_than_the_context_still_gets_a_bounded_reply() -> None:
    oracle = _loaded("ctranslate2", max_new_tokens=256)
    text = " ".join(f"word{i}" for i in range(300)) + " what is the weather like today"
    replies = oracle.run([ReplyRequest(text, "weather"), ReplyRequest("Play jazz.", "music")])
    bytes_held = oracle.memory_bytes()
    oracle.unload()
    assert all(0 < r.tokens <= 48 for r in replies)  # at most half the bundled model's 96 positions
    assert bytes_held > 0 and oracle.memory_bytes() == 0


def test_seeded_sampling_is_reproducible_and_the_torch_backends_draws() -> None:
    """CTranslate2 cannot replay a seed per request (one random state per worker thread): with a seed the backend
    samples on torch, so a seed gives the same reply every time, and the same one on either backend."""
    request = [ReplyRequest("Play some music.", "music")]
    replies = []
    for backend in ("ctranslate2", "ctranslate2", "causal-lm"):
        oracle = _loaded(backend, seed=7, max_new_tokens=12)
        replies += [oracle.run(request)[0], oracle.run(request)[0]]
        oracle.unload()
    assert len({r.text for r in replies}) == 1 and 0 < replies[0].tokens <= 12
