"""What a competition stores on each sample (visible in `inspect view`, read back by later stages).

Everything the audience saw and said is kept here, so training data and leaderboards are
built from logs without re-running any model.
"""

from __future__ import annotations

from typing import Literal

from inspect_ai.log import EvalSample
from inspect_ai.util import StoreModel
from pydantic import BaseModel, Field

from moloch_eval.parsing import READERS

Side = Literal["agent", "opponent"]


class MessageRecord(BaseModel):
    """One competitor's message: the full generation and what was extracted from it."""

    model: str
    generation: str
    think: str | None = None
    message: str | None = None
    valid: bool = False
    source: Literal["generated", "replayed"] = "generated"
    stop_reason: str | None = None


class VoteRecord(BaseModel):
    """One persona's vote on one pair."""

    persona_index: int
    persona_id: str
    #: which side each letter showed: {"A": "agent", "B": "opponent"} or the reverse
    letters: dict[str, Side]
    mode: Literal["think", "logprob"]
    #: think mode: how the reply was read ("paper": first tag, exact letter; "tolerant")
    parse: str | None = None
    #: every raw reply in full, reasoning content included as a leading <think> block
    replies: list[str] = Field(default_factory=list)
    letter: str | None = None
    choice: Side | None = None
    valid: bool = False
    #: logprob mode: P(agent) among the two letters (averaged over orders if both were asked)
    p_agent: float | None = None
    #: logprob mode: probability mass on the two letter tokens (how much the voter "answered")
    letter_mass: float | None = None
    #: retries of this vote's calls while their events stay out of the transcript
    #: (model_events="messages"): provider HTTP retries plus Inspect's retried attempts
    retries: int = 0

    @property
    def thought(self) -> str | None:
        """Think mode: the think block of the last reply, read as `parse` says (None without
        one, and in logprob mode).

        Derived, not stored: the reply holds it, so the log keeps it once. Logs written while
        it was stored read back the same (the stored copy is ignored); a record without
        `parse` predates the paper's reading and is read with "tolerant", the reader then.
        """
        if self.mode != "think" or not self.replies:
            return None
        return READERS[self.parse or "tolerant"].think(self.replies[-1])


class Competition(StoreModel):
    """The per-sample record of one head-to-head round."""

    agent: MessageRecord | None = None
    opponent: MessageRecord | None = None
    votes: list[VoteRecord] = Field(default_factory=list)


def competition_of(sample: EvalSample) -> Competition:
    """Read a sample's competition record back from a log."""
    return sample.store_as(Competition)
