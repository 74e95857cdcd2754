"""The Oracle's CTranslate2 backend: the same weights, converted at load time, give the torch backend's greedy
replies token for token (at batch 1 and batched), honour the same context and length bounds, and sample
reproducibly with a seed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from golemline.bench.backends import heldout_reply_requests
from golemline.domain import ReplyRequest
from golemline.predictors.oracle import CausalLM, CTranslate2CausalLM, Oracle
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
    generated = backend._forward(backend.preprocess([request]))[0]  # type: ignore[attr-defined]
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


def test_lone_requests_are_decoded_by_the_draft_and_confirmed(both: dict[str, Oracle]) -> None:
    """The draft (a small output head) is what decodes a lone request on the CPU, and the full model confirms it:
    without this the speed-up silently falls back to the full model on every request."""
    backend = both["ctranslate2"]._loaded_backend()
    assert backend._draft is not None  # type: ignore[attr-defined]
    prompts = backend.preprocess(REQUESTS)
    drafted = [backend._confirmed_draft(p, 48) for p in prompts]  # type: ignore[attr-defined]
    assert all(d is not None for d in drafted)


def test_a_draft_the_full_model_rejects_gives_way_to_the_full_model(both: dict[str, Oracle]) -> None:
    """A draft whose head lacks a token of the reply writes something else; the full model's check rejects it and
    the reply is still the full model's, token for token."""
    from golemline.predictors.ct2draft import confirmed, draft_files, trained_vocabulary

    oracle = both["ctranslate2"]
    backend = oracle._loaded_backend()
    request = REQUESTS[0]
    prompt = backend.preprocess([request])[0]
    full_reply = backend._generate(backend._model, [prompt], 48)[0].sequences_ids[0]  # type: ignore[attr-defined]
    tokenizer = backend._tokenizer  # type: ignore[attr-defined]
    missing = tokenizer.convert_ids_to_tokens(full_reply[0])
    keep = [t for t in trained_vocabulary(backend.model_dir, tokenizer) or [] if t != missing]
    import ctranslate2

    good_draft = backend._draft  # type: ignore[attr-defined]
    backend._draft = ctranslate2.Generator(str(backend.model_dir), files=draft_files(backend.model_dir, keep))  # type: ignore[attr-defined]
    try:
        assert backend._confirmed_draft(prompt, 48) is None  # type: ignore[attr-defined]
        [reply] = oracle.run([request])
    finally:
        backend._draft = good_draft  # type: ignore[attr-defined]
    prompt_ids = tokenizer.convert_tokens_to_ids(prompt)
    assert confirmed(backend._model, prompt_ids, full_reply)  # type: ignore[attr-defined]
    assert not confirmed(backend._model, prompt_ids, [full_reply[1], *full_reply[1:]])  # type: ignore[attr-defined]
    assert (reply.tokens, reply.text) == (len(full_reply), tokenizer.decode(full_reply).split("\n")[0].strip())


def test_only_a_greedy_cpu_golemline_model_gets_a_draft_and_its_bytes_are_counted(tmp_path: Path,
                                                                                 both: dict[str, Oracle]) -> None:
    """A seed (sampling), or a model golemline did not train, keeps the full model alone; the draft's copy of the
    weights is in the footprint the lifecycle budgets."""
    oracle = both["ctranslate2"]
    model_dir = oracle._loaded_backend().model_dir
    assert CTranslate2CausalLM.drafts(model_dir, oracle.settings)
    assert not CTranslate2CausalLM.drafts(model_dir, oracle.settings.with_overrides(seed=7))
    assert not CTranslate2CausalLM.drafts(tmp_path, oracle.settings)  # no training record: any other model
    assert oracle.memory_bytes() == oracle.estimated_bytes()
    assert oracle.estimated_bytes() == 2 * CausalLM.estimate_bytes(model_dir, oracle.settings)
