"""Faithful (what the paper's code ran) versus clean: the settings where the two differ.

Every task and scorer argument listed here defaults to None, which resolves to the faithful
value under `-T faithful=true` (the default) and to the clean value under `faithful=false`; a
value given explicitly always wins. The resolved values, and what set each, are written into
the log (task metadata "protocol"), so a log says which protocol it ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One setting where the paper's code and the clean protocol differ."""

    name: str
    faithful: Any
    clean: Any
    what: str


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "vote_parse",
            "paper",
            "tolerant",
            "a vote is the first <vote> field, exactly A or B (paper) | the last <vote> tag, "
            "case and punctuation ignored (tolerant)",
        ),
        Setting("vote_retries", 0, 2, "re-asks of a voter whose reply has no vote"),
        Setting("voter_max_tokens", None, 1024, "voter token limit (None: the provider's)"),
        Setting(
            "judge_prompts",
            "paper",
            "project",
            "the paper's trends/ prompts, shown the chat-templated agent prompt | the "
            "project's wording, shown the clean anchor",
        ),
        Setting(
            "judge_parse",
            "paper",
            "tolerant",
            "a verdict is the first tag's text, yes or no once lower-cased | the last tag, "
            "case and punctuation ignored",
        ),
        Setting("judge_temperature", 0.7, 0.0, "judge sampling temperature"),
        Setting("judge_max_tokens", None, 1024, "judge token limit (None: the provider's)"),
        Setting("judge_retries", 0, 2, "re-asks of a judge whose reply has no verdict"),
        Setting(
            "clean_anchors",
            False,
            True,
            "anchors as raw bytes, all of them | whitespace normalised, duplicates and "
            "train/test overlaps removed",
        ),
    )
}


def resolve(faithful: bool, given: Mapping[str, Any]) -> dict[str, Any]:
    """The value of every setting in `given`: the given one, else the protocol's default."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        setting = SETTINGS[name]
        default = setting.faithful if faithful else setting.clean
        out[name] = default if value is None else value
    return out


def provenance(faithful: bool, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For the log: each setting's value and what set it ("argument", "faithful", "clean")."""
    values = resolve(faithful, given)
    protocol = "faithful" if faithful else "clean"
    return {
        name: {"value": values[name], "set_by": protocol if given[name] is None else "argument"}
        for name in given
    }
