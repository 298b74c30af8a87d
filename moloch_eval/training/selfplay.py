"""Reading self-play logs back: one round per sample, its majority winner, and why not.

A self-play log comes from ``inspect eval moloch_eval/<domain> -T split=train -T opponent=self``:
the evaluated model wrote both messages of every pair (two independent samples) and the
audience voted. Nothing is re-run; everything is read from the samples' stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from inspect_ai.log import EvalLog, EvalSample, read_eval_log
from inspect_ai.model import ChatMessage

from moloch_eval.records import Competition, MessageRecord, Side, VoteRecord, competition_of
from moloch_eval.training.progress import progress

SIDES: tuple[Side, ...] = ("agent", "opponent")
#: show a progress bar when a log has at least this many samples
PROGRESS_MIN = 200
Status = Literal["winner", "tie", "invalid"]

#: Why a round cannot give a winner (the keys of the summary's invalid counts).
INVALID_REASONS = (
    "sample_error",
    "no_competition",
    "invalid_agent_message",
    "invalid_opponent_message",
    "invalid_both_messages",
    "no_valid_votes",
)


class SelfPlayLogError(ValueError):
    """A log that cannot serve as self-play training data; the message says what to do."""


COLLECT_HINT = (
    "Collect self-play data with: inspect eval moloch_eval/<domain> --model <base> "
    "-T split=train -T opponent=self --model-role audience=<voter>"
)


@dataclass(frozen=True)
class Round:
    """One sample of a self-play log: both messages, the votes and the outcome."""

    log: str
    sample_id: str
    epoch: int
    domain: str
    anchor: dict[str, Any]
    prompt: list[dict[str, str]]
    agent: MessageRecord | None
    opponent: MessageRecord | None
    votes: list[VoteRecord]
    scores: dict[str, Any]
    status: Status
    reason: str | None = None
    winner: Side | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def record(self, side: Side) -> MessageRecord | None:
        return self.agent if side == "agent" else self.opponent


@dataclass(frozen=True)
class SelfPlayLog:
    """A validated self-play log and its rounds."""

    path: str
    domain: str
    model: str
    audience: str
    audience_mode: str
    faithful: bool
    rounds: list[Round]


def prompt_messages(sample_input: str | list[ChatMessage]) -> list[dict[str, str]]:
    """The agent prompt as plain chat messages (role, content)."""
    if isinstance(sample_input, str):
        return [{"role": "user", "content": sample_input}]
    return [{"role": m.role, "content": m.text} for m in sample_input]


def count_votes(votes: list[VoteRecord]) -> dict[str, int]:
    """Valid votes per side, and the invalid ones."""
    counts = {"agent": 0, "opponent": 0, "invalid": 0}
    for vote in votes:
        if vote.valid and vote.choice in SIDES:
            counts[vote.choice] += 1
        else:
            counts["invalid"] += 1
    return counts


def judge_round(competition: Competition) -> tuple[Status, str | None, Side | None, dict[str, int]]:
    """The outcome of one pair: the majority of valid votes, a tie, or why it is invalid."""
    agent, opponent = competition.agent, competition.opponent
    if agent is None or opponent is None:
        return "invalid", "no_competition", None, {}
    if not (agent.valid or opponent.valid):
        return "invalid", "invalid_both_messages", None, {}
    if not agent.valid:
        return "invalid", "invalid_agent_message", None, {}
    if not opponent.valid:
        return "invalid", "invalid_opponent_message", None, {}
    counts = count_votes(competition.votes)
    if counts["agent"] + counts["opponent"] == 0:
        return "invalid", "no_valid_votes", None, counts
    if counts["agent"] == counts["opponent"]:
        return "tie", None, None, counts
    return "winner", None, ("agent" if counts["agent"] > counts["opponent"] else "opponent"), counts


def _round(path: str, domain: str, sample: EvalSample) -> Round:
    base: dict[str, Any] = {
        "log": path,
        "sample_id": str(sample.id),
        "epoch": int(sample.epoch),
        "domain": domain,
        "anchor": dict((sample.metadata or {}).get("anchor") or {}),
        "prompt": prompt_messages(sample.input),
        "scores": {k: v.value for k, v in (sample.scores or {}).items()},
    }
    if sample.error is not None:
        return Round(
            **base,
            agent=None,
            opponent=None,
            votes=[],
            status="invalid",
            reason="sample_error",
        )
    competition = competition_of(sample)
    status, reason, winner, counts = judge_round(competition)
    return Round(
        **base,
        agent=competition.agent,
        opponent=competition.opponent,
        votes=list(competition.votes),
        status=status,
        reason=reason,
        winner=winner,
        counts=counts,
    )


def validate_header(path: str, log: EvalLog) -> dict[str, Any]:
    """The task metadata of a self-play log on train anchors, or a SelfPlayLogError."""
    meta = log.eval.metadata or {}
    if "domain" not in meta or "opponent" not in meta:
        raise SelfPlayLogError(
            f"{path} is not a moloch_eval competition log (task {log.eval.task!r}). " + COLLECT_HINT
        )
    if meta.get("opponent") != "self":
        raise SelfPlayLogError(
            f"{path} is not a self-play log: its opponent was {meta.get('opponent')!r}, and "
            "training data needs two samples of the same model (opponent=self). " + COLLECT_HINT
        )
    if meta.get("split") != "train":
        raise SelfPlayLogError(
            f"{path} was run on {meta.get('split')!r} anchors; training data comes from the "
            "train split only (the test split is for evaluation). " + COLLECT_HINT
        )
    return meta


def read_self_play_log(path: str | Path) -> SelfPlayLog:
    """Read and validate one self-play log (a clear error if it is not one, or is empty)."""
    name = str(path)
    if not Path(name).exists():
        raise SelfPlayLogError(f"{name} does not exist. " + COLLECT_HINT)
    try:
        log = read_eval_log(name)
    except Exception as ex:
        first = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
        raise SelfPlayLogError(
            f"{name} cannot be read as an Inspect log ({first}): give the .eval logs (or their "
            "folder) of a self-play run. " + COLLECT_HINT
        ) from ex
    meta = validate_header(name, log)
    if not log.samples:
        raise SelfPlayLogError(
            f"{name} holds no samples (status: {log.status}); re-run the self-play eval. "
            + COLLECT_HINT
        )
    domain = str(meta["domain"])
    samples = progress(
        log.samples,
        desc=f"reading {Path(name).name}",
        unit="sample",
        disable=len(log.samples) < PROGRESS_MIN,
        leave=False,
    )
    rounds = [_round(name, domain, sample) for sample in samples]
    return SelfPlayLog(
        path=name,
        domain=domain,
        model=log.eval.model,
        audience=str(meta.get("audience", "split1")),
        audience_mode=str(meta.get("audience_mode", "think")),
        faithful=bool(meta.get("faithful", True)),
        rounds=rounds,
    )


def read_self_play_logs(paths: list[str | Path]) -> list[SelfPlayLog]:
    """Read several self-play logs of one domain (folders are searched for .eval files)."""
    files: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = sorted(str(f) for f in p.rglob("*.eval"))
            if not found:
                raise SelfPlayLogError(f"{p} holds no .eval logs. " + COLLECT_HINT)
            files += found
        else:
            files.append(str(p))
    if not files:
        raise SelfPlayLogError("No logs given. " + COLLECT_HINT)
    logs = [
        read_self_play_log(f)
        for f in progress(files, desc="self-play logs", unit="log", disable=len(files) < 2)
    ]
    domains = sorted({log.domain for log in logs})
    if len(domains) > 1:
        raise SelfPlayLogError(
            f"The logs mix domains {domains}; build one dataset per domain "
            "(an adapter is trained for one competition)."
        )
    return logs


def iter_rounds(logs: list[SelfPlayLog]) -> Iterator[tuple[SelfPlayLog, Round]]:
    for log in logs:
        for item in log.rounds:
            yield log, item
