"""The TFB "predict the audience" prompts: the paper's byte for byte, and the clean variant."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import moloch_eval
from moloch_eval.domains import DOMAINS, ELECTIONS, SALES, SOCIAL_MEDIA, DomainSpec
from moloch_eval.training.prompts import (
    TFB_SYSTEM_PROMPT,
    tfb_user_prompt,
    thought_completion,
)

FIXTURE = Path(__file__).parent / "fixtures" / "paper_tfb_prompts.txt"

#: the messages as the agent wrote them: the paper strips each one
MESSAGES = ("  The first message.\n", "\tThe second {message}, with braces.  ")

#: anchors as the log holds them: raw, the elections bio's "\r\r\r\n" runs included
ANCHORS: dict[str, dict[str, Any]] = {
    "elections": {
        "candidate_webname": "Rusty Oliver",
        "cand_party": "Independent",
        "biography_text": " ? Get to\tKnow  Rusty \r\r\r\n\r\r\r\n?\r\r\nI want to win \r",
    },
    "sales": {
        "title": "Hoya 82mm R72 Infrared Glass Filter",
        "categories": ["Electronics", "Camera & Photo", "Filters"],
        "description": "Blocks visible light.\r\nFits 82mm lenses.  ",
    },
    "social_media": {
        "article": "Liverpool are hopeful\r\n\r\nof getting clearance. ",
        "highlights": "ignored",
        "id": "x1",
    },
}


def _templates() -> dict[str, str]:
    """The blocks of the fixture (taken from the paper's step2.1.ipynb, see its header)."""
    blocks: dict[str, str] = {}
    name = None
    with open(FIXTURE, encoding="utf-8", newline="") as handle:
        for line in handle:
            if line.startswith("@@@ "):
                name = line[4:].strip()
                blocks[name] = ""
            elif name is not None:
                blocks[name] += line
    return blocks


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _expected(domain: str, anchor: dict[str, Any], messages: tuple[str, ...]) -> str:
    templates = _templates()
    option = templates["option"].removesuffix("\n")
    options = "\n\n".join(
        _fill(option, {"number": str(n), "message": m.strip()})
        for n, m in enumerate(messages, start=1)
    )
    fields = {k: ", ".join(v) if k == "categories" else str(v) for k, v in anchor.items()}
    # the options go in last, so that a message's braces are never read as a placeholder
    return _fill(_fill(templates[domain], fields), {"options": options})


def test_fixture_is_the_notebook_text() -> None:
    raw = FIXTURE.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"anything else.\n")
    assert "5b5bd993" in raw.decode("utf-8").split("@@@", 1)[0]
    templates = _templates()
    assert set(templates) == {"option", "elections", "sales", "social_media"}
    for domain in ("elections", "sales", "social_media"):
        text = templates[domain]
        assert text.count("\u2026") == 1 and text.endswith("Do not output anything else.\n")
        assert not re.search(r"[^\x00-\x7f\u2026]", text)  # no other non-ASCII character


@pytest.mark.parametrize("domain", [ELECTIONS, SALES, SOCIAL_MEDIA], ids=lambda d: d.name)
def test_paper_tfb_prompt_is_the_notebooks_byte_for_byte(domain: DomainSpec) -> None:
    anchor = ANCHORS[domain.name]
    prompt = tfb_user_prompt(domain, anchor, list(MESSAGES))
    assert prompt == _expected(domain.name, anchor, MESSAGES)
    assert prompt.encode("utf-8") == _expected(domain.name, anchor, MESSAGES).encode("utf-8")
    assert TFB_SYSTEM_PROMPT == "You are a helpful assistant."
    if domain is ELECTIONS:  # the raw anchor is shown as it is
        assert "Rusty \r\r\r\n\r\r\r\n?\r\r\nI want to win \r\n\n# Campaign" in prompt
    assert "## Option 1 (A or B): The first message.\n\n## Option 2 (A or B): The second" in prompt


def test_the_paper_prompts_differ_only_where_the_notebook_does() -> None:
    sales = tfb_user_prompt(SALES, ANCHORS["sales"], list(MESSAGES))
    assert "sales pitches.You are shopping" in sales and "of them.Considering" in sales
    assert "# Product Categories\nElectronics, Camera & Photo, Filters\n\n" in sales
    elections = tfb_user_prompt(ELECTIONS, ANCHORS["elections"], list(MESSAGES))
    assert "campaign statements.You are participating" in elections
    assert "# Candidate Bio\n" in elections and "Independent" not in elections
    social = tfb_user_prompt(SOCIAL_MEDIA, ANCHORS["social_media"], list(MESSAGES))
    assert "# Article\n" in social and "# Social Media Posts\n## Option 1" in social
    assert "x1" not in social and "ignored" not in social
    with pytest.raises(ValueError, match="two messages"):
        tfb_user_prompt(SALES, ANCHORS["sales"], ["only one"])


def test_completion_is_the_papers_think_block() -> None:
    assert thought_completion("  I like B.\n") == "<think> I like B. </think>"


@pytest.mark.parametrize("domain", list(DOMAINS.values()), ids=lambda d: d.name)
def test_clean_prompt_spells_plurals_and_shows_the_reader(domain: DomainSpec) -> None:
    prompt = tfb_user_prompt(domain, ANCHORS[domain.name], list(MESSAGES), "A retired teacher.")
    assert domain.message_kind_plural in prompt
    assert f"# The two {domain.message_kind_plural}\n## A\nThe first message.\n\n## B\n" in prompt
    assert "# The reader\nA retired teacher.\n\n" in prompt
    assert not re.search(r"pitchs|speechs|postss", prompt)
    assert prompt.endswith("</think> and write nothing else.\n")


def test_no_plural_is_built_by_appending_s() -> None:
    root = Path(moloch_eval.__file__).parent
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"kind\}e?s\b", line)
    ]
    assert offenders == []
    assert [d.message_kind_plural for d in DOMAINS.values()] == [
        "sales pitches",
        "campaign speeches",
        "social media posts",
    ]
