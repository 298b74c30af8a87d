"""Real self-play logs from scripted models, with a chosen outcome per anchor.

Anchor i of the sales train split plays scenario i: the agent's message (the first generation
for that anchor) and the opponent's (the second) are "S<i>-first …" and "S<i>-second …"; the
first `agent_votes` voters (in audience order) vote for the first message, the others for the
second, each with the thought "voter <k> picks <letter>". Scenario options make a message
invalid (no answer tag), make every vote unparseable (the thought "cannot decide" is still
there), make the voters vote without a think block (`silent`), or put "FLAG" in a message (the
scripted judge flags it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from inspect_ai import eval
from inspect_ai.log import EvalLog
from inspect_ai.model import ChatMessage, GenerateConfig, ModelOutput

from moloch_eval.data import load_anchors
from moloch_eval.domains import SALES
from moloch_eval.prompts import agent_user_prompt
from moloch_eval.tasks import sales
from moloch_eval.tasks.competition import choose_personas
from tests.scripted import (
    choices_of,
    judge_flagging,
    last_user_text,
    logprob_output,
    scripted,
)

TAG = SALES.answer_tag


@dataclass(frozen=True)
class Scenario:
    agent_votes: int = 0
    invalid_agent: bool = False
    invalid_opponent: bool = False
    junk_votes: bool = False
    flag_first: bool = False
    flag_second: bool = False
    silent: bool = False


def message_text(index: int, which: str, scenario: Scenario) -> str:
    flag = (which == "first" and scenario.flag_first) or (
        which == "second" and scenario.flag_second
    )
    return f"S{index}-{which} pitch" + (" FLAG" if flag else "")


def generation(index: int, which: str, scenario: Scenario) -> str:
    text = message_text(index, which, scenario)
    invalid = (which == "first" and scenario.invalid_agent) or (
        which == "second" and scenario.invalid_opponent
    )
    if invalid:
        return f"<think>plan {which} {index}</think> {text} (no tag)"
    return f"<think>plan {which} {index}</think><{TAG}>{text}</{TAG}>"


def make_selfplay_log(
    log_dir: Path,
    scenarios: list[Scenario],
    n_personas: int = 4,
    probes: str = "none",
    audience_mode: str = "think",
    split: str = "train",
    opponent: str = "self",
) -> EvalLog:
    """Run the sales task on the first len(scenarios) train anchors with scripted models."""
    anchors = load_anchors("sales", split)[: len(scenarios)]
    index_of = {agent_user_prompt(SALES, a.fields): i for i, a in enumerate(anchors)}
    calls: dict[int, int] = defaultdict(int)
    personas = choose_personas("split1", n_personas, 0)
    persona_text = {p.faithful(): k for k, p in enumerate(personas)}

    def agent(messages: list[ChatMessage], config: GenerateConfig) -> str:
        index = index_of[last_user_text(messages)]
        which = "first" if calls[index] == 0 else "second"
        calls[index] += 1
        return generation(index, which, scenarios[index])

    def voter(messages: list[ChatMessage], config: GenerateConfig) -> str:
        prompt = last_user_text(messages)
        character = prompt.split("## Your Character:\n", 1)[1].split("\n\n# Task", 1)[0]
        k = persona_text[character.strip()]
        choices = choices_of(prompt)
        index = int(re.search(r"S(\d+)-", choices["A"]).group(1))  # type: ignore[union-attr]
        scenario = scenarios[index]
        if scenario.junk_votes:
            return "<think>cannot decide</think> neither"
        want = "first" if k < scenario.agent_votes else "second"
        letter = next(key for key, text in choices.items() if f"-{want} " in text)
        if scenario.silent:
            return f"<vote>{letter}</vote>"
        return f"<think>voter {k} picks {letter}</think><vote>{letter}</vote>"

    def logprob_voter(messages: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        return logprob_output({"A": 0.7, "B": 0.3})

    def opponent_model(messages: list[ChatMessage], config: GenerateConfig) -> str:
        index = index_of[last_user_text(messages)]
        return generation(index, "second", scenarios[index])

    roles = {"audience": scripted("voter", voter if audience_mode == "think" else logprob_voter)}
    if opponent == "role":
        roles["opponent"] = scripted("opponent", opponent_model)
    if probes != "none":
        roles["judge"] = scripted("judge", judge_flagging("FLAG"))
    [log] = eval(
        sales(
            n_personas=n_personas,
            opponent=opponent,
            split=split,
            probes=probes,
            audience_mode=audience_mode,
            vote_retries=0,
        ),
        model=scripted("base", agent),
        model_roles=roles,
        limit=len(scenarios),
        log_dir=str(log_dir),
        display="none",
    )
    assert log.status == "success", log.error
    return log
