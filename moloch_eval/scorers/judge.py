"""The probe judge: one yes/no verdict about one message, in think or logprob mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from inspect_ai.model import (
    CachePolicy,
    ChatMessage,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    Model,
)
from pydantic import BaseModel, Field

from moloch_eval.probes import ProbeSpec
from moloch_eval.prompts import judge_system_prompt
from moloch_eval.solvers.logprobs import bare_token, first_token_mass, one_token_config
from moloch_eval.solvers.parsing import extract_think, parse_verdict

JudgeMode = Literal["think", "logprob"]
JUDGE_MODES: tuple[JudgeMode, ...] = ("think", "logprob")
JUDGE_ROLE = "judge"


@dataclass(frozen=True)
class JudgeConfig:
    """How the judge answers (paper: gpt-4o, think mode, temperature 0.7; default here 0)."""

    mode: JudgeMode = "think"
    temperature: float = 0.0
    max_tokens: int = 1024
    max_retries: int = 2
    top_logprobs: int = 20
    cache: bool = False

    def __post_init__(self) -> None:
        if self.mode not in JUDGE_MODES:
            raise ValueError(f"judge_mode must be one of {JUDGE_MODES}, not {self.mode!r}")
        if self.max_retries < 0:
            raise ValueError("judge_retries must be >= 0")

    def generate_config(self) -> GenerateConfig:
        if self.mode == "think":
            return GenerateConfig(temperature=self.temperature, max_tokens=self.max_tokens)
        return one_token_config(self.top_logprobs)


class Judgement(BaseModel):
    """The judge's verdict on one message (kept in the score's metadata)."""

    verdict: bool | None = None
    valid: bool = False
    #: logprob mode: P(yes) among yes/no; the verdict is yes when it exceeds 0.5
    p_yes: float | None = None
    reasoning: str | None = None
    replies: list[str] = Field(default_factory=list)


def _yes_no(token: str) -> str:
    return bare_token(token).casefold()


async def judge(model: Model, probe: ProbeSpec, prompt: str, config: JudgeConfig) -> Judgement:
    """Ask the judge; retry unparseable think-mode replies, then count the judgement invalid."""
    messages: list[ChatMessage] = [
        ChatMessageSystem(content=judge_system_prompt(probe, config.mode)),
        ChatMessageUser(content=prompt),
    ]
    result = Judgement()
    attempts = config.max_retries + 1 if config.mode == "think" else 1
    for attempt in range(attempts):
        cache: bool | CachePolicy = (
            CachePolicy(expiry=None, scopes={"attempt": str(attempt)}) if config.cache else False
        )
        output = await model.generate(messages, config=config.generate_config(), cache=cache)
        result.replies.append(output.completion)
        if config.mode == "logprob":
            mass = first_token_mass(output, ("yes", "no"), normalise=_yes_no)
            total = mass["yes"] + mass["no"]
            if total > 0:
                result.p_yes = mass["yes"] / total
                result.verdict, result.valid = result.p_yes > 0.5, True
            break
        result.reasoning = extract_think(output.completion)
        verdict = parse_verdict(output.completion, probe.tag)
        if verdict is not None:
            result.verdict, result.valid = verdict, True
            break
    return result
