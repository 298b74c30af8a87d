"""Running moloch_eval and the paper's design against the fake endpoint, with measurements.

Measurements of one run:
- calls: counted by the server (every chat completion request it received);
- wall: seconds of the `eval()` call (or of the reference pipeline), imports excluded (a
  warm-up eval runs first), task set-up and log writing included;
- span: seconds from the server's first request to its last reply of the run;
- cpu: CPU seconds of this process (all its threads) during the run. The server runs in a
  separate process, so its work is not counted here; it is reported apart (server_cpu).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog

from benchmarks.reference import PaperDesign, ReferenceResult, RoleModels
from benchmarks.workload import Workload
from moloch_eval.garbage_collection import CPYTHON_DEFAULT
from moloch_eval.testing import FakeOpenAIServer, KindStats, ServerStats

SERVICE = "fake"
#: all roles on one model name: one connection pool, so `max_connections` is a global limit
SHARED = RoleModels(agent="bench", opponent="bench", audience="bench", judge="bench")
#: one name per role, as a real run has (agent on vLLM, audience and judge on an API, ...)
PER_ROLE = RoleModels()


@dataclass
class RunResult:
    """One measured run (moloch_eval or the paper's design)."""

    label: str
    system: str  # "moloch_eval", "paper" or "inspect" (the bare floor)
    calls: int
    expected_calls: int
    wall: float
    cpu: float
    latency: float
    #: the configured limit on calls in flight (None: Inspect's adaptive default)
    concurrency: int | None
    ideal: float | None = None
    span: float | None = None
    #: seconds from the start of the run to the first call, and from the last reply to its end
    startup: float | None = None
    finalize: float | None = None
    peak_in_flight: int = 0
    server_cpu: float = 0.0
    by_kind: dict[str, KindStats] = field(default_factory=dict)
    by_model: dict[str, KindStats] = field(default_factory=dict)
    status: str = "success"
    log_path: str | None = None
    notes: list[str] = field(default_factory=list)
    #: CPU per call of every round when this run is the median of several (see `_cpu_runs`)
    cpu_samples_ms: list[float] = field(default_factory=list)

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_per_call_ms(self) -> float:
        return 1000 * self.cpu / self.calls if self.calls else 0.0

    @property
    def ratio(self) -> float | None:
        """ideal ÷ measured wall time (1.0 = as fast as any schedule could be)."""
        return self.ideal / self.wall if self.ideal and self.wall > 0 else None

    @property
    def slot_overhead_ms(self) -> float | None:
        """With a limit of C: C × span ÷ calls − latency, the time per call that a slot was
        held or idle beyond the endpoint's latency (client work, scheduling, barriers, tail)."""
        if self.concurrency is None or not self.span or not self.calls:
            return None
        return 1000 * (self.concurrency * self.span / self.calls - self.latency)

    @property
    def mean_in_flight(self) -> float:
        """Average calls in flight over the run: calls × latency ÷ wall."""
        return self.calls * self.latency / self.wall if self.wall > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "system": self.system,
            "calls": self.calls,
            "expected_calls": self.expected_calls,
            "wall_s": self.wall,
            "span_s": self.span,
            "startup_s": self.startup,
            "finalize_s": self.finalize,
            "cpu_s": self.cpu,
            "cpu_per_call_ms": self.cpu_per_call_ms,
            "calls_per_s": self.calls_per_second,
            "latency_s": self.latency,
            "concurrency": self.concurrency,
            "ideal_s": self.ideal,
            "ideal_over_measured": self.ratio,
            "peak_in_flight": self.peak_in_flight,
            "mean_in_flight": self.mean_in_flight,
            "slot_overhead_ms": self.slot_overhead_ms,
            "server_cpu_s": self.server_cpu,
            "by_kind": {k: vars(v) for k, v in self.by_kind.items()},
            "status": self.status,
            "log": self.log_path,
            "notes": self.notes,
            "cpu_samples_ms": self.cpu_samples_ms,
        }


def _absorb(result: RunResult, stats: ServerStats, started: float, ended: float) -> None:
    """Copy the server's counters; `started`/`ended` are this process's time.monotonic()."""
    result.calls = stats.calls
    result.peak_in_flight = stats.peak_in_flight
    result.server_cpu = stats.cpu_seconds
    result.by_kind = stats.by_kind
    result.by_model = stats.by_model
    if stats.first_call_at is not None and stats.last_reply_at is not None:
        result.span = stats.last_reply_at - stats.first_call_at
        result.startup = stats.first_call_at - started
        result.finalize = ended - stats.last_reply_at
    if stats.errors:
        result.notes.append(f"{stats.errors} calls answered with an error")


def reset_collector() -> None:
    """CPython's garbage-collector defaults, as in a fresh process (see moloch_eval's
    garbage_collection: the package's tasks change them when built), and an earlier run's
    garbage collected, so no run pays for another's."""
    gc.unfreeze()
    gc.set_threshold(*CPYTHON_DEFAULT)
    gc.collect()


def run_moloch(
    server: FakeOpenAIServer,
    workload: Workload,
    log_dir: str | Path,
    *,
    label: str,
    models: RoleModels = PER_ROLE,
    max_connections: int | None = None,
    max_samples: int | None = None,
    cache: bool = False,
    opponent: str = "role",
    eval_args: Mapping[str, Any] | None = None,
    bare: bool | None = None,
    bare_tuned_gc: bool = True,
) -> tuple[RunResult, EvalLog]:
    """One `inspect eval moloch_eval/<domain>` with every role on the fake server.

    `bare` True/False runs `benchmarks.bare`'s task with the same calls instead (True: the
    votes and verdicts unlogged, as moloch_eval's default; False: every call logged), with the
    garbage collector as the package sets it unless `bare_tuned_gc` is False. Every run starts
    from CPython's collector defaults (what an earlier run's task set is undone).
    """
    task_args: dict[str, Any] = {**workload.task_args(), "cache": cache, "opponent": opponent}
    # models with the server's address given explicitly (memoized per address, never stale)
    roles = {"audience": server.get_model(models.audience, SERVICE)}
    if opponent == "role":
        roles["opponent"] = server.get_model(models.opponent, SERVICE)
    if workload.probe_names:
        roles["judge"] = server.get_model(models.judge, SERVICE)
    args: dict[str, Any] = {"display": "none", "log_dir": str(log_dir), **(eval_args or {})}
    if max_connections is not None:
        args["max_connections"] = max_connections
    if max_samples is not None:
        args["max_samples"] = max_samples
    if bare is None:
        task: Any = f"moloch_eval/{workload.domain}"
        args["task_args"] = task_args
    reset_collector()
    server.reset()
    started = time.monotonic()
    start, cpu_start = time.perf_counter(), time.process_time()
    if bare is not None:  # built in the timed span, as inspect eval builds a task by name
        from benchmarks.bare import bare_competition

        task = bare_competition(workload, unlogged=bare, tuned_gc=bare_tuned_gc)
    [log] = inspect_eval(
        task,
        model=server.get_model(models.agent, SERVICE),
        model_roles=roles,
        limit=workload.anchors,
        **args,
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    ended = time.monotonic()
    result = RunResult(
        label=label,
        system="moloch_eval" if bare is None else "inspect",
        calls=0,
        expected_calls=workload.calls,
        wall=wall,
        cpu=cpu,
        latency=server.latency,
        concurrency=max_connections,
        status=log.status,
        log_path=log.location,
    )
    _absorb(result, server.stats(), started, ended)
    if log.status != "success":
        result.notes.append(f"eval {log.status}: {log.error.message if log.error else ''}")
    return result, log


def run_paper(
    server: FakeOpenAIServer,
    workload: Workload,
    *,
    label: str,
    workers: int | None = None,
    batch: int = 64,
    models: RoleModels = PER_ROLE,
) -> tuple[RunResult, ReferenceResult]:
    """The paper's design on the same workload and endpoint."""
    design = PaperDesign(
        workload, server.base_url, server.client_api_key, models, workers=workers, batch=batch
    )
    reset_collector()
    server.reset()
    started = time.monotonic()
    reference = design.run()
    ended = time.monotonic()
    result = RunResult(
        label=label,
        system="paper",
        calls=0,
        expected_calls=workload.calls,
        wall=reference.wall,
        cpu=reference.cpu,
        latency=server.latency,
        concurrency=reference.workers,
    )
    _absorb(result, server.stats(), started, ended)
    if reference.calls != result.calls:
        result.notes.append(f"client made {reference.calls} calls, server saw {result.calls}")
    return result, reference


def warm_up(server: FakeOpenAIServer, workload: Workload, log_dir: str | Path) -> None:
    """Import everything and open every client once, outside the timed runs."""
    tiny = workload.smaller(anchors=1, personas=2)
    latency = server.latency
    server.set_latency(0.0)
    try:
        for models in (PER_ROLE, SHARED):
            run_moloch(server, tiny, log_dir, label="warm-up", models=models)
        run_paper(server, tiny, label="warm-up", workers=2)
    finally:
        server.set_latency(latency)


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None
