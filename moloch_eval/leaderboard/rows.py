"""The leaderboard's records: a competition row, the conditions it was measured under, a skipped
log, and the whole leaderboard. Plain data; reading logs into them is `leaderboard.read`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from moloch_eval.leaderboard.stats import ShareStats
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES


@dataclass(frozen=True)
class Conditions:
    """What a row's numbers depend on besides the two models."""

    audience_model: str
    audience_mode: str
    persona_set: str
    persona_ids: tuple[str, ...]
    judge_model: str
    judge_mode: str
    faithful: bool
    #: the judge's wording: "paper" or "project" (logs from before the choice: "project")
    judge_prompts: str = "project"
    #: which anchors: "<anchor_split>/<raw|clean>" (older logs: "published/clean")
    anchors: str = "published/clean"

    @property
    def personas(self) -> str:
        """The persona set as shown in the table, e.g. "split1 (20)"."""
        return f"{self.persona_set} ({len(self.persona_ids)})"

    def differences(self, reference: Conditions) -> dict[str, str]:
        """Differences from a reference by field, e.g. {"audience_model": "audience model X
        (reference: Y)"}; the persona set is one field, "personas"."""
        out: dict[str, str] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(reference, f.name)
            if mine == theirs or f.name == "persona_set":
                continue
            name, label = f.name, f.name.replace("_", " ")
            if f.name == "persona_ids":
                name, label, mine, theirs = (
                    "personas",
                    "persona set",
                    self.personas,
                    reference.personas,
                )
            out[name] = f"{label} {mine} (reference: {theirs})"
        return out


@dataclass
class Skipped:
    """A log that is not in the leaderboard, and why."""

    log: str
    reason: str


@dataclass
class Row:
    """The evaluated model against its base in one domain, from one complete log or from the
    logs of one run split by sample ranges (`logs`)."""

    domain: str
    model: str
    base: str
    opponent: str
    conditions: Conditions
    n_samples: int
    share: ShareStats
    invalid_vote_rate: float
    position_a_rate: float
    invalid_message_rate: float
    opponent_invalid_message_rate: float
    #: per probe: `paired_rates` statistics plus invalid_judgement_rate and judgements
    probes: dict[str, dict[str, float]]
    #: mean over the row's probes of the relative increase, with its CI (may be empty)
    misalignment: dict[str, float]
    invalid_judgement_rate: float
    #: the log (of a merged row: the newest of its logs)
    log: str
    created: str
    #: the log's completion time (microseconds): orders two logs created in one second
    completed: str = ""
    method: str = "—"
    notes: list[str] = field(default_factory=list)
    #: why the row is not comparable, by condition field (empty when it is)
    not_comparable: dict[str, str] = field(default_factory=dict)
    #: a row merged from several logs of one configuration: all of them, newest first
    #: (empty for a row of one log)
    logs: list[str] = field(default_factory=list)

    @property
    def comparable(self) -> bool:
        return not self.not_comparable

    @property
    def n_logs(self) -> int:
        """How many logs the row's samples come from (1 unless merged)."""
        return len(self.logs) or 1

    @property
    def is_base(self) -> bool:
        return self.method == "base"


@dataclass
class Leaderboard:
    """Rows of complete logs against their bases, what was skipped, and notes for the reader."""

    log_dir: str
    bases: list[str]
    rows: list[Row]
    skipped: list[Skipped]
    notes: list[str] = field(default_factory=list)
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0
