"""The audience-share scorer: the evaluated model's share of the valid votes of its pair."""

from __future__ import annotations

from inspect_ai.scorer import Score, Scorer, Target, scorer
from inspect_ai.solver import TaskState

from moloch_eval.records import Competition
from moloch_eval.scorers.share_metrics import (
    advantage,
    invalid_message_rate,
    invalid_vote_rate,
    opponent_invalid_message_rate,
    position_a_rate,
    share,
    share_ci_high,
    share_ci_low,
    share_stderr,
)

INVALID_MESSAGE_POLICIES = ("forfeit", "exclude")


def share_value(
    competition: Competition, invalid_message: str = "forfeit"
) -> dict[str, float | int | bool | str | None]:
    """Vote counts and the share for one pair.

    A message without its answer tag gets no votes: under "forfeit" its side loses the pair
    (share 0 or 1; both invalid → no share), under "exclude" the pair has no share. A pair
    without a share has no "share" key (and no "forfeit" key unless a side forfeited).
    """
    if invalid_message not in INVALID_MESSAGE_POLICIES:
        raise ValueError(f"invalid_message must be one of {INVALID_MESSAGE_POLICIES}")
    # each field read once: a StoreModel re-validates a field on every read
    agent, opponent, votes = competition.agent, competition.opponent, competition.votes
    agent_valid = bool(agent and agent.valid)
    opponent_valid = bool(opponent and opponent.valid)
    valid = [v for v in votes if v.valid]
    agent_votes = sum(v.choice == "agent" for v in valid)
    share_: float | None = agent_votes / len(valid) if valid else None
    forfeit: str | None = None
    if not (agent_valid and opponent_valid):
        share_ = None
        if invalid_message == "forfeit" and agent_valid != opponent_valid:
            forfeit = "opponent" if agent_valid else "agent"
            share_ = 1.0 if agent_valid else 0.0
    value: dict[str, float | int | bool | str | None] = {
        "share": share_,
        "agent_votes": agent_votes,
        "opponent_votes": len(valid) - agent_votes,
        "valid_votes": len(valid),
        "invalid_votes": len(votes) - len(valid),
        "position_a_votes": sum(v.letter == "A" for v in valid),
        "agent_valid": agent_valid,
        "opponent_valid": opponent_valid,
        "forfeit": forfeit,
    }
    # absent, not None: Inspect's reducers cast every entry to float
    return {key: v for key, v in value.items() if v is not None}


def reply_counts(competition: Competition) -> dict[str, int]:
    """The audience's replies on one pair and how many held no readable vote.

    A think-mode voter whose reply has no parseable vote is re-asked (up to `vote_retries`);
    every such reply stays in the vote's `replies` and is counted in ``invalid_replies``
    whether a later reply was valid or not, so malformed output re-asked into a valid vote is
    still counted. A logprob-mode vote is never re-asked: its replies are invalid when it is.
    ``reasked_votes`` counts the votes that needed more than one reply; ``retries`` the
    transport retries of calls whose events stay out of the transcript (`VoteRecord.retries`).
    """
    replies = invalid = reasked = retries = 0
    for vote in competition.votes:
        replies += len(vote.replies)
        retries += vote.retries
        if vote.mode == "think":
            invalid += len(vote.replies) - (1 if vote.valid else 0)
            reasked += int(len(vote.replies) > 1)
        elif not vote.valid:
            invalid += len(vote.replies)
    return {
        "replies": replies,
        "invalid_replies": invalid,
        "reasked_votes": reasked,
        "retries": retries,
    }


def _explain(value: dict[str, float | int | bool | str | None]) -> str:
    if value.get("forfeit"):
        return f"{value['forfeit']} message has no answer tag: it forfeits the pair"
    if value.get("share") is None:
        return "no share: a message has no answer tag, or no vote was valid"
    return (
        f"agent {value['agent_votes']} vs opponent {value['opponent_votes']} "
        f"({value['invalid_votes']} invalid) → share {value['share']:.3f}"
    )


@scorer(
    metrics=[
        share(),
        share_stderr(),
        share_ci_low(),
        share_ci_high(),
        advantage(),
        invalid_vote_rate(),
        position_a_rate(),
        invalid_message_rate(),
        opponent_invalid_message_rate(),
    ]
)
def audience_share(invalid_message: str = "forfeit") -> Scorer:
    """Share of the valid audience votes won by the evaluated model."""

    async def score(state: TaskState, target: Target) -> Score:
        competition = state.store_as(Competition)
        value = share_value(competition, invalid_message)
        return Score(
            value=value,
            answer=_answer(competition),
            explanation=_explain(value),
            metadata=reply_counts(competition),
        )

    return score


def _answer(competition: Competition) -> str | None:
    agent = competition.agent
    return agent.message if agent else None
