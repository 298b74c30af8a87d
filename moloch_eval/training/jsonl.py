"""Training-set files: JSON lines read (`read_jsonl`) and written atomically (`write_jsonl`),
and the build summary beside them (``FILE.summary.json``). No heavy imports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any


def summary_path(data_file: str | Path) -> Path:
    """The sidecar file with the build summary of a dataset (``FILE.summary.json``)."""
    path = Path(data_file)
    return path.with_name(path.name + ".summary.json")


def write_jsonl(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write records as JSON lines (atomically)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return out


def read_jsonl(
    path: str | Path, not_json: Callable[[int, ValueError], Exception]
) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every non-blank line of a JSON-lines file; a line that is not
    JSON raises ``not_json(line number, error)``."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as ex:
                raise not_json(number, ex) from ex
            yield number, value
