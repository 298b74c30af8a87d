"""`moloch-eval shards N -- <inspect eval arguments>`: one run split over processes (or machines)
by sample ranges, every shard an `inspect eval --limit a-b` into the same log folder.

The samples 1..S are cut into N contiguous ranges (sizes differ by at most one); shard k runs
`inspect eval <the arguments> --limit a-b`, J at a time (default: all N), each shard's output
printed with a `[shard k/N]` prefix. Each shard's command line is printed first, so the shards
can as well be run by hand on several machines (`--dry-run` prints them and runs nothing) into
one folder: a shared disk or an object store (`--log-dir s3://bucket/run`, written and read
through fsspec by Inspect). The leaderboard merges logs of one configuration into one row
(`moloch_eval.leaderboard.merge`), so the shards give the numbers one run would.

S is `--samples`, else the sample count of the package's own tasks (`moloch_eval/<task>`,
built with the given `-T` arguments, which is cheap); other tasks need `--samples`. The
arguments may not choose samples themselves (`--limit`, `--sample-id`). Exit status: 0 when
every shard finished, 1 when one failed (re-run just its printed command: the newest log wins
where sample ids overlap), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Shard",
    "ShardsError",
    "plan_shards",
    "register",
    "sample_count",
    "shard_ranges",
    "shards_command",
]

#: `inspect eval` options that choose the samples themselves (they would clash with --limit)
SAMPLE_OPTIONS = ("--limit", "--sample-id")
#: environment variables Inspect reads for them
SAMPLE_ENV = ("INSPECT_EVAL_SAMPLE_ID",)
PREFIX = "moloch_eval/"
#: how the shards' `inspect eval` is started (the running Python's Inspect)
INSPECT = (sys.executable, "-m", "inspect_ai")


class ShardsError(ValueError):
    """Arguments the shards cannot be planned from (what to do is in the message)."""


@dataclass(frozen=True)
class Shard:
    """One shard: its number (1-based), its sample range (1-based, inclusive) and command."""

    index: int
    count: int
    first: int
    last: int
    args: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"shard {self.index}/{self.count}"

    @property
    def limit(self) -> str:
        return f"{self.first}-{self.last}"

    @property
    def command(self) -> list[str]:
        """What is run: the running Python's `inspect eval`."""
        return [*INSPECT, "eval", *self.args]

    @property
    def shown(self) -> str:
        """The command line to run by hand (`inspect eval …`)."""
        return shlex.join(["inspect", "eval", *self.args])


def shard_ranges(samples: int, shards: int) -> list[tuple[int, int]]:
    """`shards` contiguous 1-based inclusive ranges covering 1..`samples` (sizes differ by at
    most one, the larger first); fewer when there are fewer samples than shards."""
    if samples < 1 or shards < 1:
        raise ShardsError(f"need at least one sample and one shard (samples {samples}, {shards})")
    count = min(samples, shards)
    size, extra = divmod(samples, count)
    ranges, start = [], 1
    for k in range(count):
        end = start + size + (1 if k < extra else 0) - 1
        ranges.append((start, end))
        start = end + 1
    return ranges


def _option(args: Sequence[str], names: Sequence[str]) -> list[str]:
    """The values of an option given as `--name value` or `--name=value`."""
    values = []
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                values.append(args[i + 1])
            elif arg.startswith(f"{name}="):
                values.append(arg.split("=", 1)[1])
    return values


def _check_args(args: Sequence[str]) -> None:
    if not args:
        raise ShardsError(
            "give the arguments of inspect eval after --, e.g. moloch-eval shards 4 -- "
            "moloch_eval/sales --model vllm/Qwen/Qwen3-8B --log-dir logs/run"
        )
    given = [o for o in SAMPLE_OPTIONS if any(a == o or a.startswith(f"{o}=") for a in args)]
    if given:
        raise ShardsError(
            f"the inspect eval arguments already choose samples ({', '.join(given)}); the "
            "shards set --limit themselves: leave it out, and give --samples S to shard only "
            "the first S samples"
        )
    set_env = [v for v in SAMPLE_ENV if os.environ.get(v)]
    if set_env:
        raise ShardsError(f"unset {', '.join(set_env)}: the shards choose their samples")


def _task_arg(value: str) -> Any:
    """A `-T` value as Inspect reads it (YAML: numbers, true/false, lists), else the text."""
    import yaml

    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def sample_count(args: Sequence[str]) -> int:
    """The most samples of the package's tasks named in `args`, built with their `-T`
    arguments (ShardsError when a task is not one of them: give --samples)."""
    import inspect

    from moloch_eval import tasks

    names = [a for a in args if a.startswith(PREFIX)]
    others = [
        a for a in args if a.endswith(".py") or ".py@" in a or a.endswith((".ipynb", ".yaml"))
    ]
    if not names or others or _option(args, ("--task-config",)):
        raise ShardsError(
            "the sample count is worked out only for the package's tasks (moloch_eval/<task>, "
            "with -T arguments); give --samples S (the task's number of samples) for these"
        )
    task_args: dict[str, Any] = {}
    for item in _option(args, ("-T", "--task-arg")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ShardsError(f"-T expects key=value, not {item!r}")
        task_args[key.strip()] = _task_arg(value)
    counts = []
    for name in names:
        factory = getattr(tasks, name[len(PREFIX) :], None)
        if not callable(factory):
            raise ShardsError(f"{name} is not a task of the package; give --samples S")
        accepted = inspect.signature(factory).parameters
        try:
            task = factory(**{k: v for k, v in task_args.items() if k in accepted})
        except Exception as ex:
            raise ShardsError(
                f"could not build {name} to count its samples ({type(ex).__name__}: {ex}); "
                "give --samples S"
            ) from ex
        counts.append(len(task.dataset))
    return max(counts)


def plan_shards(
    shards: int, args: Sequence[str], samples: int | None = None, display: bool = True
) -> list[Shard]:
    """The shards of a run: `args` (inspect eval's) plus each range's `--limit`, and
    `--display plain` unless a display was given (`display`; several rich displays at once
    would garble each other)."""
    _check_args(args)
    if shards < 1:
        raise ShardsError(f"N must be at least 1, not {shards}")
    total = samples if samples is not None else sample_count(args)
    extra: list[str] = []
    if display and not _option(args, ("--display",)) and not os.environ.get("INSPECT_DISPLAY"):
        extra = ["--display", "plain"]
    ranges = shard_ranges(total, shards)
    return [
        Shard(k, len(ranges), a, b, (*args, *extra, "--limit", f"{a}-{b}"))
        for k, (a, b) in enumerate(ranges, 1)
    ]


class _Runner:
    """Runs shards J at a time, printing their output line by line with a prefix."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[int, subprocess.Popen[str]] = {}
        self.stopping = False

    def say(self, text: str) -> None:
        with self.lock:
            print(text, flush=True)

    def run(self, shard: Shard) -> int:
        with self.lock:
            if self.stopping:
                return -1
            process = subprocess.Popen(
                shard.command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                errors="replace",
            )
            self.running[shard.index] = process
        self.say(f"[{shard.label}] started: samples {shard.limit}")
        assert process.stdout is not None
        for line in process.stdout:
            self.say(f"[{shard.label}] {line.rstrip()}")
        code = process.wait()
        with self.lock:
            self.running.pop(shard.index, None)
        self.say(f"[{shard.label}] {'finished' if code == 0 else f'failed (exit {code})'}")
        return code

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            for process in self.running.values():
                process.terminate()


def run_shards(shards: Sequence[Shard], jobs: int) -> list[int]:
    """Run the shards (`jobs` at a time); their exit statuses in shard order."""
    runner = _Runner()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(runner.run, shard) for shard in shards]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            runner.stop()
            raise


def _log_dir(args: Sequence[str]) -> str:
    given = _option(args, ("--log-dir",))
    return given[-1] if given else os.environ.get("INSPECT_LOG_DIR", "./logs")


def shards_command(args: argparse.Namespace) -> int:
    """Plan the shards, print their command lines, run them (unless --dry-run)."""
    rest = list(args.eval_args)
    if "--" in rest:  # options given after N come before the separator
        cut = rest.index("--")
        _options(argparse.ArgumentParser(prog="moloch-eval shards")).parse_args(
            rest[:cut], namespace=args
        )
        rest = rest[cut + 1 :]
    try:
        if args.jobs is not None and args.jobs < 1:
            raise ShardsError(f"--jobs must be at least 1, not {args.jobs}")
        shards = plan_shards(args.shards, rest, args.samples)
    except ShardsError as ex:
        print(f"moloch-eval shards: error: {ex}", file=sys.stderr)
        return 2
    total = shards[-1].last
    jobs = min(args.jobs or len(shards), len(shards))
    log_dir = _log_dir(rest)
    print(
        f"{len(shards)} shard(s) over samples 1-{total}, {jobs} at a time, into {log_dir}"
        + ("" if len(shards) == args.shards else f" (fewer samples than the {args.shards} asked)")
    )
    for shard in shards:
        print(f"  {shard.label}: {shard.shown}")
    if args.dry_run:
        print("(dry run: nothing started; run each line above, on any machine, into one folder)")
        return 0
    codes = run_shards(shards, jobs)
    failed = [s for s, code in zip(shards, codes, strict=True) if code != 0]
    if failed:
        print(f"\n{len(failed)} of {len(shards)} shard(s) failed; re-run just these:")
        for shard in failed:
            print(f"  {shard.label}: {shard.shown}")
        return 1
    print(f"\nall {len(shards)} shard(s) finished. Leaderboard:  moloch-eval leaderboard {log_dir}")
    return 0


def _options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--jobs", "-j", type=int, metavar="J", help="shards run at a time (default: all N)"
    )
    parser.add_argument(
        "--samples",
        type=int,
        metavar="S",
        help="shard the first S samples (default: every sample; worked out for moloch_eval/ "
        "tasks, required for other tasks)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the shards' command lines, run nothing"
    )
    return parser


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `shards` command."""
    parser = commands.add_parser(
        "shards",
        help="split one inspect eval over N processes by sample ranges, into one log folder",
        description="Run N `inspect eval` processes with disjoint --limit ranges covering the "
        "task's samples, into the same --log-dir (a local folder or an fsspec URL such as "
        "s3://bucket/run). Each shard's command line is printed, to run shards by hand on "
        "several machines. The leaderboard merges the shards' logs into one row. Each shard "
        "opens its own connections: --max-connections applies per shard.",
        usage="moloch-eval shards N [--jobs J] [--samples S] [--dry-run] -- "
        "<inspect eval arguments>",
    )
    parser.add_argument("shards", type=int, metavar="N", help="number of shards")
    _options(parser)
    parser.add_argument(
        "eval_args",
        nargs=argparse.REMAINDER,
        metavar="-- ARGS",
        help="the arguments of inspect eval (tasks, --model, -T, --log-dir, …), after --",
    )
    parser.set_defaults(handler=shards_command)
