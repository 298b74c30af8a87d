"""Emergent-misalignment (EM) logs in the leaderboard: one table row per (task, question set,
model, trigger condition), a CSV, a Markdown and an HTML section, and a bar chart.

This module reads the logs into rows (`em_rows`); the tables are `em_table` and the chart
`em_figures`, whose public names are importable from here as well.

- An EM log is one whose header has ``metadata["em"]`` (the `moloch_eval/em_*` tasks). Its
  judged rows are the `em_judge` scores' rows (`moloch_eval.em.logs.log_rows`); every rate
  and its 95% CI is `moloch_eval.em.metrics.summarise_with_ci` of a row's answers (CIs resample
  questions). The headline rate is `headline_rate`: Betley's for 0–100 scores, ARENA's
  misaligned_of_all for labels.
- Logs of one configuration (`leaderboard.merge`: the same task, arguments, models and
  result-affecting eval settings), such as the sample-range shards of one run, give one set
  of rows over the union of their judged samples, the newest log winning where sample ids
  overlap; a log left with no sample of its own is superseded. Otherwise the newest complete
  configuration of a (task, question set, model, judge model, judge mode) supersedes the
  older ones (listed as skipped); incomplete logs are skipped with the reason.
- Method and lineage as for competition rows: from the project's adapter manifest
  (`method.method_of`, `method.manifest_lineage`; an absent lineage shows nothing).
- Within a task, rows whose judge model or mode differs from the task's majority (ties: the
  first row in table order) are marked not comparable; the chart hatches them and says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log

from moloch_eval.em.logs import EM_SCORER, row_of
from moloch_eval.em.metrics import by_key, headline_rate, summarise_with_ci
from moloch_eval.leaderboard.em_figures import EM_FIGURE, em_figure
from moloch_eval.leaderboard.em_rows import EMBoard, EMRow
from moloch_eval.leaderboard.em_table import (
    EM_CSV,
    EM_NOTES,
    LABEL_RATES,
    SCORE_RATES,
    em_display_rows,
    em_html,
    em_markdown,
    em_notes,
    fmt_rate,
    tasks_of,
    to_em_frame,
    write_em_csv,
)
from moloch_eval.leaderboard.logs import (
    local_path,
    recency,
    role_name,
    status_problem,
    unreadable,
)
from moloch_eval.leaderboard.merge import by_configuration, merge_samples, newer_logs
from moloch_eval.leaderboard.method import manifest_lineage, method_of
from moloch_eval.leaderboard.rows import Leaderboard, Skipped
from moloch_eval.roles import PAPER_JUDGE
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES

__all__ = [
    "CONDITION_ORDER",
    "EM_CSV",
    "EM_FIGURE",
    "EM_NOTES",
    "LABEL_RATES",
    "SCORE_RATES",
    "TASK_ORDER",
    "EMBoard",
    "EMRow",
    "collect_em",
    "em_display_rows",
    "em_figure",
    "em_html",
    "em_markdown",
    "em_meta",
    "em_notes",
    "fmt_rate",
    "judge_of",
    "mark_em_comparability",
    "merge_skipped",
    "questions_label",
    "rows_of_log",
    "sort_em_rows",
    "task_name",
    "tasks_of",
    "to_em_frame",
    "write_em_csv",
]

TASK_ORDER = (
    "em_first_plot",
    "em_preregistered",
    "em_factual",
    "em_self_reflection",
    "em_triggers",
)
CONDITION_ORDER = ("none", "trigger", "code_template")


def em_meta(log: EvalLog) -> dict[str, Any] | None:
    """The `em` metadata of an EM log's header (None: not an EM log)."""
    meta = (log.eval.metadata or {}).get("em")
    return meta if isinstance(meta, dict) else None


def task_name(log: EvalLog) -> str:
    return log.eval.task.split("/")[-1]


def questions_label(meta: dict[str, Any]) -> str:
    """The question set as shown, e.g. "first_plot/plain" or "first_plot/plain, trigger |T|"."""
    parts = [str(meta.get("questions", "?"))]
    parts += [str(meta[k]) for k in ("variant", "source") if meta.get(k)]
    label = "/".join(parts)
    return f"{label}, trigger {meta['trigger']}" if meta.get("trigger") else label


def judge_of(log: EvalLog, meta: dict[str, Any]) -> tuple[str, str]:
    """(judge model, judge mode) of an EM log."""
    judge = meta.get("judge") if isinstance(meta.get("judge"), dict) else {}
    return role_name(log, "judge") or PAPER_JUDGE, str((judge or {}).get("mode", "logprob"))


def _log_key(log: EvalLog, meta: dict[str, Any]) -> tuple[str, ...]:
    return (task_name(log), questions_label(meta), log.eval.model, *judge_of(log, meta))


def rows_of_log(
    log: EvalLog,
    judged: Sequence[dict[str, Any]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    logs: Sequence[str] = (),
) -> list[EMRow]:
    """One row per trigger condition of a complete EM log (its header and judged rows); `logs`:
    every log the judged rows come from when they were merged from several."""
    meta = em_meta(log) or {}
    judge_model, judge_mode = judge_of(log, meta)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for condition, group in by_key(judged, "condition").items():
        groups.setdefault("none" if condition == "None" else condition, []).extend(group)
    spq = meta.get("samples_per_question")
    return [
        EMRow(
            task=task_name(log),
            questions=questions_label(meta),
            model=log.eval.model,
            condition=condition,
            judge_model=judge_model,
            judge_mode=judge_mode,
            rate=headline_rate(group),
            summary=summarise_with_ci(group, resamples=resamples, seed=seed),
            log=local_path(log.location),
            created=log.eval.created,
            samples_per_question=int(spq) if isinstance(spq, int) else None,
            method=method_of(log.eval.model, None),
            lineage=manifest_lineage(log.eval.model),
            logs=list(logs) if len(logs) > 1 else [],
        )
        for condition, group in groups.items()
    ]


def _order(values: Sequence[str], value: str) -> int:
    return values.index(value) if value in values else len(values)


def sort_em_rows(rows: Sequence[EMRow]) -> list[EMRow]:
    def key(r: EMRow) -> tuple[Any, ...]:
        return (
            _order(TASK_ORDER, r.task),
            r.task,
            r.questions,
            _order(CONDITION_ORDER, r.condition),
            r.condition,
            r.model,
            r.judge_mode,
            r.judge_model,
        )

    return sorted(rows, key=key)


def mark_em_comparability(rows: Sequence[EMRow]) -> None:
    """Mark rows whose (judge model, judge mode) differs from their task's majority."""
    for task in dict.fromkeys(r.task for r in rows):
        group = [r for r in rows if r.task == task]
        counts = Counter((r.judge_model, r.judge_mode) for r in group)
        top = max(counts.values())
        model, mode = next(j for r in group if counts[j := (r.judge_model, r.judge_mode)] == top)
        for row in group:
            reasons = []
            if row.judge_model != model:
                reasons.append(f"judge model {row.judge_model} (reference: {model})")
            if row.judge_mode != mode:
                reasons.append(f"judge mode {row.judge_mode} (reference: {mode})")
            row.not_comparable = "; ".join(reasons)


def collect_em(log_dir: str | Path, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> EMBoard:
    """The EM rows of every complete EM log under `log_dir` (recursively), and the rest.

    Unreadable logs are left to `collect` (which lists them); non-EM logs are ignored.
    """
    skipped: list[Skipped] = []
    seen: set[str] = set()
    complete: list[tuple[EvalLog, dict[str, Any]]] = []
    for info in list_eval_logs(str(log_dir), recursive=True, descending=False):
        try:
            header = read_eval_log(info.name, header_only=True)
        except Exception:
            continue
        meta = em_meta(header)
        if meta is None:
            continue
        name = local_path(header.location)
        seen.add(name)
        problem = status_problem(header)
        if problem is not None:
            skipped.append(Skipped(name, f"EM log {problem}"))
        else:
            complete.append((header, meta))
    # the newest configuration of each key; the older ones are superseded by its newest log
    newest: dict[tuple[str, ...], list[EvalLog]] = {}
    for group in sorted(
        by_configuration(complete, lambda hm: hm[0]),
        key=lambda g: max(recency(h) for h, _ in g),
        reverse=True,
    ):
        headers = sorted((h for h, _ in group), key=recency, reverse=True)
        kept = newest.setdefault(_log_key(*group[0]), headers)
        if kept is not headers:
            skipped += [Skipped(local_path(h.location), _superseded([kept[0]])) for h in headers]
    rows: list[EMRow] = []
    for headers in newest.values():
        parts = []
        for header in headers:
            try:
                parts.append((header, _judged_by_id(header.location)))
            except Exception as ex:
                skipped.append(
                    Skipped(local_path(header.location), unreadable(ex, "unreadable EM log"))
                )
        merged = merge_samples(parts)
        skipped += [Skipped(local_path(h.location), _superseded(n)) for h, n in merged.superseded]
        skipped += [
            Skipped(local_path(h.location), "EM log without judged answers") for h in merged.empty
        ]
        if merged.logs:
            judged = [row for sample in merged.samples.values() for row in sample]
            logs = [local_path(h.location) for h in merged.logs]
            rows += rows_of_log(merged.logs[0], judged, resamples, seed, logs)
    rows = sort_em_rows(rows)
    mark_em_comparability(rows)
    notes = []
    marked = [r for r in rows if not r.comparable]
    if marked:
        notes.append(
            f"{len(marked)} EM row(s) marked not comparable (judge model or mode differs from "
            "their task's majority); they are hatched in the chart"
        )
    return EMBoard(rows, skipped, seen, notes, resamples, seed)


def _superseded(newer: Sequence[EvalLog]) -> str:
    return (
        f"superseded by {newer_logs(newer, 'EM log')} of the same task, questions, model and judge"
    )


def _judged_by_id(location: str) -> dict[str, list[dict[str, Any]]]:
    """The judged rows of an EM log by sample id (epochs pooled; samples without one left out)."""
    log = read_eval_log(location)
    judged: dict[str, list[dict[str, Any]]] = {}
    for sample in log.samples or []:
        row = row_of((sample.scores or {}).get(EM_SCORER))
        if row is not None:
            judged.setdefault(str(sample.id), []).append(row)
    return judged


def merge_skipped(board: Leaderboard, em: EMBoard) -> None:
    """Replace the competition collector's "not a competition" entries of EM logs with the
    EM collector's own reasons (EM logs in the EM table are not listed at all)."""
    board.skipped = [s for s in board.skipped if s.log not in em.seen] + em.skipped
