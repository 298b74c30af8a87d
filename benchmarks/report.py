"""The benchmark's report: what it measured, the targets of issue 6, and its printed form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import RunResult
from benchmarks.options import Options

TARGET_RATIO = 0.85
TARGET_SPEEDUP_DEFAULTS = 2.0
TARGET_CALLS_PER_SECOND = 500.0
TARGET_TOKEN_RATIO = 1 / 50


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


def check_targets(report: Report) -> None:
    """Add each target's value and whether it was met to `report.checks`."""
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
