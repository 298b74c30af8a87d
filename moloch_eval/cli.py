"""The `moloch-eval` command line. Each command lives in its own module with `register()`.

Command modules must stay light at import time (heavy imports inside their handlers).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: modules that add commands; each exposes `register(subparsers)` and sets `handler`
COMMAND_MODULES = (
    "moloch_eval.demo",
    "moloch_eval.training.cli",
    "moloch_eval.leaderboard.cli",
    "moloch_eval.verify_prompts",
    "moloch_eval.em.cli",
    "moloch_eval.race.cli",
    "moloch_eval.shards",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="moloch-eval",
        description="Moloch's Bargain as an Inspect benchmark: competitions, training, reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `moloch-eval` console script.

    An error that says what to do (Inspect's `PrerequisiteError`: bad task arguments, missing
    data, unusable adapters) is printed without a traceback, exit status 2.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except Exception as ex:
        from inspect_ai._util.error import PrerequisiteError  # imported only on failure

        if not isinstance(ex, PrerequisiteError):
            raise
        print(f"moloch-eval {args.command}: error: {ex.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
