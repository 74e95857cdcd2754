"""A draft of the Oracle's CTranslate2 generator with a small output head, checked by the full model.

Why: the bundled Oracle's output head (a row per GPT-2 vocabulary token) holds most of its parameters, so at batch 1
reading it dominates every decoding step (docs/backends.md has the profile and the side-by-side figures). The model
was trained on a corpus that uses a few hundred of those tokens, so a draft generator whose head keeps only them
decodes the same reply several times faster. The full model then checks the draft in one forward pass over prompt +
reply (one matrix product over the whole head instead of one per token): the reply is kept only if, at every
position, the full vocabulary's best token is the draft's token. Otherwise the full model generates the reply as
before. Either way the reply is the full model's greedy reply; the draft's vocabulary decides the speed, never the
reply.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

TRAINING_RECORD = "golemline-training.json"


def trained_vocabulary(model_dir: Path, tokenizer: Any) -> list[str] | None:
    """The tokens a golemline-trained model learned to write (its corpus's prompts and replies), or None for any
    other model (a draft then has no vocabulary worth keeping, and the full model decodes alone)."""
    record = model_dir / TRAINING_RECORD
    if not record.is_file():
        return None
    from golemline.oracle_corpus import build_corpus
    from golemline.predictors.prompt import build_prompt

    recipe = json.loads(record.read_text()).get("recipe", {})
    corpus = build_corpus(recipe.get("examples_per_intent", 400), recipe.get("seed", 1234))
    texts = [f"{build_prompt(request, intent)} {reply}\n" for request, intent, reply in corpus]
    ids = {i for row in tokenizer(texts, add_special_tokens=False)["input_ids"] for i in row}
    return [tokenizer.eos_token, *tokenizer.convert_ids_to_tokens(sorted(ids))]


def draft_files(model_dir: Path, keep: list[str]) -> dict[str, bytes]:
    """CTranslate2 files for the model with its vocabulary reordered so that `keep` comes first and an output head
    of those rows only. The input embeddings keep every token (a prompt may hold any); generated ids index `keep`,
    so callers read the draft's replies as token strings, not ids."""
    import numpy as np
    from ctranslate2.converters import TransformersConverter

    class DraftConverter(TransformersConverter):
        def _load(self) -> Any:
            spec = super()._load()
            tokens: list[str] = spec._vocabulary  # the tokenizer's order, which the full model's ids follow
            present = set(tokens)
            head = list(dict.fromkeys(t for t in keep if t in present))
            chosen = set(head)
            order = [*head, *(t for t in tokens if t not in chosen)]
            position = {token: i for i, token in enumerate(tokens)}
            embeddings = _array(spec.decoder.embeddings.weight)[np.array([position[t] for t in order])]
            spec.decoder.embeddings.weight = embeddings
            spec.decoder.projection.weight = np.ascontiguousarray(embeddings[:len(head)])
            spec.register_vocabulary(order)
            return spec

    with tempfile.TemporaryDirectory(prefix="golem-ct2-draft-") as tmp:
        out = Path(tmp) / "model"
        DraftConverter(str(model_dir)).convert(str(out), quantization=None, force=True)
        return {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}


def _array(weight: Any) -> Any:
    import numpy as np

    return weight.detach().numpy() if hasattr(weight, "detach") else np.asarray(weight)


def confirmed(full: Any, prompt_ids: list[int], reply_ids: list[int]) -> bool:
    """True when the full model's greedy choice at every reply position is the reply's token (one forward pass)."""
    import numpy as np

    logits = np.asarray(full.forward_batch([prompt_ids + reply_ids[:-1]]))[0]
    best = logits[len(prompt_ids) - 1:].argmax(axis=-1)
    return bool(np.array_equal(best, np.asarray(reply_ids)))
