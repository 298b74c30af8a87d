"""Reading judged EM rows back from Inspect logs (for the leaderboard and the realign report)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_ai.scorer import Score

#: the scorer whose scores keep the rows
EM_SCORER = "em_judge"


def row_of(score: Score | None) -> dict[str, Any] | None:
    """The judged row an EM judge score keeps (``metadata["row"]``), None for other scores."""
    row = (score.metadata or {}).get("row") if score is not None else None
    return row if isinstance(row, dict) else None


def log_rows(location: str) -> list[dict[str, Any]]:
    """The judged rows of an EM log: each sample's `em_judge` score's ``metadata["row"]``."""
    from inspect_ai.log import read_eval_log

    log = read_eval_log(location)
    rows = (row_of((sample.scores or {}).get(EM_SCORER)) for sample in log.samples or [])
    return [row for row in rows if row is not None]
