"""The Oracle's prompt format — one place, shared by inference and by the bundled model's training corpus."""

from __future__ import annotations

PROMPT_TEMPLATE = "Request: {text}\nIntent: {intent}\nReply:"


def build_prompt(text: str, intent: str) -> str:
    """The text the causal LM continues; the reply is the rest of the line after "Reply:"."""
    return PROMPT_TEMPLATE.format(text=text.strip(), intent=intent.strip())
