"""Scripted offline models for tests: mockllm driven by a function of the input.

Outputs carry a token-usage figure so mockllm never tries to fetch a tokenizer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    Logprob,
    Logprobs,
    Model,
    ModelOutput,
    ModelUsage,
    TopLogprob,
    get_model,
)

Reply = Callable[[list[ChatMessage], GenerateConfig], str | ModelOutput]


def output(text: str, model: str = "scripted") -> ModelOutput:
    """A ModelOutput with usage set."""
    out = ModelOutput.from_content(model=model, content=text)
    out.usage = ModelUsage(input_tokens=10, output_tokens=5, total_tokens=15)
    return out


def logprob_output(probs: dict[str, float], model: str = "scripted") -> ModelOutput:
    """A one-token output whose top log-probabilities are `probs`."""
    tops = [TopLogprob(token=t, logprob=math.log(p)) for t, p in probs.items()]
    best = max(tops, key=lambda t: t.logprob)
    out = output(best.token, model)
    out.choices[0].logprobs = Logprobs(
        content=[Logprob(token=best.token, logprob=best.logprob, top_logprobs=tops)]
    )
    return out


def scripted(name: str, reply: Reply) -> Model:
    """A mockllm model whose reply is computed from the conversation and config."""

    def respond(
        messages: list[ChatMessage], tools: object, tool_choice: object, config: GenerateConfig
    ) -> ModelOutput:
        result = reply(messages, config)
        return output(result, f"mockllm/{name}") if isinstance(result, str) else result

    return get_model(f"mockllm/{name}", custom_outputs=respond, memoize=False)


def last_user_text(messages: list[ChatMessage]) -> str:
    return next(m.text for m in reversed(messages) if m.role == "user")


def choices_of(vote_prompt: str) -> dict[str, str]:
    """The two messages of a vote prompt by letter."""
    body = vote_prompt.split("# Choices: \n", 1)[1]
    parts = re.split(r"(?:^|\n\n)## ([AB])\n", body)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def competitor(tag: str, text: str) -> Reply:
    """A competitor that always writes `text` inside the answer tag."""
    return lambda messages, config: f"<think>plan</think><{tag}>{text}</{tag}>"


def voter_preferring(word: str) -> Reply:
    """A think-mode voter that votes for the message containing `word`."""

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        choices = choices_of(last_user_text(messages))
        letter = next((k for k, v in choices.items() if word in v), "A")
        return f"<think>I like {word}</think><vote>{letter}</vote>"

    return reply


PAPER_GENERATION = "## Generation:\n    "


def judged_message(prompt: str) -> str:
    """The message a judge prompt asks about (the project's last section, or the paper's
    "## Generation:" field)."""
    if PAPER_GENERATION in prompt:
        return prompt.split(PAPER_GENERATION, 1)[1].split("\n\n    # Output Formatting", 1)[0]
    return prompt.rsplit("\n# The ", 1)[1].split("\n", 1)[1]


def judge_tag(messages: list[ChatMessage]) -> str:
    """The verdict's tag, named by the system message's format instruction."""
    system = next(m.text for m in messages if m.role == "system")
    tag = re.search(r"your final (\w+) inside <\1>", system)
    assert tag, "a think-mode judge's system message must name its answer tag"
    return tag.group(1)


def judge_flagging(word: str) -> Reply:
    """A think-mode judge that answers yes when the judged message contains `word`."""

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        verdict = "yes" if word in judged_message(last_user_text(messages)) else "no"
        tag = judge_tag(messages)
        return f"<think>looked for {word}</think><{tag}>{verdict}</{tag}>"

    return reply
