"""The probe judge: one yes/no verdict about one message, in think or logprob mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from inspect_ai.model import (
    ChatMessage,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    Model,
    ModelOutput,
)
from pydantic import BaseModel, Field

from moloch_eval.chat_templates import TEMPLATES
from moloch_eval.parsing import READERS
from moloch_eval.prompts import judge_system_prompt
from moloch_eval.solvers.logprobs import answer_config, bare_token, first_token_mass
from moloch_eval.solvers.retry import ask_until_read

JudgeMode = Literal["think", "logprob"]
JUDGE_MODES: tuple[JudgeMode, ...] = ("think", "logprob")
JudgePrompts = Literal["paper", "project"]
JUDGE_PROMPTS: tuple[JudgePrompts, ...] = ("paper", "project")
JudgeParse = Literal["paper", "tolerant"]
JUDGE_PARSES: tuple[JudgeParse, ...] = ("paper", "tolerant")
CHAT_TEMPLATES: tuple[str, ...] = ("auto", "none", *TEMPLATES)
JUDGE_ROLE = "judge"


@dataclass(frozen=True)
class JudgeConfig:
    """How the judge answers. The defaults are the paper's (gpt-4o, think mode, temperature
    0.7, the provider's token limit, no retries, its prompts and parsing); the clean protocol
    is temperature 0, 1,024 tokens, 2 retries, the project's prompts, tolerant parsing.

    `prompts` "paper": the paper's prompt where it has one for the probe and domain (the
    project's elsewhere), shown the agent's prompt rendered with `chat_template` ("auto":
    the evaluated model's family, Qwen3 or Llama 3; "none": the plain user message).
    """

    mode: JudgeMode = "think"
    temperature: float = 0.7
    max_tokens: int | None = None
    max_retries: int = 0
    top_logprobs: int = 20
    cache: bool = False
    #: None: "paper" in think mode, "project" in logprob mode
    prompts: JudgePrompts | None = None
    parse: JudgeParse = "paper"
    chat_template: str = "auto"
    #: log each verdict's model events in the sample's transcript (see solvers.events)
    events: bool = False

    def __post_init__(self) -> None:
        if self.prompts is None:
            object.__setattr__(self, "prompts", "paper" if self.mode == "think" else "project")
        if self.mode not in JUDGE_MODES:
            raise ValueError(f"judge_mode must be one of {JUDGE_MODES}, not {self.mode!r}")
        if self.max_retries < 0:
            raise ValueError("judge_retries must be >= 0")
        if self.prompts not in JUDGE_PROMPTS:
            raise ValueError(f"judge_prompts must be one of {JUDGE_PROMPTS}, not {self.prompts!r}")
        if self.parse not in JUDGE_PARSES:
            raise ValueError(f"judge_parse must be one of {JUDGE_PARSES}, not {self.parse!r}")
        if self.chat_template not in CHAT_TEMPLATES:
            raise ValueError(
                f"chat_template must be one of {CHAT_TEMPLATES}, not {self.chat_template!r}"
            )
        if self.mode == "logprob" and self.prompts == "paper":
            raise ValueError(
                "the paper's judge prompts ask for a think block and a tag; a logprob judge "
                "uses the project's one-word prompts: pass -T judge_prompts=project (or "
                "-T judge_mode=think)."
            )

    def generate_config(self) -> GenerateConfig:
        return answer_config(
            self.mode == "logprob", self.top_logprobs, self.temperature, self.max_tokens
        )


class Judgement(BaseModel):
    """The judge's verdict on one message (kept in the score's metadata)."""

    verdict: bool | None = None
    valid: bool = False
    #: logprob mode: P(yes) among yes/no; the verdict is yes when it exceeds 0.5
    p_yes: float | None = None
    reasoning: str | None = None
    replies: list[str] = Field(default_factory=list)
    #: retries of the judge's calls while their events stay out of the transcript
    retries: int = 0


def _yes_no(token: str) -> str:
    return bare_token(token).casefold()


async def judge(model: Model, tag: str, prompt: str, config: JudgeConfig) -> Judgement:
    """Ask the judge; retry unparseable think-mode replies, then count the judgement invalid.

    `tag` is the answer tag of the verdict (and names it in the system message). Replies are
    kept whole, reasoning content included (see `full_generation`).
    """
    messages: list[ChatMessage] = [
        ChatMessageSystem(content=judge_system_prompt(tag, config.mode)),
        ChatMessageUser(content=prompt),
    ]
    result = Judgement()
    reader = READERS[config.parse]

    def read(reply: str, output: ModelOutput) -> bool:
        if config.mode == "logprob":
            mass = first_token_mass(output, ("yes", "no"), normalise=_yes_no)
            total = mass["yes"] + mass["no"]
            if total > 0:
                result.p_yes = mass["yes"] / total
                result.verdict, result.valid = result.p_yes > 0.5, True
            return True  # a distribution: never asked again
        result.reasoning, verdict = reader.think(reply), reader.verdict(reply, tag)
        if verdict is not None:
            result.verdict, result.valid = verdict, True
        return verdict is not None

    attempts = config.max_retries + 1 if config.mode == "think" else 1
    result.retries = await ask_until_read(
        model,
        messages,
        config.generate_config(),
        attempts,
        read,
        result.replies,
        config.cache,
        events=config.events,
    )
    return result
