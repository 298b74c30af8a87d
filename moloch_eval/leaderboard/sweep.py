"""The sweep recipe: every domain for a list of models against one base, into one log folder.

Two stages, both `inspect_ai.eval_set` in the same folder (resumable: running the sweep
again reuses every complete log and runs only what is missing or failed):

1. the base writes its messages once per domain (`opponent=self`: against a second sample of
   itself, or `opponent=role` with the base bound to the opponent role);
2. every listed model competes against those messages, replayed from the base's log
   (`opponent=<base log>`), so all tuned models face the very same base messages. The base
   tasks are part of this eval set too (already complete, so reused), which keeps the folder
   one eval set.

The audience and judge roles are bound explicitly (the paper's pinned models unless given),
so every log records them and the leaderboard can check that the rows are comparable.
"""

from __future__ import annotations

import contextvars
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moloch_eval.leaderboard.collect import DOMAIN_ORDER
from moloch_eval.leaderboard.logs import local_path
from moloch_eval.roles import PAPER_JUDGE, PAPER_VOTER

BASE_OPPONENTS = ("self", "role")
#: task arguments the sweep sets itself
RESERVED_TASK_ARGS = ("opponent",)


@dataclass(frozen=True)
class Run:
    """One eval of the sweep: a model on a domain with its task arguments and extra roles."""

    domain: str
    model: str
    task_args: dict[str, Any]
    model_roles: dict[str, str] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return f"moloch_eval/{self.domain}"


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep runs (see the module docstring)."""

    models: tuple[str, ...]
    base: str
    log_dir: str
    domains: tuple[str, ...] = DOMAIN_ORDER
    audience: str = PAPER_VOTER
    judge: str = PAPER_JUDGE
    limit: int | None = None
    task_args: dict[str, Any] = field(default_factory=dict)
    base_opponent: str = "self"

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("a sweep needs at least one model besides the base (--models)")
        if self.base in self.models:
            raise ValueError(f"the base {self.base} is also in --models; list it only as --base")
        if len(set(self.models)) != len(self.models):
            raise ValueError("--models lists a model twice")
        unknown = [d for d in self.domains if d not in DOMAIN_ORDER]
        if unknown or not self.domains:
            raise ValueError(f"domains must be among {DOMAIN_ORDER}, not {list(self.domains)}")
        if self.base_opponent not in BASE_OPPONENTS:
            raise ValueError(f"base_opponent must be one of {BASE_OPPONENTS}")
        reserved = [k for k in RESERVED_TASK_ARGS if k in self.task_args]
        if reserved:
            raise ValueError(
                f"the sweep sets {reserved} itself (the base plays against itself, then is "
                "replayed as every model's opponent); do not pass it with -T"
            )
        if self.limit is not None and self.limit < 1:
            raise ValueError("--limit must be at least 1")

    @property
    def roles(self) -> dict[str, str]:
        """The roles bound for every eval of the sweep."""
        return {"audience": self.audience, "judge": self.judge}

    def base_runs(self) -> list[Run]:
        """Stage 1: the base against itself in each domain."""
        roles = {"opponent": self.base} if self.base_opponent == "role" else {}
        return [
            Run(d, self.base, {**self.task_args, "opponent": self.base_opponent}, roles)
            for d in self.domains
        ]

    def tuned_runs(self, base_logs: Mapping[str, str]) -> list[Run]:
        """Stage 2: each model against the base's replayed messages, in each domain."""
        return [
            Run(d, m, {**self.task_args, "opponent": base_logs[d]})
            for m in self.models
            for d in self.domains
        ]

    def commands(self) -> list[str]:
        """The same sweep as `inspect eval-set` command lines (for the record or by hand)."""

        def command(tasks: Sequence[str], models: Sequence[str], args: dict[str, Any]) -> str:
            parts = ["inspect", "eval-set", *tasks, "--model", ",".join(models)]
            for role, model in self.roles.items():
                parts += ["--model-role", f"{role}={model}"]
            for key, value in args.items():
                parts += ["-T", f"{key}={value}"]
            if self.limit is not None:
                parts += ["--limit", str(self.limit)]
            parts += ["--log-dir", self.log_dir, "--log-dir-allow-dirty"]
            return shlex.join(parts)

        base = [f"moloch_eval/{d}" for d in self.domains]
        base_args = {**self.task_args, "opponent": self.base_opponent}
        first = command(base, [self.base], base_args)
        if self.base_opponent == "role":
            first += f" --model-role opponent={shlex.quote(self.base)}"
        lines = [first]
        for domain in self.domains:
            args = {**self.task_args, "opponent": f"<{domain} log of the base>"}
            lines.append(command([f"moloch_eval/{domain}"], self.models, args))
        return lines

    def describe(self) -> str:
        """A readable summary of the plan."""
        lines = [
            f"sweep into {self.log_dir}: {len(self.models)} model(s) × {len(self.domains)} "
            f"domain(s) against the base {self.base}",
            f"  audience {self.audience} · judge {self.judge}"
            + (f" · limit {self.limit}" if self.limit else "")
            + (f" · task args {self.task_args}" if self.task_args else ""),
            f"  stage 1: the base writes its messages (opponent={self.base_opponent}) in "
            + ", ".join(self.domains),
            "  stage 2: " + ", ".join(self.models) + " against the base's replayed messages",
            "equivalent inspect commands:",
            *(f"  {c}" for c in self.commands()),
        ]
        return "\n".join(lines)


@dataclass
class SweepResult:
    """What a sweep ran: whether every eval completed, the base logs, all log headers."""

    ok: bool
    stage: str
    base_logs: dict[str, str]
    logs: list[Any]


def _tasks(runs: Sequence[Run]) -> list[Any]:
    from inspect_ai import task_with

    from moloch_eval.tasks import elections, sales, social_media

    builders: dict[str, Callable[..., Any]] = {
        "sales": sales,
        "elections": elections,
        "social_media": social_media,
    }
    tasks = []
    for run in runs:
        task = task_with(builders[run.domain](**run.task_args), model=run.model)
        if run.model_roles:
            task = task_with(task, model_roles=dict(run.model_roles))
        tasks.append(task)
    return tasks


def run_sweep(plan: SweepPlan, **eval_set_args: Any) -> SweepResult:
    """Run both stages with `inspect_ai.eval_set` (extra arguments go to eval_set)."""
    from inspect_ai import eval_set

    base_runs = plan.base_runs()
    _tasks(base_runs)  # builds, so checks, every task argument before anything is written
    Path(plan.log_dir).mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = {
        "log_dir": plan.log_dir,
        "model": None,  # every task carries its model
        "model_roles": plan.roles,
        "limit": plan.limit,
        "log_dir_allow_dirty": True,  # the folder may also hold earlier sweeps' logs
        **eval_set_args,
    }

    def run(runs: Sequence[Run]) -> tuple[bool, list[Any]]:
        # eval_set leaves Inspect's model-role context set after it returns; running it in a
        # copy of the context keeps the caller's context (and later task construction) clean
        return contextvars.copy_context().run(lambda: eval_set(_tasks(runs), **common))

    ok, logs = run(base_runs)
    base_logs: dict[str, str] = {}
    for log in logs:  # the logs of this eval set's tasks: the base's, one per domain
        domain = (log.eval.metadata or {}).get("domain")
        if log.status == "success" and domain in plan.domains:
            base_logs[domain] = str(Path(local_path(log.location)).resolve())
    if not ok or set(base_logs) != set(plan.domains):
        return SweepResult(False, "base", base_logs, list(logs))
    ok, logs = run(base_runs + plan.tuned_runs(base_logs))
    return SweepResult(ok, "models", base_logs, list(logs))
