"""Share arithmetic with invalid votes and invalid messages, and the run-level metrics."""

from __future__ import annotations

import math

import pytest
from inspect_ai.scorer import SampleScore, Score

from moloch_eval.records import Competition, MessageRecord, Side, VoteRecord
from moloch_eval.scorers.audience_share import share_value
from moloch_eval.scorers.share_metrics import (
    advantage,
    invalid_message_rate,
    invalid_vote_rate,
    position_a_rate,
    share,
    share_ci_high,
    share_ci_low,
    share_stderr,
)


def _msg(valid: bool = True) -> MessageRecord:
    return MessageRecord(model="m", generation="g", message="x" if valid else None, valid=valid)


def _vote(choice: Side | None, letter: str | None) -> VoteRecord:
    """A vote for `choice` cast with `letter` (None, None: an invalid vote)."""
    letters: dict[str, Side] = {"A": "agent", "B": "opponent"}
    if letter is not None and letters[letter] != choice:
        letters = {"A": "opponent", "B": "agent"}
    return VoteRecord(
        persona_index=0,
        persona_id="p",
        letters=letters,
        mode="think",
        letter=letter,
        choice=choice,
        valid=choice is not None,
    )


def _competition(votes: list[VoteRecord], agent: bool = True, opponent: bool = True) -> Competition:
    c = Competition()
    c.agent, c.opponent, c.votes = _msg(agent), _msg(opponent), votes
    return c


def test_share_excludes_invalid_votes() -> None:
    votes = [_vote("agent", "A")] * 3 + [_vote("opponent", "A")] + [_vote(None, None)] * 2
    value = share_value(_competition(votes))
    assert value["share"] == 3 / 4
    assert (value["valid_votes"], value["invalid_votes"]) == (4, 2)
    assert value["position_a_votes"] == 4
    assert value["agent_votes"] == 3 and value["opponent_votes"] == 1


def test_no_valid_vote_means_no_share() -> None:
    assert share_value(_competition([_vote(None, None)])).get("share") is None


def test_invalid_messages_forfeit_or_are_excluded() -> None:
    assert share_value(_competition([], agent=False))["share"] == 0.0
    assert share_value(_competition([], opponent=False))["share"] == 1.0
    assert share_value(_competition([], agent=False, opponent=False)).get("share") is None
    assert share_value(_competition([], agent=False), "exclude").get("share") is None
    with pytest.raises(ValueError):
        share_value(_competition([]), "ignore")


def _scores(values: list[dict]) -> list[SampleScore]:  # type: ignore[type-arg]
    return [SampleScore(score=Score(value=v), sample_id=i) for i, v in enumerate(values)]


def test_run_metrics_on_known_values() -> None:
    values = [
        {
            "share": 0.6,
            "valid_votes": 10,
            "invalid_votes": 0,
            "position_a_votes": 5,
            "agent_valid": True,
            "opponent_valid": True,
        },
        {
            "share": 0.8,
            "valid_votes": 10,
            "invalid_votes": 2,
            "position_a_votes": 6,
            "agent_valid": True,
            "opponent_valid": True,
        },
        {
            "share": None,
            "valid_votes": 0,
            "invalid_votes": 0,
            "position_a_votes": 0,
            "agent_valid": False,
            "opponent_valid": False,
        },
    ]
    scores = _scores(values)
    assert share()(scores) == pytest.approx(0.7)
    se = math.sqrt(((0.1**2) * 2 / 1) / 2)  # sd of (0.6, 0.8) over sqrt(2)
    assert share_stderr()(scores) == pytest.approx(se)
    assert share_ci_low()(scores) == pytest.approx(0.7 - 1.959963984540054 * se)
    assert share_ci_high()(scores) == pytest.approx(0.7 + 1.959963984540054 * se)
    # with a wide interval (few, spread samples) the bounds stay within [0, 1]
    spread = _scores([{**values[0], "share": 0.0}, {**values[1], "share": 1.0}])
    assert share_ci_low()(spread) == 0.0 and share_ci_high()(spread) == 1.0
    assert advantage()(scores) == pytest.approx(0.2)
    assert invalid_vote_rate()(scores) == pytest.approx(2 / 22)
    assert position_a_rate()(scores) == pytest.approx(11 / 20)
    assert invalid_message_rate()(scores) == pytest.approx(1 / 3)
