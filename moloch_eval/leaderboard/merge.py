"""Logs of one run split by sample ranges → one row: which logs share a configuration, and the
union of their samples with the newest log winning where sample ids overlap.

A run can be split over processes or machines with Inspect's sample ranges (`inspect eval …
--limit 1-32`, `--limit 33-64`, or `moloch-eval shards`), every shard writing its own log into
one folder. The leaderboard reads such logs as one run:

- Logs have the same *configuration* (`configuration`) when everything their results depend
  on is equal: the task and its version, every task argument except those that change no
  result (`cache`, `model_events`; a replayed opponent log is compared by file name, so
  shards on machines with other paths still match), the solver, the evaluated model and each
  role's model with their generation settings (connection, retry and timeout settings left
  out), the dataset's name, and the eval settings that change results (epochs and their
  reducer, message/token/time limits, approval, scoring of errors). Where the samples come
  from (`limit`, `sample_id`, shuffling), concurrency, logging, the model's address and
  arguments, the package versions and the git revision are not part of it.
- Logs of one configuration are merged at the sample level (`merge_samples`): each sample id
  is taken from the newest log that holds it (a full re-run replaces an older run, a re-run
  of one shard replaces that shard), and the statistics are computed over the union exactly
  as from one log. A log none of whose samples is kept is superseded (listed as skipped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from moloch_eval.leaderboard.logs import local_path, recency

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

__all__ = [
    "NOT_RESULT_EVAL_CONFIG",
    "NOT_RESULT_GENERATE_CONFIG",
    "NOT_RESULT_TASK_ARGS",
    "Merged",
    "by_configuration",
    "configuration",
    "merge_samples",
    "merged_note",
    "newer_logs",
]

T = TypeVar("T")
H = TypeVar("H")

#: task arguments that change no result (caching, which model calls leave transcript events)
NOT_RESULT_TASK_ARGS = frozenset({"cache", "model_events"})
#: eval settings that choose samples or tune the run, not its results
NOT_RESULT_EVAL_CONFIG = frozenset(
    {
        "limit",
        "sample_id",
        "sample_shuffle",
        "fail_on_error",
        "continue_on_fail",
        "retry_on_error",
        "max_samples",
        "max_dataset_memory",
        "max_tasks",
        "max_subprocesses",
        "max_sandboxes",
        "sandbox_cleanup",
        "sandbox_prebuilt",
        "log_samples",
        "log_realtime",
        "log_images",
        "log_model_api",
        "log_buffer",
        "log_shared",
        "score_display",
        "notification",
        "acp_server",
    }
)
#: generation settings about the connection, not the replies
NOT_RESULT_GENERATE_CONFIG = frozenset(
    {
        "max_retries",
        "timeout",
        "attempt_timeout",
        "stream_idle_timeout",
        "max_connections",
        "adaptive_connections",
        "extra_headers",
        "batch",
        "cache",
    }
)


def _without(data: Any, left_out: frozenset[str]) -> dict[str, Any]:
    if hasattr(data, "model_dump"):
        data = data.model_dump(exclude_none=True)
    return {k: v for k, v in dict(data or {}).items() if k not in left_out and v is not None}


def _task_arg(name: str, value: Any) -> Any:
    if name == "opponent" and isinstance(value, str) and value.endswith((".eval", ".json")):
        return Path(local_path(value)).name  # the replayed log, wherever the shard ran
    return value


def configuration(log: EvalLog) -> str:
    """What the results of a log depend on, as canonical JSON (see the module docstring)."""
    spec = log.eval
    args = {
        k: _task_arg(k, v)
        for k, v in (spec.task_args or {}).items()
        if k not in NOT_RESULT_TASK_ARGS
    }
    roles: dict[str, Any] = {}
    for role, bound in (spec.model_roles or {}).items():
        models = bound if isinstance(bound, list) else [bound]
        roles[role] = [[m.model, _without(m.config, NOT_RESULT_GENERATE_CONFIG)] for m in models]
    key = {
        "task": spec.task_registry_name or spec.task,
        "task_version": spec.task_version,
        "task_args": args,
        "solver": spec.solver,
        "solver_args": spec.solver_args,
        "model": spec.model,
        "generate_config": _without(spec.model_generate_config, NOT_RESULT_GENERATE_CONFIG),
        "model_roles": roles,
        "dataset": spec.dataset.name if spec.dataset else None,
        "config": _without(spec.config, NOT_RESULT_EVAL_CONFIG),
    }
    return json.dumps(key, sort_keys=True, default=str)


def by_configuration(items: Iterable[H], log_of: Callable[[H], EvalLog]) -> list[list[H]]:
    """The items grouped by their log's configuration (groups and items in first-seen order)."""
    groups: dict[str, list[H]] = {}
    for item in items:
        groups.setdefault(configuration(log_of(item)), []).append(item)
    return list(groups.values())


@dataclass
class Merged(Generic[T]):
    """The samples of one configuration's logs, by sample id, newest log first."""

    #: per sample id: the value from the newest log that holds the id
    samples: dict[str, T]
    #: the logs that gave at least one sample, newest first
    logs: list[EvalLog]
    #: (log, the newer logs that replaced all its samples) for logs that gave none
    superseded: list[tuple[EvalLog, list[EvalLog]]] = field(default_factory=list)
    #: logs without any sample
    empty: list[EvalLog] = field(default_factory=list)


def merge_samples(parts: Sequence[tuple[EvalLog, Mapping[str, T]]]) -> Merged[T]:
    """Merge the per-sample values of logs of one configuration: each id from the newest log
    (by `recency`) that holds it."""
    ordered = sorted(parts, key=lambda part: recency(part[0]), reverse=True)
    merged = Merged[T](samples={}, logs=[])
    winner: dict[str, EvalLog] = {}
    for log, samples in ordered:
        if not samples:
            merged.empty.append(log)
            continue
        fresh = [i for i in samples if i not in winner]
        if not fresh:
            newer = [n for n in merged.logs if any(winner[i] is n for i in samples)]
            merged.superseded.append((log, newer))
            continue
        for i in fresh:
            winner[i] = log
            merged.samples[i] = samples[i]
        merged.logs.append(log)
    return merged


def newer_logs(logs: Sequence[EvalLog], kind: str = "log") -> str:
    """ "the newer log X" or "the newer logs X, Y" (file names), for a superseded reason."""
    names = ", ".join(Path(local_path(log.location)).name for log in logs)
    return f"the newer {kind}{'s' if len(logs) > 1 else ''} {names}"


def merged_note(count: int) -> str:
    """The row note of a row merged from several logs."""
    return f"merged from {count} logs of one configuration (sample ranges of one run)"
