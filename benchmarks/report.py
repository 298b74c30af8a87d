"""The benchmark's report: what it measured and the targets of issues 6 and 13."""

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


TARGET_CPU_MS = 5.0
TARGET_PACKAGE_SHARE_MS = 1.0
TARGET_FLAT = 1.15
TARGET_SHARDS = 1.7


def _key(name: str, latency: float) -> str:
    return f"{name}@{latency:g}"


def _tokens(run: RunResult | None, model: str) -> tuple[int, int, int]:
    stats = run.by_model.get(model) if run else None
    return (stats.calls, stats.prompt_tokens, stats.completion_tokens) if stats else (0, 0, 0)


def check_targets(report: Report) -> None:
    """Add each target's value and whether it was met to `report.checks` (issues 6 and 13)."""
    from benchmarks.cost import replication_cost
    from benchmarks.harness import PER_ROLE
    from benchmarks.shards import shards_rate

    o, runs, checks = report.options, report.runs, report.checks
    for latency in o.latencies:
        moloch = runs.get(_key("moloch_equal", latency))
        if moloch and moloch.ratio is not None:
            checks[_key("ideal_ratio", latency)] = {
                "value": moloch.ratio,
                "ok": moloch.ratio >= TARGET_RATIO,
            }
        speedup = report.speedup(_key("paper_equal", latency), _key("moloch_equal", latency))
        if speedup is not None:
            checks[_key("speedup_equal", latency)] = {"value": speedup, "ok": speedup >= 1.0}
        bare_equal = runs.get(_key("bare_equal", latency))
        if bare_equal and bare_equal.ratio is not None:  # no target: what Inspect alone reaches
            checks[_key("floor_equal", latency)] = {
                "ideal_ratio": bare_equal.ratio,
                "speedup_equal": report.speedup(
                    _key("paper_equal", latency), _key("bare_equal", latency)
                ),
                "package_ratio_below_floor": (
                    bare_equal.ratio - moloch.ratio if moloch and moloch.ratio is not None else None
                ),
            }
        sharded = runs.get(_key("sharded_equal", latency))
        if sharded and sharded.ratio is not None:
            checks[_key("sharded_ratio", latency)] = {
                "value": sharded.ratio,
                "ok": sharded.ratio >= TARGET_RATIO,
            }
        speedup = report.speedup(_key("paper_equal", latency), _key("sharded_equal", latency))
        if speedup is not None:
            checks[_key("sharded_speedup_equal", latency)] = {
                "value": speedup,
                "ok": speedup >= 1.0,
            }
        speedup = report.speedup(_key("paper_defaults", latency), _key("moloch_defaults", latency))
        if speedup is not None:
            checks[_key("speedup_defaults", latency)] = {
                "value": speedup,
                "ok": speedup >= TARGET_SPEEDUP_DEFAULTS,
            }
    # the primary latency's figures under the plain names too
    for name in ("ideal_ratio", "speedup_equal", "speedup_defaults"):
        if _key(name, o.latency) in checks:
            checks[name] = checks[_key(name, o.latency)]
    w = o.workload
    other = w.other_audience_mode
    for path, key, floor in (
        (w.audience_mode, "zero_latency", "bare"),
        (other, f"audience_{other}", f"bare_{other}"),
    ):
        run = runs.get(key)
        if not run or not run.calls:
            continue
        cpu: dict[str, Any] = {
            "cpu_per_call_ms": run.cpu_per_call_ms,
            "calls_per_s_measured": run.calls_per_second,
            "calls_per_s_sustainable": o.cores * 1000 / run.cpu_per_call_ms,
            "ok": run.cpu_per_call_ms <= TARGET_CPU_MS,
            "rounds_ms": run.cpu_samples_ms,
        }
        bare = runs.get(floor)
        if bare and bare.calls:
            share = run.cpu_per_call_ms - bare.cpu_per_call_ms
            cpu["floor_ms"] = bare.cpu_per_call_ms
            cpu["floor_rounds_ms"] = bare.cpu_samples_ms
            cpu["package_share_ms"] = share
            cpu["package_share_ok"] = share <= TARGET_PACKAGE_SHARE_MS
        logged = runs.get("bare_logged") if path == w.audience_mode else None
        if logged and logged.calls:
            cpu["floor_every_call_logged_ms"] = logged.cpu_per_call_ms
        default_gc = runs.get("bare_default_gc") if path == w.audience_mode else None
        if default_gc and default_gc.calls:
            cpu["floor_default_gc_ms"] = default_gc.cpu_per_call_ms
        checks[f"cpu_{path}"] = cpu
    if f"cpu_{w.audience_mode}" in checks:
        checks["cpu"] = checks[f"cpu_{w.audience_mode}"]
    scale = sorted(
        (run.expected_calls, run.cpu_per_call_ms, anchors)
        for anchors in o.scale_anchors
        if (run := runs.get(f"scale@{anchors}")) and run.calls
    )
    if len(scale) >= 2:
        growth = scale[-1][1] / scale[0][1]
        checks["flat"] = {
            "cpu_per_call_ms": {anchors: ms for _, ms, anchors in scale},
            "growth": growth,
            "ok": growth <= TARGET_FLAT,
        }
    rates = {
        n: shards_rate(run)
        for n in o.shards
        if (run := runs.get(f"shards@{n}")) and run.status == "success"
    }
    if 1 in rates and len(rates) >= 2 and rates[1] > 0:
        most = max(rates)
        checks["shards"] = {
            "calls_per_s": rates,
            "speedup": rates[most] / rates[1],
            "shards": most,
            "ok": rates[most] / rates[1] >= TARGET_SHARDS,
        }
    primary = runs.get("zero_latency")  # one model name per role (the equal runs share one)
    votes, verdicts = _tokens(primary, PER_ROLE.audience), _tokens(primary, PER_ROLE.judge)
    per_anchor = (w.personas, 2 * len(w.probe_names))
    cost: dict[str, Any] = {}
    if votes[0]:
        cost[w.audience_mode] = [c.as_dict() for c in replication_cost(votes, verdicts, per_anchor)]
    if (run := runs.get(f"audience_{other}")) and votes[0]:
        other_votes = _tokens(run, PER_ROLE.audience)
        cost[other] = [c.as_dict() for c in replication_cost(other_votes, verdicts, per_anchor)]
    if cost:
        checks["cost"] = cost
