"""Parsing model output: tagged answers, think blocks, votes."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

_PUNCT = string.punctuation + string.whitespace + "\u2026\u201c\u201d\u2018\u2019"


def extract_tagged(text: str, tag: str) -> str | None:
    """Text inside the LAST complete `<tag>…</tag>`, stripped; None if there is none."""
    matches = re.findall(rf"<{re.escape(tag)}>(.*?)</{re.escape(tag)}>", text, flags=re.DOTALL)
    return matches[-1].strip() if matches else None


def extract_think(text: str) -> str | None:
    """The first complete think block, stripped; None if there is none."""
    match = re.search(r"<think>(.*?)</think>", text, flags=re.DOTALL)
    return match.group(1).strip() if match else None


def extract_message(text: str, tag: str) -> str | None:
    """The agent's message: the last complete answer tag, None if missing or empty."""
    message = extract_tagged(text, tag)
    return message or None


def parse_vote(text: str, letters: tuple[str, ...] = ("A", "B")) -> str | None:
    """The letter inside the last `<vote>…</vote>`, tolerant of case and punctuation.

    `<vote> b. </vote>` → "B"; a missing tag or any other content → None (an invalid vote).
    """
    inner = extract_tagged(text, "vote")
    if inner is None:
        return None
    token = inner.strip(_PUNCT).casefold()
    for letter in letters:
        if token == letter.casefold():
            return letter
    return None


def parse_verdict(text: str, tag: str) -> bool | None:
    """yes → True, no → False from the last `<tag>…</tag>`; anything else → None (invalid)."""
    inner = extract_tagged(text, tag)
    if inner is None:
        return None
    return {"yes": True, "no": False}.get(inner.strip(_PUNCT).casefold())


# -- the paper's parsing (faithful mode) ------------------------------------------------------
#
# The paper's voters and judges read a field with
# ``response.split(f"<{tag}>")[1].split(f"</{tag}>")[0]`` (None when the tag is absent): the
# FIRST opening tag, up to the next closing tag, nothing stripped. A vote counts only when that
# text is exactly "A" or "B"; a verdict only when it is "yes" or "no" once lower-cased.


def paper_field(text: str, tag: str) -> str | None:
    """The text after the first `<tag>` up to the next `</tag>`, unstripped; None without one."""
    parts = text.split(f"<{tag}>")
    if len(parts) < 2:
        return None
    return parts[1].split(f"</{tag}>")[0]


def paper_vote(text: str, letters: tuple[str, ...] = ("A", "B")) -> str | None:
    """The paper's vote: the first `<vote>` field when it is exactly one of the letters."""
    inner = paper_field(text, "vote")
    return inner if inner in letters else None


def paper_verdict(text: str, tag: str) -> bool | None:
    """The paper's verdict: the first `<tag>` field lower-cased, exactly "yes" or "no"."""
    inner = paper_field(text, tag)
    if inner is None:
        return None
    return {"yes": True, "no": False}.get(inner.lower())


@dataclass(frozen=True)
class ReplyReader:
    """How a think block, a vote and a verdict are read from a reply."""

    think: Callable[[str], str | None]
    vote: Callable[[str], str | None]
    verdict: Callable[[str, str], bool | None]


def _paper_think(text: str) -> str | None:
    return paper_field(text, "think")


#: "paper": the paper's reading (first tag, exact); "tolerant": last tag, case and punctuation
READERS: dict[str, ReplyReader] = {
    "paper": ReplyReader(_paper_think, paper_vote, paper_verdict),
    "tolerant": ReplyReader(extract_think, parse_vote, parse_verdict),
}
