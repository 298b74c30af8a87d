"""What one benchmark run does: `Options`, and the command line that fills them."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.reference import DEFAULT_WORKERS, PAPER_BATCH
from benchmarks.workload import Workload

FULL_LATENCIES = (0.05, 0.1, 0.4, 1.0)
QUICK_LATENCIES = (0.05, 0.1)
DEFAULTS_LATENCIES = (0.1, 0.4)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(sorted({float(x) for x in text.split(",") if x.strip()}))


def _ints(text: str) -> tuple[int, ...]:
    return tuple(sorted({int(x) for x in text.split(",") if x.strip()}))


@dataclass
class Options:
    """What to run (the command-line options)."""

    workload: Workload = field(default_factory=Workload)
    #: the primary latency (the main table) and the equal-concurrency sweep (it includes it)
    latency: float = 0.4
    latencies: tuple[float, ...] = FULL_LATENCIES
    #: latencies of the defaults comparison (each side at its own defaults)
    defaults_latencies: tuple[float, ...] = DEFAULTS_LATENCIES
    #: anchors of the 0-latency runs that check CPU per call is flat in the number of samples
    scale_anchors: tuple[int, ...] = (16, 64, 256)
    #: shard counts of the 0-latency sharding runs (separate `inspect eval` processes)
    shards: tuple[int, ...] = (1, 2)
    #: at each latency, also moloch_eval as this many `inspect eval` shards of C ÷ n calls in
    #: flight each (C in all; 0 or 1: not run)
    shard_equal: int = 2
    bare: bool = True
    concurrency: int = DEFAULT_WORKERS
    #: max_samples of the limited moloch_eval run, per connection: a deep queue keeps every
    #: connection busy (Inspect's default, max_samples = max_connections, leaves slots idle
    #: while samples are in their one- or two-call phases)
    samples_per_connection: int = 4
    paper_workers: int = DEFAULT_WORKERS
    batch: int = PAPER_BATCH
    think_words: int = 80
    logprob_anchors: int = 16
    #: rounds of the interleaved 0-latency CPU runs (each figure: the median round)
    cpu_repeats: int = 3
    replay_anchors: int = 8
    defaults: bool = True
    reference: bool = True
    cache: bool = True
    logprob: bool = True
    #: Inspect's log_realtime for the moloch_eval runs (None: Inspect's default, on)
    log_realtime: bool | None = None
    profile: str | None = None
    cores: int = os.cpu_count() or 1


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
        "--latencies",
        type=_floats,
        help="the equal-concurrency sweep, e.g. 0.05,0.1,0.4,1 (default: that; --quick: "
        "0.05,0.1); the primary --latency is always in it",
    )
    parser.add_argument(
        "--defaults-latencies",
        type=_floats,
        help="latencies of the at-defaults comparison (default 0.1,0.4; --quick: 0.1)",
    )
    parser.add_argument(
        "--scale-anchors",
        type=_ints,
        help="anchors of the 0-latency runs that check CPU per call is flat in the number of "
        "samples (default 16,64,256; --quick: 8,32)",
    )
    parser.add_argument(
        "--shards",
        type=_ints,
        default=(1, 2),
        help="shard counts of the 0-latency sharding runs ('' to skip)",
    )
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
    parser.add_argument(
        "--quick", action="store_true", help="8 anchors × 5 personas, L=0.1 s, a short sweep"
    )
    parser.add_argument("--no-defaults", action="store_true", help="skip the defaults runs")
    parser.add_argument("--no-reference", action="store_true", help="skip the paper's design")
    parser.add_argument("--no-cache", action="store_true", help="skip 0-latency/cache/replay")
    parser.add_argument("--no-logprob", action="store_true", help="skip the token comparison")
    parser.add_argument(
        "--shard-equal",
        type=int,
        default=2,
        help="also run moloch_eval at equal concurrency as N shards of C/N each (0: skip)",
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-Inspect floor")
    parser.add_argument(
        "--cpu-repeats",
        type=int,
        help="rounds of the interleaved 0-latency CPU runs, each figure the median round "
        "(default 3; --quick: 1)",
    )
    parser.add_argument(
        "--no-log-realtime",
        action="store_true",
        help="turn Inspect's realtime event buffer off in the moloch_eval runs (less CPU a call)",
    )
    parser.add_argument("--profile", metavar="FILE", help="cProfile a 0-latency run into FILE")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--work-dir", help="keep logs and cache here (default: a temp dir)")
    ns = parser.parse_args(argv)
    if ns.cpu_repeats is not None and ns.cpu_repeats < 1:
        parser.error("--cpu-repeats must be at least 1")
    anchors, personas, latency = ns.anchors, ns.personas, ns.latency
    latencies: tuple[float, ...] = FULL_LATENCIES
    defaults_latencies: tuple[float, ...] = DEFAULTS_LATENCIES
    scale: tuple[int, ...] = (16, 64, 256)
    if ns.quick:
        anchors, personas = min(anchors, 8), min(personas, 5)
        latency = 0.1 if latency == parser.get_default("latency") else latency
        latencies, defaults_latencies, scale = QUICK_LATENCIES, (0.1,), (8, 32)
    latencies = tuple(sorted({*(ns.latencies or latencies), latency}))
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
        latencies=latencies,
        defaults_latencies=ns.defaults_latencies or defaults_latencies,
        scale_anchors=ns.scale_anchors if ns.scale_anchors is not None else scale,
        shards=ns.shards,
        shard_equal=ns.shard_equal,
        bare=not ns.no_bare,
        concurrency=ns.concurrency,
        paper_workers=ns.paper_workers,
        batch=ns.batch,
        think_words=ns.think_words,
        logprob_anchors=anchors,
        cpu_repeats=ns.cpu_repeats if ns.cpu_repeats is not None else (1 if ns.quick else 3),
        replay_anchors=min(8, anchors),
        defaults=not ns.no_defaults,
        reference=not ns.no_reference,
        cache=not ns.no_cache,
        logprob=not ns.no_logprob,
        log_realtime=False if ns.no_log_realtime else None,
        profile=ns.profile,
    )
    return options, ns
