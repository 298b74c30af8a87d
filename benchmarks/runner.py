"""Runs every part of the benchmark against one fake server (see `benchmarks.throughput`)."""

from __future__ import annotations

import cProfile
import io
import os
import platform
import pstats
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

from inspect_ai.log import EvalLog

from benchmarks.harness import (
    PER_ROLE,
    SERVICE,
    SHARED,
    RunResult,
    load_average,
    run_moloch,
    run_paper,
    warm_up,
)
from benchmarks.options import Options
from benchmarks.report import TARGET_TOKEN_RATIO, Report, check_targets
from benchmarks.shards import run_shards
from benchmarks.workload import Workload, ideal_seconds, paper_design_seconds
from moloch_eval.testing import CompetitionResponder, FakeOpenAIServer


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_benchmark(options: Options, work_dir: str | Path) -> Report:
    """Run every part of the benchmark against one fake server; returns the report."""
    work = Path(work_dir)
    logs = work / "logs"
    report = Report(options)
    report.environment = _environment(options)
    w = options.workload
    responder = CompetitionResponder(think_words=options.think_words)
    eval_args: dict[str, Any] = {}
    if options.log_realtime is not None:
        eval_args["log_realtime"] = options.log_realtime
    with (
        FakeOpenAIServer(responder, latency=options.latency, process=True) as server,
        mock.patch.dict(
            os.environ, {**server.env(SERVICE), "INSPECT_CACHE_DIR": str(work / "cache")}
        ),
    ):
        _say(f"fake endpoint {server.base_url} (own process); warming up…")
        warm_up(server, w, logs / "warm-up")
        for latency in options.latencies:
            _latency_runs(server, options, report, logs, eval_args, latency)
        server.set_latency(0.0)
        if options.cache:
            _cache_runs(server, options, report, logs, eval_args)
        other_log = _cpu_runs(server, options, report, logs, eval_args)
        if other_log is not None:
            _token_check(options, report, other_log)
        for shards in options.shards:
            _say(f"{shards} shard(s): separate `inspect eval` processes, 0 latency …")
            report.runs[f"shards@{shards}"] = run_shards(
                server, w, shards, logs / f"shards-{shards}", label=f"{shards} shard(s), 0 latency"
            )
        if options.profile:
            _profile_run(server, options, report, logs, eval_args)
    report.environment["load_average_after"] = load_average()
    check_targets(report)
    return report


def _latency_runs(
    server: Any,
    options: Options,
    report: Report,
    logs: Path,
    eval_args: dict[str, Any],
    latency: float,
) -> None:
    """At one latency: moloch_eval, Inspect's bare floor and the paper's design at C, then
    moloch_eval and the paper's design at their defaults.

    Runs are keyed `name@L`; those at the primary latency also under `name` alone.
    """
    w, C = options.workload, options.concurrency
    server.set_latency(latency)
    runs: dict[str, RunResult] = {}
    samples = options.samples_per_connection * C
    # moloch_eval, then Inspect's own floor at the same limits: a bare task, the same calls
    equal: list[tuple[str, str, bool | None]] = [("moloch_equal", "moloch_eval", None)]
    if options.bare:
        equal.append(("bare_equal", "bare Inspect task", True))
    for key, name, bare in equal:
        _say(f"L={latency:g} s: {name}, C={C}, max_samples={samples} …")
        run, _ = run_moloch(
            server,
            w,
            logs,
            label=f"{name}, C={C}, max_samples={samples}",
            models=SHARED,
            max_connections=C,
            max_samples=samples,
            eval_args=eval_args,
            bare=bare,
        )
        run.ideal = ideal_seconds(run.calls, w.critical_path(), latency, C)
        runs[key] = run
    if options.reference:
        default = options.paper_workers == C
        label = f"paper design, {C} workers" + (" (its default)" if default else "")
        _say(f"L={latency:g} s: paper's design, {C} workers …")
        run, _ = run_paper(server, w, label=label, workers=C)
        run.ideal = paper_design_seconds(w, latency, C, options.batch)
        runs["paper_equal"] = run
        if default:
            runs["paper_defaults"] = run  # the same run serves both comparisons
    if options.shard_equal >= 2 and C % options.shard_equal == 0:
        n = options.shard_equal
        label = f"moloch_eval, {n} shards × C={C // n}, max_samples={samples // n}"
        _say(f"L={latency:g} s: {label} …")
        run = run_shards(
            server,
            w,
            n,
            logs / f"shards-equal-{latency:g}",
            label=label,
            models=SHARED,
            max_connections=C // n,
            max_samples=samples // n,
        )
        run.ideal = ideal_seconds(run.calls, w.critical_path(), latency, C)
        runs["sharded_equal"] = run
    if options.defaults and latency in options.defaults_latencies:
        _say(f"L={latency:g} s: moloch_eval at Inspect's defaults …")
        run, _ = run_moloch(
            server, w, logs, label="moloch_eval, Inspect defaults", eval_args=eval_args
        )
        runs["moloch_defaults"] = run
        if options.reference and "paper_defaults" not in runs:
            workers = options.paper_workers
            _say(f"L={latency:g} s: paper's design at its default pool ({workers} workers) …")
            run, _ = run_paper(
                server, w, label=f"paper design, {workers} workers (its default)", workers=workers
            )
            run.ideal = paper_design_seconds(w, latency, workers, options.batch)
            runs["paper_defaults"] = run
    elif "paper_defaults" in runs and not options.defaults:
        del runs["paper_defaults"]
    for name, run in runs.items():
        report.runs[f"{name}@{latency:g}"] = run
        if latency == options.latency:
            report.runs[name] = run


def _cpu_runs(
    server: Any, options: Options, report: Report, logs: Path, eval_args: dict[str, Any]
) -> EvalLog | None:
    """0 latency, no cache: CPU per call of both audience paths and of Inspect's bare floor,
    then its growth with samples.

    The paths and their floors run interleaved, `options.cpu_repeats` rounds of each, and each
    keeps the run of median CPU per call (all rounds' figures in `cpu_samples_ms`), so a
    share above the floor compares runs made side by side. Returns the log of the other
    audience mode's run (for the token comparison), if it ran.
    """
    w = options.workload
    other = w.other_audience_mode
    # key → (label, what to run)
    plan: dict[str, tuple[str, Callable[[], tuple[RunResult, EvalLog]]]] = {}

    def add(key: str, label: str, workload: Workload, bare: bool | None = None, **kw: Any) -> None:
        plan[key] = (
            label,
            lambda: run_moloch(
                server, workload, logs, label=label, eval_args=eval_args, bare=bare, **kw
            ),
        )

    add("zero_latency", "moloch_eval, 0 latency", w)
    if options.bare:
        add("bare", "bare Inspect task, same calls", w, bare=True)
        add("bare_logged", "bare Inspect task, every call logged", w, bare=False)
        label = "bare Inspect task, same calls, CPython's default GC"
        add("bare_default_gc", label, w, bare=True, bare_tuned_gc=False)
    if options.logprob:
        small = replace(w.smaller(options.logprob_anchors), audience_mode=other)
        add(f"audience_{other}", f"moloch_eval, audience {other}", small)
        if options.bare:
            label = f"bare Inspect task, same calls, audience {other}"
            add(f"bare_{other}", label, small, bare=True)  # the same workload as its path's
    rounds: dict[str, list[tuple[RunResult, EvalLog]]] = {key: [] for key in plan}
    repeats = max(1, options.cpu_repeats)
    for round_ in range(repeats):
        for key, (label, run) in plan.items():
            _say(f"{label}: 0-latency CPU run, round {round_ + 1} of {repeats} …")
            rounds[key].append(run())
    other_log: EvalLog | None = None
    for key, results in rounds.items():
        ordered = sorted(results, key=lambda result: result[0].cpu_per_call_ms)
        median, log = ordered[(len(ordered) - 1) // 2]  # the lower median: a run that happened
        median.cpu_samples_ms = [result.cpu_per_call_ms for result, _ in results]
        report.runs[key] = median
        if key == f"audience_{other}":
            other_log = log
    zero = report.runs["zero_latency"]
    for anchors in options.scale_anchors:
        if anchors == w.anchors:
            report.runs[f"scale@{anchors}"] = zero
            continue
        _say(f"0-latency run of {anchors} anchors (CPU per call against samples) …")
        result, _ = run_moloch(
            server,
            replace(w, anchors=anchors),
            logs,
            label=f"moloch_eval, 0 latency, {anchors} anchors",
            eval_args=eval_args,
        )
        report.runs[f"scale@{anchors}"] = result
    return other_log


def _cache_runs(
    server: Any, options: Options, report: Report, logs: Path, eval_args: dict[str, Any]
) -> None:
    """0 latency: a run with caching on, the same again from the cache, a replayed opponent."""
    w = options.workload
    _say("0-latency run with caching on (fills the cache) …")
    first, log = run_moloch(
        server,
        w,
        logs,
        label="moloch_eval, 0 latency, cache on",
        cache=True,
        eval_args=eval_args,
    )
    report.runs["cache_fill"] = first
    _say("the same eval again (from the cache) …")
    again, _ = run_moloch(
        server, w, logs, label="moloch_eval, cached re-run", cache=True, eval_args=eval_args
    )
    report.runs["cached"] = again
    report.checks["cache"] = {
        "first_run_calls": first.calls,
        "second_run_calls": again.calls,
        "second_run_wall_s": again.wall,
        "ok": first.calls == w.calls and again.calls == 0 and again.status == "success",
    }
    replay = w.smaller(options.replay_anchors, personas=2)
    replay = Workload(**{**vars(replay), "probes": "none"})
    _say(f"replaying the opponent from {log.location} …")
    run, replayed_log = run_moloch(
        server, replay, logs, label="moloch_eval, replayed opponent", opponent=log.location
    )
    report.runs["replayed"] = run
    from moloch_eval.records import competition_of

    samples = replayed_log.samples or []
    sources = [competition_of(s).opponent for s in samples]
    replayed = sum(1 for o in sources if o is not None and o.source == "replayed")
    opponent_calls = run.by_model.get(PER_ROLE.opponent)
    report.checks["replay"] = {
        "anchors": replay.anchors,
        "opponent_calls": opponent_calls.calls if opponent_calls else 0,
        "replayed_messages": replayed,
        "calls": run.calls,
        "expected_calls": replay.anchors * (1 + replay.personas),
        "ok": opponent_calls is None
        and replayed == replay.anchors
        and run.calls == replay.anchors * (1 + replay.personas),
    }


def _token_check(options: Options, report: Report, log: EvalLog) -> None:
    """Output tokens per vote in each audience mode (the other mode's run is `log`'s)."""
    w = options.workload
    other = w.other_audience_mode
    run = report.runs[f"audience_{other}"]
    base = report.runs.get("moloch_equal")
    per_vote: dict[str, float] = {}
    per_vote_in: dict[str, float] = {}
    for mode, result in ((w.audience_mode, base), (other, run)):
        votes = result.by_kind.get("vote") if result else None
        if votes and votes.calls:
            per_vote[mode] = votes.completion_tokens / votes.calls
            per_vote_in[mode] = votes.prompt_tokens / votes.calls
    usage = log.stats.model_usage.get(f"openai-api/fake/{PER_ROLE.audience}")
    check: dict[str, Any] = {
        "output_tokens_per_vote": per_vote,
        "input_tokens_per_vote": per_vote_in,
        "inspect_usage_output_tokens": usage.output_tokens if usage else None,
    }
    if "think" in per_vote and "logprob" in per_vote and per_vote["think"]:
        check["ratio"] = per_vote["logprob"] / per_vote["think"]
        check["ok"] = check["ratio"] <= TARGET_TOKEN_RATIO
    report.checks["tokens"] = check


def _profile_run(
    server: Any, options: Options, report: Report, logs: Path, eval_args: dict[str, Any]
) -> None:
    """cProfile a 0-latency run of a small workload; the top of the profile goes in the report."""
    assert options.profile is not None
    small = options.workload.smaller(8)
    profiler = cProfile.Profile()
    _say(f"profiling a 0-latency run ({small.anchors} anchors) into {options.profile} …")
    profiler.enable()
    run_moloch(server, small, logs, label="profile", eval_args=eval_args)
    profiler.disable()
    profiler.dump_stats(options.profile)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(15)
    report.checks["profile"] = {"file": options.profile, "top_tottime": stream.getvalue()}


def _environment(options: Options) -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "inspect_ai": version("inspect_ai"),
        "openai": version("openai"),
        "cores": options.cores,
        "machine": platform.machine(),
        "load_average_before": load_average(),
        "log_realtime": options.log_realtime,
    }
