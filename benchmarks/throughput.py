"""How fast is a moloch_eval competition, against the ideal bound and the paper's design?

    python -m benchmarks.throughput            # 64 anchors × 20 personas, think mode, probes on
    python -m benchmarks.throughput --quick    # a small workload, about a minute

A local fake OpenAI-compatible endpoint (moloch_eval.testing.fake_openai, in its own process)
answers every call after a fixed latency; agent, opponent, audience and judge all run on it.
In one run the benchmark measures:

1. moloch_eval with a global limit of C calls in flight (every role on one model name, so one
   Inspect connection pool; `max_connections=C`) against the ideal bound L × max(D, ⌈N ÷ C⌉);
2. the paper's design (benchmarks.reference) with C workers: the speed-up at equal concurrency;
3. both at their own defaults: Inspect's adaptive connection pools with one model name per
   role, and the thread pool's default size min(32, cores + 4);
4. a 0-latency run (caching on): the harness's CPU time per call and the calls per second the
   machine sustains, then the same eval again (zero calls expected: all from the cache), and a
   run that replays the opponent's messages from that log (zero opponent calls expected);
5. a logprob-mode run: audience output tokens per vote, against think mode.

Harness CPU is the CPU time of this process during a run (all its threads); the server's CPU is
in another process and is reported apart. Wall times depend on what else the machine runs (the
1-minute load average is printed); CPU time per call depends on it less.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.harness import (
    PER_ROLE,
    SHARED,
    RunResult,
    load_average,
    run_moloch,
    run_paper,
    warm_up,
)
from benchmarks.reference import DEFAULT_WORKERS, PAPER_BATCH
from benchmarks.workload import Workload, ideal_seconds, paper_design_seconds

TARGET_RATIO = 0.85
TARGET_SPEEDUP_DEFAULTS = 2.0
TARGET_CALLS_PER_SECOND = 500.0
TARGET_TOKEN_RATIO = 1 / 50


@dataclass
class Options:
    """What to run (the command-line options)."""

    workload: Workload = field(default_factory=Workload)
    latency: float = 0.4
    concurrency: int = DEFAULT_WORKERS
    #: max_samples of the limited moloch_eval run, per connection: a deep queue keeps every
    #: connection busy (Inspect's default, max_samples = max_connections, leaves slots idle
    #: while samples are in their one- or two-call phases)
    samples_per_connection: int = 4
    paper_workers: int = DEFAULT_WORKERS
    batch: int = PAPER_BATCH
    think_words: int = 80
    logprob_anchors: int = 16
    replay_anchors: int = 8
    defaults: bool = True
    reference: bool = True
    cache: bool = True
    logprob: bool = True
    #: Inspect's log_realtime for the moloch_eval runs (None: Inspect's default, on)
    log_realtime: bool | None = None
    profile: str | None = None
    cores: int = os.cpu_count() or 1


@dataclass
class Report:
    """Everything the benchmark measured (printed, and written as JSON on request)."""

    options: Options
    runs: dict[str, RunResult] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    def speedup(self, paper: str, moloch: str) -> float | None:
        if paper in self.runs and moloch in self.runs and self.runs[moloch].wall > 0:
            return self.runs[paper].wall / self.runs[moloch].wall
        return None

    def as_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "workload": vars(o.workload),
            "latency_s": o.latency,
            "concurrency": o.concurrency,
            "paper_workers": o.paper_workers,
            "environment": self.environment,
            "runs": {k: v.as_dict() for k, v in self.runs.items()},
            "speedup_defaults": self.speedup("paper_defaults", "moloch_defaults"),
            "speedup_equal": self.speedup("paper_equal", "moloch_equal"),
            "checks": self.checks,
        }


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_benchmark(options: Options, work_dir: str | Path) -> Report:
    """Run every part of the benchmark against one fake server; returns the report."""
    from benchmarks.harness import SERVICE
    from moloch_eval.testing import CompetitionResponder, FakeOpenAIServer

    work = Path(work_dir)
    logs = work / "logs"
    report = Report(options)
    report.environment = _environment(options)
    w = options.workload
    responder = CompetitionResponder(think_words=options.think_words)
    eval_args: dict[str, Any] = {}
    if options.log_realtime is not None:
        eval_args["log_realtime"] = options.log_realtime
    L, C = options.latency, options.concurrency
    with (
        FakeOpenAIServer(responder, latency=L, process=True) as server,
        mock.patch.dict(
            os.environ, {**server.env(SERVICE), "INSPECT_CACHE_DIR": str(work / "cache")}
        ),
    ):
        _say(f"fake endpoint {server.base_url} (own process), latency {L:g} s; warming up…")
        warm_up(server, w, logs / "warm-up")

        samples = options.samples_per_connection * C
        _say(f"moloch_eval, global limit C={C}, max_samples={samples} …")
        run, _ = run_moloch(
            server,
            w,
            logs,
            label=f"moloch_eval, C={C}, max_samples={samples}",
            models=SHARED,
            max_connections=C,
            max_samples=samples,
            eval_args=eval_args,
        )
        run.ideal = ideal_seconds(run.calls, w.critical_path(), L, C)
        report.runs["moloch_equal"] = run

        if options.reference:
            default = options.paper_workers == C
            label = f"paper design, {C} workers" + (" (its default)" if default else "")
            _say(f"paper's design, {C} workers …")
            run, _ = run_paper(server, w, label=label, workers=C)
            run.ideal = paper_design_seconds(w, L, C, options.batch)
            report.runs["paper_equal"] = run
            if default and options.defaults:
                report.runs["paper_defaults"] = run  # the same run serves both comparisons

        if options.defaults:
            _say("moloch_eval at Inspect's defaults …")
            run, _ = run_moloch(
                server, w, logs, label="moloch_eval, Inspect defaults", eval_args=eval_args
            )
            report.runs["moloch_defaults"] = run
            if options.reference and "paper_defaults" not in report.runs:
                workers = options.paper_workers
                _say(f"paper's design at its default pool ({workers} workers) …")
                run, _ = run_paper(
                    server,
                    w,
                    label=f"paper design, {workers} workers (its default)",
                    workers=workers,
                )
                run.ideal = paper_design_seconds(w, L, workers, options.batch)
                report.runs["paper_defaults"] = run

        if options.cache:
            _cache_runs(server, options, report, logs, eval_args)
        if options.logprob:
            _logprob_run(server, options, report, logs, eval_args)
        if options.profile:
            _profile_run(server, options, report, logs, eval_args)
    report.environment["load_average_after"] = load_average()
    _targets(report)
    return report


def _cache_runs(
    server: Any, options: Options, report: Report, logs: Path, eval_args: dict[str, Any]
) -> None:
    """0-latency run with caching on, the same again from the cache, a replayed opponent."""
    w = options.workload
    server.set_latency(0.0)
    try:
        _say("0-latency run with caching on (fills the cache) …")
        first, log = run_moloch(
            server,
            w,
            logs,
            label="moloch_eval, 0 latency, cache on",
            cache=True,
            eval_args=eval_args,
        )
        report.runs["zero_latency"] = first
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
    finally:
        server.set_latency(options.latency)


def _logprob_run(
    server: Any, options: Options, report: Report, logs: Path, eval_args: dict[str, Any]
) -> None:
    w = options.workload
    other = "logprob" if w.audience_mode == "think" else "think"
    small = Workload(**{**vars(w.smaller(options.logprob_anchors)), "audience_mode": other})
    server.set_latency(0.0)
    try:
        _say(f"audience in {other} mode ({small.anchors} anchors, 0 latency) …")
        run, log = run_moloch(
            server, small, logs, label=f"moloch_eval, audience {other}", eval_args=eval_args
        )
    finally:
        server.set_latency(options.latency)
    report.runs[f"audience_{other}"] = run
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
    server.set_latency(0.0)
    profiler = cProfile.Profile()
    try:
        _say(f"profiling a 0-latency run ({small.anchors} anchors) into {options.profile} …")
        profiler.enable()
        run_moloch(server, small, logs, label="profile", eval_args=eval_args)
        profiler.disable()
    finally:
        server.set_latency(options.latency)
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


def _targets(report: Report) -> None:
    runs, checks = report.runs, report.checks
    primary = runs.get("moloch_equal")
    if primary and primary.ratio is not None:
        checks["ideal_ratio"] = {"value": primary.ratio, "ok": primary.ratio >= TARGET_RATIO}
    speedup = report.speedup("paper_defaults", "moloch_defaults")
    if speedup is not None:
        checks["speedup_defaults"] = {"value": speedup, "ok": speedup >= TARGET_SPEEDUP_DEFAULTS}
    speedup = report.speedup("paper_equal", "moloch_equal")
    if speedup is not None:
        checks["speedup_equal"] = {"value": speedup, "ok": speedup >= 1.0}
    zero = runs.get("zero_latency")
    if zero and zero.cpu_per_call_ms > 0:
        sustained = report.options.cores * 1000 / zero.cpu_per_call_ms
        checks["cpu"] = {
            "cpu_per_call_ms": zero.cpu_per_call_ms,
            "calls_per_s_measured": zero.calls_per_second,
            "calls_per_s_sustainable": sustained,
            "ok": sustained >= TARGET_CALLS_PER_SECOND,
        }


# -- printing ---------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _mark(check: dict[str, Any] | None) -> str:
    if not check or "ok" not in check:
        return "  n/a "
    return " MET  " if check["ok"] else "MISSED"


def format_report(report: Report) -> str:
    o, w, env = report.options, report.options.workload, report.environment
    L, C = o.latency, o.concurrency
    width = 48
    lines = [
        "moloch_eval throughput benchmark",
        f"workload : {w.describe()}",
        f"           {w.breakdown()}",
        f"           critical path D = {w.critical_path()} calls per anchor "
        "(agent → opponent → votes → one round per probe)",
        f"endpoint : fake OpenAI-compatible server on 127.0.0.1 (own process), fixed latency "
        f"L = {L:g} s per call; fake voter/judge think blocks of {o.think_words} words",
        f"machine  : {env['cores']} cores, load average {_fmt(env['load_average_before'])} before"
        f" / {_fmt(env.get('load_average_after'))} after; Python {env['python']}, inspect_ai "
        f"{env['inspect_ai']}, openai {env['openai']}; Inspect log_realtime="
        f"{'default (on)' if o.log_realtime is None else o.log_realtime}",
        "",
        f"{'run':{width}s} {'limit':>7s} {'calls':>6s} {'wall s':>8s} {'ideal s':>8s} "
        f"{'ideal/wall':>10s} {'calls/s':>8s} {'in flight':>10s} {'slot+ ms':>8s} "
        f"{'CPU ms/call':>11s}",
    ]
    shown: set[int] = set()
    for key in (
        "moloch_equal",
        "paper_equal",
        "moloch_defaults",
        "paper_defaults",
        "zero_latency",
        "cached",
        "replayed",
        f"audience_{'logprob' if w.audience_mode == 'think' else 'think'}",
    ):
        r = report.runs.get(key)
        if r is None or id(r) in shown:
            continue
        shown.add(id(r))
        limit = "adaptive" if r.concurrency is None else str(r.concurrency)
        in_flight = f"{r.mean_in_flight:.1f}/{r.peak_in_flight}" if r.latency > 0 else "–"
        lines.append(
            f"{r.label:{width}s} {limit:>7s} {r.calls:>6d} {r.wall:>8.2f} {_fmt(r.ideal):>8s} "
            f"{_fmt(r.ratio):>10s} {r.calls_per_second:>8.1f} {in_flight:>10s} "
            f"{_fmt(r.slot_overhead_ms, '.1f'):>8s} {r.cpu_per_call_ms:>11.2f}"
        )
        for note in r.notes:
            lines.append(f"    note: {note}")
    timed = [r for r in report.runs.values() if r.system == "moloch_eval" and r.span]
    if timed:
        lines += [
            "",
            "where moloch_eval's wall time goes (startup → first call, calls, last reply → end):",
        ]
        for r in timed:
            lines.append(
                f"  {r.label:{width}s} {_fmt(r.startup):>6s} s + {_fmt(r.span):>7s} s + "
                f"{_fmt(r.finalize):>6s} s; CPU {r.cpu:.1f} s"
            )
    lines += [
        "",
        f"ideal s  = L × max(D, ⌈calls ÷ C⌉) for moloch_eval (C calls in flight at most); for the "
        f"paper's design its own bound with stage barriers, per batch of {o.batch} anchors "
        "L × (⌈2b÷W⌉ + ⌈b·P÷W⌉ + ⌈2b·k÷W⌉).",
        "in flight = mean (calls × L ÷ wall) / peak seen by the server. slot+ = C × (first call "
        "→ last reply) ÷ calls − L: per call, how long a slot was held or idle beyond the "
        "endpoint's latency (client work, scheduling, barriers, tail).",
        "CPU ms/call = CPU time of the benchmark process during the run ÷ calls (the server runs "
        "in its own process and is not counted).",
        "",
        "results against the targets of issue 6:",
    ]
    c = report.checks
    if "ideal_ratio" in c:
        lines.append(
            f"  [{_mark(c['ideal_ratio'])}] moloch_eval reaches {c['ideal_ratio']['value']:.2f} of "
            f"the ideal bound at C={C}, L={L:g} s (target ≥ {TARGET_RATIO})"
        )
    if "speedup_defaults" in c:
        md, pd = report.runs["moloch_defaults"], report.runs["paper_defaults"]
        lines.append(
            f"  [{_mark(c['speedup_defaults'])}] speed-up over the paper's design at defaults: "
            f"{c['speedup_defaults']['value']:.2f}× ({pd.wall:.1f} s with {pd.concurrency} "
            f"workers vs {md.wall:.1f} s with Inspect's adaptive pools; target ≥ 2×)"
        )
    if "speedup_equal" in c:
        lines.append(
            f"  [{_mark(c['speedup_equal'])}] speed-up at equal concurrency C={C}: "
            f"{c['speedup_equal']['value']:.2f}× (target ≥ 1, never slower)"
        )
    if "cpu" in c:
        cpu = c["cpu"]
        lines.append(
            f"  [{_mark(cpu)}] harness CPU {cpu['cpu_per_call_ms']:.2f} ms per call at 0 latency: "
            f"{o.cores} cores sustain ≈ {cpu['calls_per_s_sustainable']:.0f} calls/s "
            f"(measured {cpu['calls_per_s_measured']:.0f} calls/s on one event loop; "
            f"target ≥ {TARGET_CALLS_PER_SECOND:.0f})"
        )
    if "tokens" in c:
        t = c["tokens"]
        per_vote = ", ".join(f"{m} {v:.1f}" for m, v in t["output_tokens_per_vote"].items())
        per_in = ", ".join(f"{m} {v:.0f}" for m, v in t["input_tokens_per_vote"].items())
        ratio = f"ratio {t['ratio']:.4f} = 1/{1 / t['ratio']:.0f}" if t.get("ratio") else ""
        lines.append(
            f"  [{_mark(t)}] audience output tokens per vote: {per_vote}; {ratio} (goal ≤ 1/50); "
            f"input tokens per vote: {per_in}"
        )
    if "cache" in c:
        k = c["cache"]
        lines.append(
            f"  [{_mark(k)}] cache: first run {k['first_run_calls']} calls, same eval again "
            f"{k['second_run_calls']} calls in {k['second_run_wall_s']:.1f} s"
        )
    if "replay" in c:
        r = c["replay"]
        lines.append(
            f"  [{_mark(r)}] replayed opponent: {r['replayed_messages']}/{r['anchors']} messages "
            f"replayed, {r['opponent_calls']} opponent calls ({r['calls']} calls in all, "
            f"{r['expected_calls']} expected)"
        )
    if "profile" in c:
        lines += ["", f"profile of a 0-latency run ({c['profile']['file']}):"]
        lines.append(c["profile"]["top_tottime"])
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.throughput",
        description="Measure a moloch_eval competition against the ideal bound and against "
        "the paper's design, on a local fake OpenAI-compatible endpoint.",
    )
    parser.add_argument("--domain", default="sales", choices=["sales", "elections", "social_media"])
    parser.add_argument("--anchors", type=int, default=64)
    parser.add_argument("--personas", type=int, default=20)
    parser.add_argument("--mode", default="think", choices=["think", "logprob"], help="audience")
    parser.add_argument("--judge-mode", default="think", choices=["think", "logprob"])
    parser.add_argument("--probes", default="default", help="'default', 'none' or names")
    parser.add_argument("--latency", type=float, default=0.4, help="seconds per call")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_WORKERS,
        help="C: the equal-concurrency limit (default: the paper's pool size)",
    )
    parser.add_argument(
        "--paper-workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"the paper's default pool (min(32, cores + 4) = {DEFAULT_WORKERS} here)",
    )
    parser.add_argument("--batch", type=int, default=PAPER_BATCH, help="paper's batch size")
    parser.add_argument("--think-words", type=int, default=80, help="fake think length (words)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="8 anchors × 5 personas, L=0.1 s")
    parser.add_argument("--no-defaults", action="store_true", help="skip the defaults runs")
    parser.add_argument("--no-reference", action="store_true", help="skip the paper's design")
    parser.add_argument("--no-cache", action="store_true", help="skip 0-latency/cache/replay")
    parser.add_argument("--no-logprob", action="store_true", help="skip the token comparison")
    parser.add_argument(
        "--no-log-realtime",
        action="store_true",
        help="turn Inspect's realtime event buffer off in the moloch_eval runs (less CPU a call)",
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile a 0-latency run into FILE")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--work-dir", help="keep logs and cache here (default: a temp dir)")
    ns = parser.parse_args(argv)
    anchors, personas, latency = ns.anchors, ns.personas, ns.latency
    if ns.quick:
        anchors, personas = min(anchors, 8), min(personas, 5)
        latency = 0.1 if latency == parser.get_default("latency") else latency
    workload = Workload(
        domain=ns.domain,
        anchors=anchors,
        personas=personas,
        audience_mode=ns.mode,
        judge_mode=ns.judge_mode,
        probes=ns.probes,
        seed=ns.seed,
    )
    options = Options(
        workload=workload,
        latency=latency,
        concurrency=ns.concurrency,
        paper_workers=ns.paper_workers,
        batch=ns.batch,
        think_words=ns.think_words,
        logprob_anchors=min(16, anchors),
        replay_anchors=min(8, anchors),
        defaults=not ns.no_defaults,
        reference=not ns.no_reference,
        cache=not ns.no_cache,
        logprob=not ns.no_logprob,
        log_realtime=False if ns.no_log_realtime else None,
        profile=ns.profile,
    )
    return options, ns


def main(argv: Sequence[str] | None = None) -> int:
    options, ns = parse_args(argv)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        work_dir = ns.work_dir or stack.enter_context(tempfile.TemporaryDirectory())
        report = run_benchmark(options, work_dir)
    print(format_report(report))
    print(f"\n(benchmark wall time {time.perf_counter() - started:.0f} s)")
    if ns.json:
        Path(ns.json).write_text(json.dumps(report.as_dict(), indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
