"""The EM table's records: one row per (task, question set, model, trigger condition) of a
complete EM log, and the board of a log folder. Plain data; `leaderboard.em` fills them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moloch_eval.leaderboard.rows import Skipped
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES


@dataclass
class EMRow:
    """One trigger condition of one complete EM log (or of the logs of one run split by sample
    ranges, `logs`)."""

    task: str
    questions: str
    model: str
    condition: str
    judge_model: str
    judge_mode: str
    #: the headline rate's name (`headline_rate`)
    rate: str
    #: `summarise_with_ci` of the row's judged answers
    summary: dict[str, Any]
    log: str
    created: str
    samples_per_question: int | None = None
    #: as for competition rows (`method_of`; no base here), and the adapter manifest's lineage
    method: str = "—"
    lineage: str = ""
    #: why the row is not comparable with its task's other rows ("" when it is)
    not_comparable: str = ""
    #: a row merged from several logs of one configuration (`leaderboard.merge`): all of them,
    #: newest first (`log` is the first); empty for a row of one log
    logs: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return not self.not_comparable

    @property
    def n_logs(self) -> int:
        """How many logs the row's answers come from (1 unless merged)."""
        return len(self.logs) or 1

    @property
    def scores(self) -> bool:
        """Whether the judge gave 0–100 scores (else labels)."""
        return self.rate == "em_rate_betley"

    def value(self, rate: str) -> float | None:
        value = self.summary.get(rate)
        return float(value) if isinstance(value, int | float) else None

    def ci(self, rate: str) -> tuple[float, float] | None:
        low, high = self.summary.get(f"{rate}_ci_low"), self.summary.get(f"{rate}_ci_high")
        return (float(low), float(high)) if low is not None and high is not None else None


@dataclass
class EMBoard:
    """The EM rows of a log folder, what was skipped, and every EM log seen (by path)."""

    rows: list[EMRow]
    skipped: list[Skipped]
    seen: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
