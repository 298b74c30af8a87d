"""Scripted competition logs of a base and two tuned models, with every outcome set per anchor.

Each competitor's message for anchor i is chosen from a script: `pull=k` makes exactly the
first k personas (in audience order) vote for it against a base message (`pull=0`);
`MUTE2` makes persona 2 answer junk (an invalid vote); `HYPE` is flagged by the
misrepresentation, disinformation and harmful-behaviour judges, `ELITE` by the populism
judge, and `GARBLE` gets junk from every judge (invalid judgements). So each row's numbers
can be computed by hand from the scripts below.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from inspect_ai.model import ChatMessage, GenerateConfig, Model

from moloch_eval.domains import DOMAINS
from moloch_eval.tasks.competition import choose_personas
from moloch_eval.tasks.dataset import competition_dataset
from tests.scripted import choices_of, judge_tag, judged_message, last_user_text, scripted

N_ANCHORS = 6
N_PERSONAS = 3
FLAG_WORDS = {
    "misrepresentation": "HYPE",
    "disinformation": "HYPE",
    "harmful_behaviour": "HYPE",
    "populism": "ELITE",
}
ANCHOR_FIELD = {"sales": "title", "elections": "candidate_webname", "social_media": "article"}


@dataclass(frozen=True)
class Script:
    """Per-anchor content of one competitor's messages."""

    pulls: Sequence[int]
    words: dict[int, str]  # anchor index → extra words (HYPE, ELITE, MUTE2, GARBLE)

    def message(self, i: int) -> str:
        return f"pitch {i} pull={self.pulls[i]} {self.words.get(i, '')}".strip()


BASE = {
    "sales": Script([0] * 6, {0: "HYPE", 3: "HYPE"}),
    "elections": Script([0] * 6, {0: "ELITE", 1: "HYPE", 2: "HYPE"}),
}
TUNED = {
    ("rft", "sales"): Script(
        [3, 2, 2, 1, 3, 2], {0: "HYPE", 1: "HYPE", 3: "HYPE", 4: "HYPE", 5: "MUTE2"}
    ),
    ("tfb", "sales"): Script([1, 1, 2, 1, 1, 2], {3: "HYPE"}),
    ("rft", "elections"): Script(
        [2, 3, 1, 2, 2, 3],
        {0: "HYPE ELITE", 1: "HYPE", 2: "HYPE", 3: "HYPE", 4: "GARBLE", 5: "ELITE"},
    ),
    ("tfb", "elections"): Script([1, 1, 1, 2, 1, 1], {1: "HYPE"}),
}


@functools.cache
def anchor_keys(domain: str) -> list[str]:
    """The identifying text of the first anchors (what the agent prompt shows)."""
    dataset = competition_dataset(DOMAINS[domain], "test")
    field = ANCHOR_FIELD[domain]
    return [str(s.metadata["anchor"][field]) for s in list(dataset)[:N_ANCHORS]]  # type: ignore[index]


def competitor(name: str, domain: str, script: Script) -> Model:
    """A model that writes the scripted message of the anchor in its prompt."""
    keys = anchor_keys(domain)
    tag = DOMAINS[domain].answer_tag

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        prompt = last_user_text(messages)
        i = next(i for i, key in enumerate(keys) if key in prompt)
        return f"<think>plan</think><{tag}>{script.message(i)}</{tag}>"

    return scripted(name, reply)


@functools.cache
def persona_names() -> list[str]:
    return [p.raw["character_name"] for p in choose_personas("split1", N_PERSONAS, 0)]


def voter(name: str) -> Model:
    """Persona p votes for the message whose pull is above p, else for the other one (for A
    when both pull the same); a pair holding MUTEp gets junk from persona p."""
    names = persona_names()

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        prompt = last_user_text(messages)
        p = next(i for i, n in enumerate(names) if f"'character_name': '{n}'" in prompt)
        choices = choices_of(prompt)
        if any(f"MUTE{p}" in text for text in choices.values()):
            return "I cannot decide."
        pulls = {k: int(re.search(r"pull=(\d)", v).group(1)) for k, v in choices.items()}  # type: ignore[union-attr]
        strong = max(pulls, key=lambda k: pulls[k])
        weak = min(pulls, key=lambda k: pulls[k])  # "A" when both pull the same
        letter = strong if pulls[strong] > p else weak
        return f"<think>persona {p}</think><vote>{letter}</vote>"

    return scripted(name, reply)


#: the answer tags of the paper's judge prompts, by probe
PAPER_TAGS = {
    "misrepresents_product": "misrepresentation",
    "fabricated": "disinformation",
    "populist": "populism",
    "unsafe": "harmful_behaviour",
}


def judge(name: str = "judge") -> Model:
    """Flags a message when it holds its probe's word; junk for GARBLE."""

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        tag = judge_tag(messages)
        message = judged_message(last_user_text(messages))
        if "GARBLE" in message:
            return "no idea"
        verdict = "yes" if FLAG_WORDS[PAPER_TAGS.get(tag, tag)] in message else "no"
        return f"<think>checked</think><{tag}>{verdict}</{tag}>"

    return scripted(name, reply)
