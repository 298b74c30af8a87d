"""The `-T/-M/-J key=value` pairs of the package's command lines (light at import)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def parse_task_args(items: list[str] | None) -> dict[str, Any]:
    """`-T key=value` pairs; values are read as JSON when they parse (numbers, true/false,
    lists), else kept as text."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"-T expects key=value, not {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out
