"""An adapter's lineage: the steps from the root model to it (`lineage_step`), recorded in
every manifest, and what a merged model folder was merged from (`MERGE_RECORD`). No heavy
imports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moloch_eval.training.adapters import Adapter, AdapterError

#: the file `merge_adapter` writes into a merged model's folder
MERGE_RECORD = "moloch_merge.json"

#: the kinds of lineage step: the root model, a new LoRA adapter, an adapter trained further,
#: an adapter merged into its base (a model folder to train from)
LINEAGE_KINDS = ("base", "lora", "continued", "merged")


def lineage_step(
    kind: str,
    name: str,
    *,
    method: str | None = None,
    data: str | None = None,
    data_sha256: str | None = None,
    adapter_sha256: str | None = None,
) -> dict[str, Any]:
    """One step of a lineage; every step has the same keys (None where they do not apply)."""
    if kind not in LINEAGE_KINDS:
        raise ValueError(f"lineage kind must be one of {LINEAGE_KINDS}, not {kind!r}")
    return {
        "kind": kind,
        "name": name,
        "method": method,
        "data": data,
        "data_sha256": data_sha256,
        "adapter_sha256": adapter_sha256,
    }


def merge_record(base: str) -> dict[str, Any] | None:
    """What a merged model folder was merged from (its `MERGE_RECORD`), or None."""
    record = Path(base) / MERGE_RECORD
    if not record.is_file():
        return None
    try:
        merged = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError) as ex:
        raise AdapterError(
            f"{record} cannot be read ({ex}); merge the adapter again with moloch-eval merge "
            f"NAME -o NEW_DIR, or delete {record} to train on {base} as a plain base model"
        ) from ex
    return merged if isinstance(merged, dict) else None


def root_lineage(base: str) -> list[dict[str, Any]]:
    """The lineage of a base model: itself, or the lineage of the merge that produced it."""
    merged = merge_record(base)
    if merged is not None and isinstance(merged.get("lineage"), list) and merged["lineage"]:
        return list(merged["lineage"])
    return [lineage_step("base", base)]


def lineage_of(adapter: Adapter) -> list[dict[str, Any]]:
    """An adapter's lineage (rebuilt for manifests written before lineage was recorded)."""
    recorded = adapter.manifest.get("lineage")
    if isinstance(recorded, list) and recorded:
        return list(recorded)
    data = adapter.manifest.get("data") or {}
    return [
        *root_lineage(adapter.base_model),
        lineage_step(
            "lora",
            adapter.name,
            method=adapter.method,
            data=data.get("file"),
            data_sha256=data.get("sha256"),
            adapter_sha256=adapter.manifest.get("adapter_sha256"),
        ),
    ]
