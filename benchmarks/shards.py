"""One eval split into shards: N `inspect eval ... --limit a-b` processes into one log folder.

This is the documented way to use every core (and several machines) for one run: each shard
is an ordinary `inspect eval` of a disjoint range of samples, all writing into one log folder
that the leaderboard merges. Here every shard runs against the benchmark's fake endpoint, and
the rate is the server's: calls ÷ (first request → last reply), so the processes' start-up
(imports) is not counted, but any time one shard waits for another is. A sharded run's
`wall` is that span too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import PER_ROLE, SERVICE, RunResult, _absorb
from benchmarks.reference import RoleModels
from benchmarks.workload import Workload
from moloch_eval.testing import FakeOpenAIServer


def shard_ranges(samples: int, shards: int) -> list[tuple[int, int]]:
    """Disjoint 1-based inclusive ranges that cover `samples` in `shards` near-equal parts."""
    if shards < 1 or samples < shards:
        raise ValueError(f"cannot split {samples} samples into {shards} shards")
    bounds = [round(i * samples / shards) for i in range(shards + 1)]
    return [(bounds[i] + 1, bounds[i + 1]) for i in range(shards)]


def shard_command(
    workload: Workload,
    first: int,
    last: int,
    log_dir: Path,
    models: RoleModels = PER_ROLE,
    extra: Sequence[str] = (),
) -> list[str]:
    """The `inspect eval` command line of one shard (every role on the fake endpoint)."""
    roles = {"audience": models.audience, "opponent": models.opponent}
    if workload.probe_names:
        roles["judge"] = models.judge
    command = [
        sys.executable,
        "-m",
        "inspect_ai",
        "eval",
        f"moloch_eval/{workload.domain}",
        "--model",
        FakeOpenAIServer.model(models.agent, SERVICE),
        "--limit",
        f"{first}-{last}",
        "--log-dir",
        str(log_dir),
        "--display",
        "none",
    ]
    for role, name in roles.items():
        command += ["--model-role", f"{role}={FakeOpenAIServer.model(name, SERVICE)}"]
    for name, value in workload.task_args().items():
        command += ["-T", f"{name}={value}"]
    return command + list(extra)


def run_shards(
    server: FakeOpenAIServer,
    workload: Workload,
    shards: int,
    log_dir: Path,
    label: str,
    models: RoleModels = PER_ROLE,
    max_connections: int | None = None,
    max_samples: int | None = None,
) -> RunResult:
    """Run `workload` as `shards` concurrent `inspect eval` processes; the server's rate.

    `max_connections`/`max_samples` apply to each shard (so C in all is shards × that).
    """
    env = {**os.environ, **server.env(SERVICE)}
    extra: list[str] = []
    if max_connections is not None:
        extra += ["--max-connections", str(max_connections)]
    if max_samples is not None:
        extra += ["--max-samples", str(max_samples)]
    commands = [
        shard_command(workload, first, last, log_dir, models, extra)
        for first, last in shard_ranges(workload.anchors, shards)
    ]
    server.reset()
    started = time.monotonic()
    start, before = time.perf_counter(), os.times()
    procs = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c in commands
    ]
    outputs = [p.communicate()[0] for p in procs]
    wall, ended, after = time.perf_counter() - start, time.monotonic(), os.times()
    # the shards' CPU (finished children): imports and start-up included
    cpu = (after.children_user + after.children_system) - (
        before.children_user + before.children_system
    )
    result = RunResult(
        label=label,
        system="moloch_eval",
        calls=0,
        expected_calls=workload.calls,
        wall=wall,
        cpu=cpu,
        latency=server.latency,
        concurrency=None if max_connections is None else shards * max_connections,
        status="success" if all(p.returncode == 0 for p in procs) else "error",
        log_path=str(log_dir),
    )
    _absorb(result, server.stats(), started, ended)
    if result.span:
        # the processes' start-up (imports, task loading) is not the eval's: time the calls
        result.notes.append(
            f"wall = the server's first request → last reply; the processes took {wall:.1f} s "
            "in all, start-up and log writing included"
        )
        result.wall = result.span
    for proc, out in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            result.notes.append(f"shard exit {proc.returncode}: {out.strip()[-300:]}")
    return result


def shards_rate(result: RunResult) -> float:
    """Calls per second the server saw between its first request and its last reply."""
    return result.calls / result.span if result.span else 0.0
