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
    """Entry point of the `moloch-eval` console script."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
