"""Audience voting: seeded letters, logprob votes, retries and invalid votes."""

from __future__ import annotations

from collections import Counter

import pytest
from inspect_ai.model import ContentReasoning, ContentText

from moloch_eval.data import Persona
from moloch_eval.domains import SALES
from moloch_eval.records import VoteRecord
from moloch_eval.solvers.audience import (
    AudienceConfig,
    AudienceVoter,
    letter_map,
    letter_probabilities,
)
from tests.scripted import last_user_text, logprob_output, output, scripted

PERSONA = Persona(id="P", raw={"character_name": "P", "gender": "female"})
TEXTS = {"agent": "AGENT pitch", "opponent": "OPPONENT pitch"}


def test_letter_map_is_seeded_and_balanced() -> None:
    maps = [letter_map(0, f"s-{i}", p) for i in range(100) for p in range(20)]
    assert maps == [letter_map(0, f"s-{i}", p) for i in range(100) for p in range(20)]
    assert all(sorted(m.values()) == ["agent", "opponent"] for m in maps)
    first = Counter(m["A"] for m in maps)
    assert 900 < first["agent"] < 1100  # about half the pairs show the agent first
    assert maps != [letter_map(1, f"s-{i}", p) for i in range(100) for p in range(20)]


def test_letter_probabilities_reads_letter_tokens_only() -> None:
    out = logprob_output({"ĠA": 0.3, "B": 0.1, "a": 0.4, "<": 0.2})
    probs = letter_probabilities(out)
    assert probs["A"] == pytest.approx(0.3) and probs["B"] == pytest.approx(0.1)


async def _vote(reply, config: AudienceConfig) -> VoteRecord:  # type: ignore[no-untyped-def]
    voter = AudienceVoter(SALES, scripted("voter", reply), config)
    return await voter.vote("sales-test-0001", 3, PERSONA, TEXTS)


async def test_think_vote_maps_letter_to_side() -> None:
    def reply(messages, config):  # type: ignore[no-untyped-def]
        text = last_user_text(messages)
        letter = "A" if text.index("AGENT") < text.index("OPPONENT") else "B"
        return f"<think>the agent</think><vote>{letter}</vote>"

    record = await _vote(reply, AudienceConfig())
    assert record.valid and record.choice == "agent" and record.thought == "the agent"
    assert record.parse == "paper"
    assert record.letters == letter_map(0, "sales-test-0001", 3)
    assert record.replies and record.persona_id == "P"


async def test_unparseable_vote_is_retried_then_invalid() -> None:
    calls: list[int] = []

    def junk(messages, config):  # type: ignore[no-untyped-def]
        calls.append(1)
        return "<think>hmm</think>I pick the first one"

    record = await _vote(junk, AudienceConfig(max_retries=2, parse="tolerant"))
    assert not record.valid and record.choice is None and len(calls) == 3
    assert len(record.replies) == 3 and record.thought == "hmm"

    replies = iter(["no vote here", "<vote>B</vote>"])
    record = await _vote(lambda m, c: next(replies), AudienceConfig(max_retries=2))
    assert AudienceConfig().max_retries == 0  # the paper asked each voter once
    assert record.valid and record.letter == "B" and len(record.replies) == 2


async def test_logprob_vote() -> None:
    def reply(messages, config):  # type: ignore[no-untyped-def]
        assert config.max_tokens == 1 and config.logprobs
        return logprob_output({"A": 0.6, "B": 0.2, "x": 0.2})

    record = await _vote(reply, AudienceConfig(mode="logprob"))
    agent_letter = next(k for k, v in record.letters.items() if v == "agent")
    expected = 0.75 if agent_letter == "A" else 0.25
    assert record.p_agent == pytest.approx(expected)
    assert record.letter_mass == pytest.approx(0.8)
    assert record.valid and record.letter == "A"


async def test_logprob_both_orders_cancels_position_bias() -> None:
    record = await _vote(
        lambda m, c: logprob_output({"A": 0.6, "B": 0.2}),
        AudienceConfig(mode="logprob", both_orders=True),
    )
    # a voter that always prefers A has no preference between the sides
    assert record.p_agent == pytest.approx(0.5) and not record.valid
    assert len(record.replies) == 2


async def test_logprob_vote_without_letters_is_invalid() -> None:
    record = await _vote(lambda m, c: logprob_output({"x": 0.9}), AudienceConfig(mode="logprob"))
    assert not record.valid and record.letter_mass == 0 and record.p_agent is None


def test_bad_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="audience_mode"):
        AudienceConfig(mode="vibes")


async def test_thought_is_read_from_reasoning_content() -> None:
    """Providers that split a think block into reasoning content still yield the thought."""

    def reply(messages, config):  # type: ignore[no-untyped-def]
        out = output("<vote>A</vote>")
        out.choices[0].message.content = [
            ContentReasoning(reasoning="weighing both"),
            ContentText(text="<vote>A</vote>"),
        ]
        return out

    for parse in ("paper", "tolerant"):
        record = await _vote(reply, AudienceConfig(parse=parse))  # type: ignore[arg-type]
        assert record.valid and record.letter == "A"
        assert (record.thought or "").strip() == "weighing both"
        assert record.replies == ["<think>\nweighing both\n</think>\n\n<vote>A</vote>"]


async def test_paper_parse_takes_the_first_exact_letter() -> None:
    record = await _vote(lambda m, c: "<vote> a </vote><vote>B</vote>", AudienceConfig())
    assert not record.valid and len(record.replies) == 1  # no retries, nothing stripped
    config = AudienceConfig(parse="tolerant", max_retries=0)
    record = await _vote(lambda m, c: "<vote> a </vote><vote>B</vote>", config)
    assert record.valid and record.letter == "B"  # the last tag, tolerant of case and spaces
