"""Extraction of tagged messages, think blocks and votes."""

from __future__ import annotations

import pytest

from moloch_eval.solvers.parsing import extract_message, extract_tagged, extract_think, parse_vote


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
