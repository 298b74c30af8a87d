"""The benchmark's printed report: every run, then every target as MET/MISSED with its figure."""

from __future__ import annotations

from typing import Any

from benchmarks.cost import BATCH_DISCOUNT, PRICES, PRICES_AS_OF, REPLICATION_CALLS
from benchmarks.harness import RunResult
from benchmarks.report import (
    TARGET_CALLS_PER_SECOND,
    TARGET_CPU_MS,
    TARGET_FLAT,
    TARGET_PACKAGE_SHARE_MS,
    TARGET_RATIO,
    TARGET_SHARDS,
    TARGET_SPEEDUP_DEFAULTS,
    Report,
)

WIDTH = 48


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _mark(check: dict[str, Any] | None, key: str = "ok") -> str:
    if not check or key not in check:
        return "  n/a "
    return " MET  " if check[key] else "MISSED"


def _row(r: RunResult) -> str:
    limit = "adaptive" if r.concurrency is None else str(r.concurrency)
    in_flight = f"{r.mean_in_flight:.1f}/{r.peak_in_flight}" if r.latency > 0 else "–"
    return (
        f"{r.label:{WIDTH}s} {r.latency:>5g} {limit:>8s} {r.calls:>6d} {r.wall:>8.2f} "
        f"{_fmt(r.ideal):>8s} {_fmt(r.ratio):>10s} {r.calls_per_second:>8.1f} {in_flight:>10s} "
        f"{_fmt(r.slot_overhead_ms, '.1f'):>8s} {r.cpu_per_call_ms:>11.2f}"
    )


def _runs(report: Report) -> list[str]:
    lines = [
        f"{'run':{WIDTH}s} {'L s':>5s} {'limit':>8s} {'calls':>6s} {'wall s':>8s} "
        f"{'ideal s':>8s} {'ideal/wall':>10s} {'calls/s':>8s} {'in flight':>10s} "
        f"{'slot+ ms':>8s} {'CPU ms/call':>11s}"
    ]
    shown: set[int] = set()
    for r in report.runs.values():
        if id(r) in shown:
            continue
        shown.add(id(r))
        lines.append(_row(r))
        lines += [f"    note: {note}" for note in r.notes]
    return lines


def _where_time_goes(report: Report) -> list[str]:
    timed = [r for r in report.runs.values() if r.system == "moloch_eval" and r.span]
    lines = [
        "",
        "where moloch_eval's wall time goes (startup → first call, calls, last reply → end):",
    ]
    seen: set[int] = set()
    for r in timed:
        if id(r) in seen:
            continue
        seen.add(id(r))
        lines.append(
            f"  {r.label + f' (L={r.latency:g})':{WIDTH + 10}s} {_fmt(r.startup):>6s} s + "
            f"{_fmt(r.span):>7s} s + {_fmt(r.finalize):>6s} s; CPU {r.cpu:.1f} s"
        )
    return lines if timed else []


def _rounds(figures: list[float]) -> str:
    """How a median CPU figure was taken: its rounds' range."""
    if len(figures) < 2:
        return ""
    return f" (median of {len(figures)} rounds, {min(figures):.2f}–{max(figures):.2f})"


def _floor_equal(floor: dict[str, Any]) -> str:
    """Inspect's own figures at the equal-concurrency limits, and moloch_eval's place."""
    text = (
        "Inspect's floor at the same limits (a bare task making the same calls): "
        f"{floor['ideal_ratio']:.2f} of the ideal bound"
    )
    if (versus := floor["speedup_equal"]) is not None:
        text += f", {versus:.2f}× the paper's design"
    if (gap := floor["package_ratio_below_floor"]) is not None:
        text += f"; moloch_eval {abs(gap):.3f} {'below' if gap >= 0 else 'above'} it"
    return text


def _targets(report: Report) -> list[str]:
    o, c, C = report.options, report.checks, report.options.concurrency
    lines = ["", "results against the targets of issues 6 and 13:"]
    for latency in o.latencies:
        if (ratio := c.get(f"ideal_ratio@{latency:g}")) is not None:
            lines.append(
                f"  [{_mark(ratio)}] L={latency:<5g} moloch_eval reaches {ratio['value']:.2f} of "
                f"the ideal bound at C={C} (target ≥ {TARGET_RATIO})"
            )
        if (equal := c.get(f"speedup_equal@{latency:g}")) is not None:
            lines.append(
                f"  [{_mark(equal)}] L={latency:<5g} speed-up over the paper's design at equal "
                f"concurrency C={C}: {equal['value']:.2f}× (target ≥ 1, never slower)"
            )
        if (floor := c.get(f"floor_equal@{latency:g}")) is not None:
            lines.append(f"  [ floor] L={latency:<5g} {_floor_equal(floor)}")
        ratio, equal = (
            c.get(f"sharded_ratio@{latency:g}"),
            c.get(f"sharded_speedup_equal@{latency:g}"),
        )
        if ratio is not None and equal is not None:
            n = o.shard_equal
            lines.append(
                f"  [{_mark(ratio)}] L={latency:<5g} as {n} shards × C={C // n}: "
                f"{ratio['value']:.2f} of the ideal bound at C={C} (target ≥ {TARGET_RATIO})"
            )
            lines.append(
                f"  [{_mark(equal)}] L={latency:<5g} as {n} shards × C={C // n}: speed-up over "
                f"the paper's design at C={C}: {equal['value']:.2f}× (target ≥ 1)"
            )
        if (defaults := c.get(f"speedup_defaults@{latency:g}")) is not None:
            md = report.runs[f"moloch_defaults@{latency:g}"]
            pd = report.runs[f"paper_defaults@{latency:g}"]
            lines.append(
                f"  [{_mark(defaults)}] L={latency:<5g} speed-up at each side's defaults: "
                f"{defaults['value']:.2f}× ({pd.wall:.1f} s with {pd.concurrency} workers vs "
                f"{md.wall:.1f} s with Inspect's adaptive pools; target ≥ "
                f"{TARGET_SPEEDUP_DEFAULTS:g}×)"
            )
    for path in ("think", "logprob"):
        if (cpu := c.get(f"cpu_{path}")) is None:
            continue
        lines.append(
            f"  [{_mark(cpu)}] harness CPU on the {path} audience path at 0 latency: "
            f"{cpu['cpu_per_call_ms']:.2f} ms per call{_rounds(cpu['rounds_ms'])} (target ≤ "
            f"{TARGET_CPU_MS:g}; "
            f"{o.cores} cores sustain ≈ {cpu['calls_per_s_sustainable']:.0f} calls/s, "
            f"measured {cpu['calls_per_s_measured']:.0f} calls/s on one event loop)"
        )
        if "floor_ms" in cpu:
            logged = cpu.get("floor_every_call_logged_ms")
            extra = f"; {logged:.2f} ms with every call logged" if logged is not None else ""
            if (default_gc := cpu.get("floor_default_gc_ms")) is not None:
                extra += f"; {default_gc:.2f} ms with CPython's default GC"
            lines.append(
                f"  [{_mark(cpu, 'package_share_ok')}]     of which Inspect's floor (a bare task "
                f"making the same calls, same run, the package's GC settings): "
                f"{cpu['floor_ms']:.2f} ms{_rounds(cpu['floor_rounds_ms'])}{extra}; "
                f"moloch_eval's share above it: {cpu['package_share_ms']:+.2f} ms "
                f"(target ≤ {TARGET_PACKAGE_SHARE_MS:g})"
            )
    if (cpu := c.get("cpu")) is not None:
        sustained = cpu["calls_per_s_sustainable"]
        lines.append(
            f"  [{' MET  ' if sustained >= TARGET_CALLS_PER_SECOND else 'MISSED'}] "
            f"{o.cores} cores sustain ≈ {sustained:.0f} calls/s (issue 6 target ≥ "
            f"{TARGET_CALLS_PER_SECOND:.0f})"
        )
    if (flat := c.get("flat")) is not None:
        figures = ", ".join(f"{n} anchors {ms:.2f}" for n, ms in flat["cpu_per_call_ms"].items())
        lines.append(
            f"  [{_mark(flat)}] CPU per call against samples (0 latency): {figures} ms; "
            f"largest ÷ smallest {flat['growth']:.2f} (target ≤ {TARGET_FLAT:g}: flat)"
        )
    if (shards := c.get("shards")) is not None:
        rates = ", ".join(f"{n}: {rate:.0f}" for n, rate in shards["calls_per_s"].items())
        lines.append(
            f"  [{_mark(shards)}] sharded over processes (0 latency), calls/s by shards "
            f"{rates}: {shards['speedup']:.2f}× with {shards['shards']} shards (target ≥ "
            f"{TARGET_SHARDS:g}×)"
        )
    lines += _old_checks(c)
    return lines


def _old_checks(c: dict[str, Any]) -> list[str]:
    lines = []
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
    return lines


def _cost(c: dict[str, Any]) -> list[str]:
    if "cost" not in c:
        return []
    prices = "; ".join(f"{m} ${i:g}/${o:g}" for m, (i, o) in PRICES.items())
    lines = [
        "",
        f"cost of a full replication ({REPLICATION_CALLS:,} audience and judge calls, the "
        "benchmark's call mix and tokens per call; list prices per million input/output "
        f"tokens as of {PRICES_AS_OF}: {prices}; batch {BATCH_DISCOUNT:g}× both):",
        f"  {'audience mode':14s} {'role':9s} {'model':18s} {'calls':>8s} {'in tok':>7s} "
        f"{'out tok':>7s} {'USD':>9s} {'USD batch':>9s}",
    ]
    for mode, roles in c["cost"].items():
        total = sum(r["dollars"] for r in roles)
        for r in roles:
            lines.append(
                f"  {mode:14s} {r['role']:9s} {r['model']:18s} {r['calls']:>8,d} "
                f"{r['prompt_tokens_per_call']:>7.0f} {r['completion_tokens_per_call']:>7.1f} "
                f"{r['dollars']:>9,.0f} {r['batch_dollars']:>9,.0f}"
            )
        lines.append(
            f"  {mode:14s} {'total':9s} {'':18s} {'':>8s} {'':>7s} {'':>7s} {total:>9,.0f} "
            f"{total * BATCH_DISCOUNT:>9,.0f}"
        )
    return lines


def format_report(report: Report) -> str:
    o, w, env = report.options, report.options.workload, report.environment
    lines = [
        "moloch_eval throughput benchmark",
        f"workload : {w.describe()}",
        f"           {w.breakdown()}",
        f"           critical path D = {w.critical_path()} calls per anchor "
        "(agent → opponent → votes → one round per probe)",
        "endpoint : fake OpenAI-compatible server on 127.0.0.1 (own process), fixed latency "
        f"L per call (sweep {', '.join(f'{x:g}' for x in o.latencies)} s; primary "
        f"{o.latency:g} s); fake voter/judge think blocks of {o.think_words} words",
        f"machine  : {env['cores']} cores, load average {_fmt(env['load_average_before'])} before"
        f" / {_fmt(env.get('load_average_after'))} after; Python {env['python']}, inspect_ai "
        f"{env['inspect_ai']}, openai {env['openai']}; Inspect log_realtime="
        f"{'default (on)' if o.log_realtime is None else o.log_realtime}",
        "",
        *_runs(report),
        *_where_time_goes(report),
        "",
        "ideal s  = L × max(D, ⌈calls ÷ C⌉) for moloch_eval (C calls in flight at most); for the "
        f"paper's design its own bound with stage barriers, per batch of {o.batch} anchors "
        "L × (⌈2b÷W⌉ + ⌈b·P÷W⌉ + ⌈2b·k÷W⌉).",
        "in flight = mean (calls × L ÷ wall) / peak seen by the server. slot+ = C × (first call "
        "→ last reply) ÷ calls − L: per call, how long a slot was held or idle beyond the "
        "endpoint's latency (client work, scheduling, barriers, tail).",
        "CPU ms/call = CPU time of the benchmark process during the run ÷ calls (the server runs "
        "in its own process and is not counted; for shards: the shard processes' CPU, start-up "
        "included). Shard calls/s = calls ÷ (the server's first request → last reply).",
        *_targets(report),
        *_cost(report.checks),
    ]
    if "profile" in report.checks:
        p = report.checks["profile"]
        lines += ["", f"profile of a 0-latency run ({p['file']}):", p["top_tottime"]]
    return "\n".join(lines)
