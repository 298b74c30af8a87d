"""Reading judged EM rows back from Inspect logs (for the leaderboard and the realign report)."""

from __future__ import annotations

from typing import Any

#: the scorer whose scores keep the rows
EM_SCORER = "em_judge"


def log_rows(location: str) -> list[dict[str, Any]]:
    """The judged rows of an EM log: each sample's `em_judge` score's ``metadata["row"]``."""
    from inspect_ai.log import read_eval_log

    log = read_eval_log(location)
    rows = []
    for sample in log.samples or []:
        score = (sample.scores or {}).get(EM_SCORER)
        row = (score.metadata or {}).get("row") if score else None
        if isinstance(row, dict):
            rows.append(row)
    return rows
