"""The per-sample records: a vote's thought is read from its last reply, stored once."""

from __future__ import annotations

from moloch_eval.records import VoteRecord


def _vote(replies: list[str], mode: str = "think", parse: str | None = "paper") -> VoteRecord:
    return VoteRecord.model_validate(
        {
            "persona_index": 0,
            "persona_id": "P",
            "letters": {"A": "agent", "B": "opponent"},
            "mode": mode,
            "parse": parse,
            "replies": replies,
        }
    )


def test_thought_is_the_last_replys_think_block_read_as_parsed() -> None:
    replies = ["<think>first</think> no vote", "<think> second </think><vote>A</vote>"]
    assert _vote(replies).thought == " second "  # the paper's field: unstripped
    assert _vote(replies, parse="tolerant").thought == "second"
    assert _vote(["<vote>A</vote>"]).thought is None
    assert _vote([]).thought is None
    assert _vote(["<think>x</think>A"], mode="logprob", parse=None).thought is None


def test_thought_is_not_stored_and_old_logs_read_back_the_same() -> None:
    vote = _vote(["<think>why</think><vote>B</vote>"])
    assert "thought" not in vote.model_dump() and "why" in vote.model_dump_json()
    # a log written while the thought was stored: the copy is ignored, the reply read
    old = {**_vote(["<think>why</think><vote>B</vote>"]).model_dump(), "thought": "why"}
    assert VoteRecord.model_validate(old).thought == "why"
    # before `parse` was recorded, thoughts were read with the tolerant reader
    assert _vote(["<think> why </think><vote>B</vote>"], parse=None).thought == "why"
