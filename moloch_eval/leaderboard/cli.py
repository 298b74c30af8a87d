"""`moloch-eval leaderboard` and `moloch-eval sweep` (heavy imports inside the handlers)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from moloch_eval.domains import DOMAINS
from moloch_eval.key_values import parse_task_args

__all__ = ["DOMAIN_ORDER", "leaderboard_command", "parse_task_args", "register", "sweep_command"]

DOMAIN_ORDER = tuple(DOMAINS)


def leaderboard_command(args: argparse.Namespace) -> int:
    """Read a log folder and write the leaderboard files; print the tables.

    A folder that gives no row (no log, or only logs of the wrong kind) is refused with the
    reason of every log, and nothing is written.
    """
    from moloch_eval.leaderboard.collect import collect
    from moloch_eval.leaderboard.em import collect_em, merge_skipped
    from moloch_eval.leaderboard.report import write_report
    from moloch_eval.leaderboard.table import to_terminal
    from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES

    if "://" not in args.log_dir and not Path(args.log_dir).is_dir():
        what = "is a file" if Path(args.log_dir).exists() else "does not exist"
        print(
            f"moloch-eval leaderboard: {args.log_dir} {what}; give the folder that holds the "
            "evaluation logs (.eval), e.g. moloch-eval leaderboard logs/sweep -o leaderboard/",
            file=sys.stderr,
        )
        return 2
    resamples = args.resamples or DEFAULT_RESAMPLES
    board = collect(args.log_dir, args.base, resamples, args.seed)
    em = collect_em(args.log_dir, resamples, args.seed)
    merge_skipped(board, em)
    if not board.rows and not em.rows:
        reasons = "".join(f"\n  {s.log}: {s.reason}" for s in board.skipped)
        print(
            f"moloch-eval leaderboard: no usable log in {args.log_dir}, so nothing was written"
            + (f"; skipped:{reasons}" if reasons else " (it holds no .eval logs)")
            + "\nThe leaderboard reads finished test-split competition logs (inspect eval "
            "moloch_eval/<domain> ... or moloch-eval sweep) and EM logs (moloch_eval/em_*)"
            + (" against the --base given" if args.base else "")
            + "; point it at the folder that holds them.",
            file=sys.stderr,
        )
        return 2
    report = write_report(board, args.output, not args.no_figures, em if em.seen else None)
    print(to_terminal(report.board, report.em_sections(notes=False)))
    print("written:")
    for path in report.files:
        print(f"  {path}")
    return 0


def sweep_command(args: argparse.Namespace) -> int:
    """Plan (and unless --dry-run, run) the sweep; then say how to build the leaderboard."""
    from moloch_eval.leaderboard.sweep import SweepPlan, run_sweep
    from moloch_eval.roles import PAPER_JUDGE, PAPER_VOTER

    try:
        plan = SweepPlan(
            models=tuple(args.models),
            base=args.base,
            log_dir=args.log_dir,
            domains=tuple(args.domains),
            audience=args.audience or PAPER_VOTER,
            judge=args.judge or PAPER_JUDGE,
            limit=args.limit,
            task_args=parse_task_args(args.task_arg),
            base_opponent=args.base_opponent,
        )
    except (ValueError, argparse.ArgumentTypeError) as ex:
        print(f"moloch-eval sweep: {ex}")
        return 2
    print(plan.describe())
    if args.dry_run:
        return 0
    extra: dict[str, Any] = {"display": args.display}
    if args.retry_attempts is not None:
        extra["retry_attempts"] = args.retry_attempts
    if args.max_connections is not None:
        extra["max_connections"] = args.max_connections
    result = run_sweep(plan, **extra)
    print()
    for log in result.logs:
        meta = log.eval.metadata or {}
        print(
            f"  {log.status:9s} {meta.get('domain', '?'):13s} {log.eval.model:40s} {log.location}"
        )
    if not result.ok:
        print(
            f"\nthe sweep did not complete (stage: {result.stage}); run the same command again "
            "to retry what is missing (complete logs are reused)."
        )
        return 1
    print(
        f"\nall evals complete. Leaderboard:  moloch-eval leaderboard {args.log_dir} "
        f"--base {args.base}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `leaderboard` and `sweep` commands."""
    board = commands.add_parser(
        "leaderboard",
        help="table and figures of tuned vs base models from a log folder",
        description="Read competition logs (no model calls) and write leaderboard.md/.csv, "
        "the paper's Figures 2 and 4 as PNG and a self-contained leaderboard.html. EM logs "
        "(moloch_eval/em_*) add an EM table (em_leaderboard.csv) and em_rates.png.",
    )
    board.add_argument("log_dir", metavar="LOGDIR", help="folder of .eval logs (recursive)")
    board.add_argument(
        "--base",
        action="append",
        metavar="MODEL",
        help="only rows against this base (repeatable; default: every opponent is a base, "
        "and a model that faced several keeps the one most other models faced)",
    )
    board.add_argument(
        "-o",
        "--output",
        default="leaderboard",
        metavar="OUTDIR",
        help="folder for the files (default: ./leaderboard)",
    )
    board.add_argument(
        "--resamples",
        type=int,
        help="paired-bootstrap resamples (default 2000, as the probes' metric)",
    )
    board.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    board.add_argument("--no-figures", action="store_true", help="tables and page only")
    board.set_defaults(handler=leaderboard_command)

    sweep = commands.add_parser(
        "sweep",
        help="run all domains for several models against one base (resumable eval set)",
        description="Stage 1: the base writes its messages once per domain. Stage 2: every "
        "model competes against those messages (replayed from the base's logs). Both are "
        "inspect eval sets in LOG_DIR: run again to complete what is missing.",
    )
    sweep.add_argument(
        "--models",
        nargs="+",
        required=True,
        metavar="MODEL",
        help="evaluated models (e.g. vllm/qwen3-8b-rft moloch/qwen3-8b-tfb)",
    )
    sweep.add_argument("--base", required=True, metavar="MODEL", help="the base model")
    sweep.add_argument(
        "--log-dir",
        default=os.environ.get("INSPECT_LOG_DIR", "logs"),
        help="one local folder for every log of the sweep (default: $INSPECT_LOG_DIR or logs)",
    )
    sweep.add_argument("--domains", nargs="+", default=list(DOMAIN_ORDER), choices=DOMAIN_ORDER)
    sweep.add_argument(
        "--audience",
        metavar="MODEL",
        help="audience (voter) model role (default: the paper's gpt-4o-mini "
        "snapshot); the persona set is -T audience=SET",
    )
    sweep.add_argument(
        "--judge", metavar="MODEL", help="judge model role (default: the paper's gpt-4o snapshot)"
    )
    sweep.add_argument("--limit", type=int, help="anchors per domain (default: all test anchors)")
    sweep.add_argument(
        "-T",
        "--task-arg",
        action="append",
        metavar="KEY=VALUE",
        help="task argument for every eval (e.g. -T n_personas=20)",
    )
    sweep.add_argument(
        "--base-opponent",
        choices=["self", "role"],
        default="self",
        help="how the base gets its opponent in stage 1 (default self)",
    )
    sweep.add_argument("--max-connections", type=int, help="concurrent calls per model")
    sweep.add_argument("--retry-attempts", type=int, help="eval_set retries of failed evals")
    sweep.add_argument(
        "--display", default="full", help="Inspect display (full, rich, plain, none)"
    )
    sweep.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    sweep.set_defaults(handler=sweep_command)
