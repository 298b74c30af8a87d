"""Reading one-token answers from the top log-probabilities of the first output token."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from inspect_ai.model import GenerateConfig, ModelOutput

#: markers tokenizers put before a word: byte-level BPE ("Ġ"), SentencePiece ("▁")
_WORD_MARKERS = ("Ġ", "▁")


def one_token_config(top_logprobs: int) -> GenerateConfig:
    """Generation of a one-token answer read from its top log-probabilities."""
    return GenerateConfig(max_tokens=1, logprobs=True, top_logprobs=top_logprobs)


def answer_config(
    one_token: bool, top_logprobs: int, temperature: float | None, max_tokens: int | None
) -> GenerateConfig:
    """Generation of an answer: one token read from its top log-probabilities (`one_token`),
    else a sampled reply (`temperature`, `max_tokens`; None leaves them to the provider)."""
    if one_token:
        return one_token_config(top_logprobs)
    return GenerateConfig(temperature=temperature, max_tokens=max_tokens)


def bare_token(token: str) -> str:
    """A token without whitespace or word-start markers."""
    for marker in _WORD_MARKERS:
        token = token.replace(marker, "")
    return token.strip()


def first_token_mass(
    output: ModelOutput,
    answers: Iterable[str],
    normalise: Callable[[str], str] = bare_token,
) -> dict[str, float]:
    """Probability mass on each answer among the first token's top log-probabilities.

    A token counts for an answer when `normalise(token)` equals it; each distinct token is
    counted once. Answers missing from the top-k get 0.
    """
    mass = dict.fromkeys(answers, 0.0)
    choice = output.choices[0] if output.choices else None
    if choice is None or choice.logprobs is None or not choice.logprobs.content:
        return mass
    first = choice.logprobs.content[0]
    candidates = [(t.token, t.logprob) for t in first.top_logprobs or []]
    seen: set[str] = set()
    for token, logprob in candidates or [(first.token, first.logprob)]:
        if token in seen:
            continue
        seen.add(token)
        answer = normalise(token)
        if answer in mass:
            mass[answer] += math.exp(logprob)
    return mass
