"""Turning a model's output into a competitor's message record."""

from __future__ import annotations

from inspect_ai.model import CachePolicy, ContentReasoning, ContentText, ModelOutput

from moloch_eval.parsing import extract_message, extract_think
from moloch_eval.records import MessageRecord, Side


def full_generation(output: ModelOutput) -> str:
    """The whole generation as text, reasoning included as a `<think>` block.

    Providers that split reasoning from the answer (e.g. vLLM's reasoning parser) return it
    as `ContentReasoning`; it is put back in the `<think>…</think>` form the paper trains on.
    """
    if not output.choices:
        return ""
    content = output.message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for item in content:
        if isinstance(item, ContentReasoning):
            thinking = item.reasoning if not item.redacted else (item.summary or "")
            parts.append(f"<think>\n{thinking}\n</think>\n\n")
        elif isinstance(item, ContentText):
            parts.append(item.text)
    return "".join(parts)


def message_cache(side: Side, enabled: bool) -> CachePolicy | None:
    """The cache policy of a competitor's generation: never expires, scoped by side.

    None when caching is off, so Inspect's own default (e.g. a cache set for the whole eval)
    still applies. The scope keeps the agent's and the opponent's generations apart when both
    are the same model on the same prompt (opponent "self": two independent samples, not one).
    """
    return CachePolicy(expiry=None, scopes={"side": side}) if enabled else None


def message_record(output: ModelOutput, tag: str) -> MessageRecord:
    """Extract think and the tagged message; a missing tag makes the message invalid."""
    generation = full_generation(output)
    message = extract_message(generation, tag)
    return MessageRecord(
        model=output.model,
        generation=generation,
        think=extract_think(generation),
        message=message,
        valid=message is not None,
        stop_reason=output.stop_reason if output.choices else None,
    )
