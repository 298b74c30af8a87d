"""Helpers of the shard tests: one small competition's settings and a row's numbers."""

from __future__ import annotations

import dataclasses
from typing import Any

from moloch_eval.leaderboard.rows import Leaderboard, Row
from moloch_eval.testing import CompetitionResponder

PERSONAS = 2
ROLES = {"opponent": "opponent", "audience": "voter", "judge": "judge"}
#: what differs between a merged row and one log's row by construction
PROVENANCE = {"log", "logs", "created", "completed", "notes"}


def responder() -> CompetitionResponder:
    """Short replies; the judge says yes often enough for defined relative increases."""
    return CompetitionResponder(think_words=5, agent_think_words=5, message_words=10, yes_rate=0.4)


def numbers(row: Row) -> dict[str, Any]:
    """Everything a row says about the run, not where it was read from."""
    return {k: v for k, v in dataclasses.asdict(row).items() if k not in PROVENANCE}


def only_row(board: Leaderboard) -> Row:
    [row] = board.rows
    return row
