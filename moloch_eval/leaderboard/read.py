"""A competition log → its leaderboard row: per-anchor values read from the samples, the
row's base (its opponent's model) and conditions, and its statistics (`leaderboard.stats`).

Headers are read first; samples only of logs that finished successfully. The *base* of a row
is its opponent's model: the evaluated model itself for `opponent=self`, the model bound to the
`opponent` role, or the evaluated model of the replayed log (read from that log, found by path
or by file name in the folder, else from the messages). Nothing is re-run. Logs of one
configuration (the sample-range shards of one run) are merged into one row at the sample level
(`leaderboard.merge`).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, EvalSample, list_eval_logs, read_eval_log

from moloch_eval.domains import DOMAINS
from moloch_eval.leaderboard.logs import (
    local_path,
    recency,
    role_name,
    status_problem,
    unreadable,
)
from moloch_eval.leaderboard.merge import by_configuration, merge_samples, merged_note, newer_logs
from moloch_eval.leaderboard.method import same_model
from moloch_eval.leaderboard.rows import Conditions, Row, Skipped
from moloch_eval.leaderboard.stats import (
    Verdicts,
    mean_relative_increase,
    probe_stats,
    share_stats,
)
from moloch_eval.probes import PROBES
from moloch_eval.records import competition_of
from moloch_eval.roles import PAPER_JUDGE, PAPER_VOTER
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES

NO_JUDGE = "—"


def _not_competition(log: EvalLog) -> str | None:
    meta = log.eval.metadata or {}
    domain = meta.get("domain")
    if domain not in DOMAINS or "opponent" not in meta or "personas" not in meta:
        return f"not a moloch_eval competition log (task {log.eval.task})"
    if log.eval.task.split("/")[-1] != domain:
        return f"not a moloch_eval competition log (task {log.eval.task})"
    return None


@dataclass
class _Anchor:
    """Per-anchor values of one log (epochs pooled); an anchor whose every epoch errored or
    went unscored has `scored` 0 and counts only in `left_out`."""

    scored: int = 0
    left_out: int = 0
    opponents: Counter[str] = field(default_factory=Counter)
    shares: list[float] = field(default_factory=list)
    valid_votes: float = 0.0
    invalid_votes: float = 0.0
    position_a_votes: float = 0.0
    agent_valid: list[float] = field(default_factory=list)
    opponent_valid: list[float] = field(default_factory=list)
    verdicts: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    judgements: Counter[str] = field(default_factory=Counter)
    invalid_judgements: Counter[str] = field(default_factory=Counter)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _anchors(samples: Iterable[EvalSample]) -> dict[str, _Anchor]:
    """Per-anchor values by sample id (errored or unscored samples counted in `left_out`)."""
    anchors: dict[str, _Anchor] = {}
    for sample in samples:
        scores = sample.scores or {}
        share_score = scores.get("audience_share")
        anchor = anchors.setdefault(str(sample.id), _Anchor())
        if sample.error is not None or share_score is None:
            anchor.left_out += 1
            continue
        anchor.scored += 1
        value = share_score.value if isinstance(share_score.value, dict) else {}
        share = _number(value.get("share"))
        if share is not None:
            anchor.shares.append(share)
        anchor.valid_votes += _number(value.get("valid_votes")) or 0.0
        anchor.invalid_votes += _number(value.get("invalid_votes")) or 0.0
        anchor.position_a_votes += _number(value.get("position_a_votes")) or 0.0
        anchor.agent_valid.append(_number(value.get("agent_valid")) or 0.0)
        anchor.opponent_valid.append(_number(value.get("opponent_valid")) or 0.0)
        for name, score in scores.items():
            if name not in PROBES or not isinstance(score.value, dict):
                continue
            sides = anchor.verdicts.setdefault(name, {"agent": [], "opponent": []})
            for side, verdicts in sides.items():
                verdict = _number(score.value.get(side))
                if verdict is not None:
                    verdicts.append(verdict)
            anchor.judgements[name] += int(_number(score.value.get("judgements")) or 0)
            anchor.invalid_judgements[name] += int(
                _number(score.value.get("invalid_judgements")) or 0
            )
        record = competition_of(sample).opponent
        if record is not None:
            anchor.opponents[record.model] += 1
    return anchors


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _base_of(
    log: EvalLog, opponents: Counter[str], models_by_file: dict[str, str]
) -> tuple[str, str]:
    """(base model, opponent description) of a competition log."""
    opponent = str((log.eval.metadata or {}).get("opponent"))
    recorded = opponents.most_common(1)[0][0] if opponents else "unknown"
    if opponent == "self":
        return log.eval.model, "self"
    if opponent == "role":
        return role_name(log, "opponent") or recorded, "role"
    path = Path(local_path(opponent))
    if path.name not in models_by_file and path.is_file():
        with contextlib.suppress(Exception):
            models_by_file[path.name] = read_eval_log(str(path), header_only=True).eval.model
    return models_by_file.get(path.name, recorded), f"replay of {path.name}"


def _conditions(log: EvalLog) -> Conditions:
    meta = log.eval.metadata or {}
    probes = meta.get("probes") or []
    judge = (role_name(log, "judge") or PAPER_JUDGE) if probes else NO_JUDGE
    return Conditions(
        audience_model=role_name(log, "audience") or PAPER_VOTER,
        audience_mode=str(meta.get("audience_mode", "think")),
        persona_set=str(meta.get("audience", "?")),
        persona_ids=tuple(str(p) for p in meta.get("personas") or ()),
        judge_model=judge,
        judge_mode=str(meta.get("judge_mode", "think")) if probes else NO_JUDGE,
        faithful=bool(meta.get("faithful", True)),
        judge_prompts=_judge_prompts(meta) if probes else NO_JUDGE,
        anchors=(
            f"{meta.get('anchor_split', 'published')}/"
            f"{'clean' if meta.get('clean_anchors', True) else 'raw'}"
        ),
    )


def _judge_prompts(meta: dict[str, Any]) -> str:
    setting = (meta.get("protocol") or {}).get("judge_prompts") or {}
    return str(setting.get("value", "project"))


def build_row(
    log: EvalLog,
    models_by_file: dict[str, str],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Row | str:
    """The row of one complete competition log (samples read), or why it has none."""
    return _row(log, _anchors(log.samples or []), models_by_file, resamples, seed)


def _row(
    log: EvalLog,
    by_id: dict[str, _Anchor],
    models_by_file: dict[str, str],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Row | str:
    """The row of per-anchor values (of one log, or merged from several; `log` gives the
    header), or why it has none."""
    meta = log.eval.metadata or {}
    anchors = {i: a for i, a in by_id.items() if a.scored}
    left_out = sum(a.left_out for a in by_id.values())
    opponents = sum((a.opponents for a in by_id.values()), Counter[str]())
    if not anchors:
        return "no scored samples"
    ids = sorted(anchors)
    items = [anchors[i] for i in ids]
    shares = [s for a in items if (s := _mean(a.shares)) is not None]
    valid = sum(a.valid_votes for a in items)
    invalid = sum(a.invalid_votes for a in items)

    probe_names = [p for p in PROBES if any(p in a.verdicts for a in items)]
    probes: dict[str, dict[str, float]] = {}
    paired: list[tuple[Verdicts, Verdicts]] = []
    made = bad = 0
    for name in probe_names:
        mine = [_mean(a.verdicts.get(name, {}).get("agent", [])) for a in items]
        theirs = [_mean(a.verdicts.get(name, {}).get("opponent", [])) for a in items]
        paired.append((mine, theirs))
        stats = probe_stats(mine, theirs, resamples, seed)
        judgements = sum(a.judgements[name] for a in items)
        invalid_judgements = sum(a.invalid_judgements[name] for a in items)
        stats["judgements"] = judgements
        stats["invalid_judgement_rate"] = _ratio(invalid_judgements, judgements)
        probes[name] = stats
        made, bad = made + judgements, bad + invalid_judgements

    base, opponent = _base_of(log, opponents, models_by_file)
    notes = []
    if left_out:
        notes.append(f"{left_out} errored or unscored sample(s) left out")
    if len(shares) < len(items):
        notes.append(f"{len(items) - len(shares)} pair(s) without a share")
    return Row(
        domain=str(meta["domain"]),
        model=log.eval.model,
        base=base,
        opponent=opponent,
        conditions=_conditions(log),
        n_samples=len(items),
        share=share_stats(shares),
        invalid_vote_rate=_ratio(invalid, valid + invalid),
        position_a_rate=_ratio(sum(a.position_a_votes for a in items), valid),
        invalid_message_rate=1 - sum(_mean(a.agent_valid) or 0.0 for a in items) / len(items),
        opponent_invalid_message_rate=1
        - sum(_mean(a.opponent_valid) or 0.0 for a in items) / len(items),
        probes=probes,
        misalignment=mean_relative_increase(paired, resamples, seed),
        invalid_judgement_rate=_ratio(bad, made),
        log=local_path(log.location),
        created=log.eval.created,
        completed=recency(log)[1],
        notes=notes,
    )


def read_rows(
    log_dir: str | Path, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> tuple[list[Row], list[Skipped]]:
    """Rows of every complete competition log under `log_dir` (recursively), and the rest.

    Logs of one configuration (e.g. the sample-range shards of one run) give one row, over the
    union of their samples with the newest log winning where ids overlap (`leaderboard.merge`).
    """
    skipped: list[Skipped] = []
    headers: list[EvalLog] = []
    for info in list_eval_logs(str(log_dir), recursive=True, descending=False):
        name = local_path(info.name)
        try:
            headers.append(read_eval_log(info.name, header_only=True))
        except Exception as ex:
            skipped.append(Skipped(name, unreadable(ex)))
    models_by_file = {Path(local_path(h.location)).name: h.eval.model for h in headers}

    complete: list[tuple[EvalLog, dict[str, _Anchor]]] = []
    for header in headers:
        name = local_path(header.location)
        reason = _not_competition(header) or status_problem(header)
        if reason is None and (header.eval.metadata or {}).get("split") != "test":
            reason = "train split (self-play data collection), not an evaluation"
        if reason is not None:
            skipped.append(Skipped(name, reason))
            continue
        try:
            log = read_eval_log(header.location)
        except Exception as ex:
            skipped.append(Skipped(name, unreadable(ex)))
            continue
        complete.append((header, _anchors(log.samples or [])))

    rows: list[Row] = []
    for group in by_configuration(complete, lambda part: part[0]):
        merged = merge_samples(group)
        skipped += [Skipped(local_path(h.location), "no scored samples") for h in merged.empty]
        skipped += [
            Skipped(
                local_path(h.location),
                f"superseded by {newer_logs(newer)} of the same configuration",
            )
            for h, newer in merged.superseded
        ]
        if not merged.logs:
            continue
        row = _row(merged.logs[0], merged.samples, models_by_file, resamples, seed)
        if isinstance(row, str):
            skipped += [Skipped(local_path(h.location), row) for h in merged.logs]
            continue
        if len(merged.logs) > 1:
            row.logs = [local_path(h.location) for h in merged.logs]
            row.notes.insert(0, merged_note(len(merged.logs)))
        rows.append(row)
    return canonical_bases(rows), skipped


def canonical_bases(rows: Sequence[Row]) -> list[Row]:
    """Name each base as the evaluated models are named where that is unambiguous.

    A base known only from its messages carries the provider's own name (e.g. "Qwen/Qwen3-8B"
    where the log says "vllm/Qwen/Qwen3-8B"); it is renamed when exactly one evaluated model
    of the folder matches it (see `same_model`).
    """
    known = {r.model for r in rows}
    for row in rows:
        if row.base not in known:
            matches = [m for m in known if same_model(m, row.base)]
            if len(matches) == 1:
                row.base = matches[0]
    return list(rows)
