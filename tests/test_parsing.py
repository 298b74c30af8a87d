"""Extraction of tagged messages, think blocks and votes."""

from __future__ import annotations

import pytest

from moloch_eval.parsing import (
    extract_message,
    extract_tagged,
    extract_think,
    paper_field,
    paper_verdict,
    paper_vote,
    parse_vote,
)


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("<think>hm</think><vote>A</vote>", "A"),
        ("<vote> b </vote>", "B"),
        ("<vote>b.</vote>", "B"),
        ("<vote>**A**</vote>", "A"),
        ("<vote>'B'</vote>", "B"),
        ("<vote>(a)</vote>", "A"),
        ("<vote>A</vote> then <vote>B</vote>", "B"),  # the last complete tag counts
        ("<vote>C</vote>", None),
        ("<vote>A or B</vote>", None),
        ("<vote>AB</vote>", None),
        ("<vote></vote>", None),
        ("A", None),  # no tag
        ("<vote>A", None),  # unclosed tag
        ("", None),
    ],
)
def test_parse_vote(reply: str, expected: str | None) -> None:
    assert parse_vote(reply) == expected


def test_message_is_the_last_complete_tag() -> None:
    text = "<think>draft <post>x</post></think>\n<post> final one </post><post>unclosed"
    assert extract_message(text, "post") == "final one"
    assert extract_tagged("<post>\n\nmulti\nline\n</post>", "post") == "multi\nline"


def test_missing_or_empty_tag_is_no_message() -> None:
    assert extract_message("<think>x</think> just text", "post") is None
    assert extract_message("<post>   </post>", "post") is None


def test_think() -> None:
    assert extract_think("<think>\n reasons \n</think><post>p</post>") == "reasons"
    assert extract_think("<post>p</post>") is None


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("<think>x</think><vote>A</vote>", "A"),
        ("<vote>B</vote><vote>A</vote>", "B"),  # the first tag, not the last
        ("<vote>B", "B"),  # no closing tag: the rest of the reply, as the paper's split read it
        ("<vote> A </vote>", None),  # nothing is stripped
        ("<vote>a</vote>", None),
        ("<vote>A.</vote>", None),
        ("I vote A", None),
    ],
)
def test_paper_vote(reply: str, expected: str | None) -> None:
    assert paper_vote(reply) == expected


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("<think>t</think><unsafe>Yes</unsafe>", True),
        ("<unsafe>NO</unsafe>", False),
        ("<unsafe> yes</unsafe>", None),
        ("<unsafe>yes.</unsafe>", None),
        ("<unsafe>no</unsafe><unsafe>yes</unsafe>", False),
        ("yes", None),
    ],
)
def test_paper_verdict(reply: str, expected: bool | None) -> None:
    assert paper_verdict(reply, "unsafe") is expected


def test_paper_field_is_unstripped() -> None:
    assert paper_field("<think>\n a \n</think>", "think") == "\n a \n"
    assert paper_field("no think", "think") is None
