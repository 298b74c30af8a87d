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

The pieces: `benchmarks.options` (what to run, the command line), `benchmarks.runner` (the
runs), `benchmarks.report` (results, targets, printing), `benchmarks.harness` (one measured
run), `benchmarks.reference` (the paper's design), `benchmarks.workload` (calls and bounds).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.options import Options, parse_args
from benchmarks.printing import format_report
from benchmarks.report import (
    TARGET_CALLS_PER_SECOND,
    TARGET_RATIO,
    TARGET_SPEEDUP_DEFAULTS,
    TARGET_TOKEN_RATIO,
    Report,
)
from benchmarks.runner import run_benchmark

__all__ = [
    "TARGET_CALLS_PER_SECOND",
    "TARGET_RATIO",
    "TARGET_SPEEDUP_DEFAULTS",
    "TARGET_TOKEN_RATIO",
    "Options",
    "Report",
    "format_report",
    "main",
    "parse_args",
    "run_benchmark",
]


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
