"""A row's method and lineage from the model's name: the project's adapter manifest
(`$MOLOCH_EVAL_MODELS_DIR/<name>/manifest.json`, default `models/`) when the model's last name
part is such an adapter, else an `rft`/`tfb` part of the name; and when two names are one model.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moloch_eval.training.adapters import MANIFEST, MODELS_DIR_ENV, lineage_text, models_dir

__all__ = [
    "MODELS_DIR_ENV",
    "adapter_manifest",
    "manifest_lineage",
    "manifest_method",
    "method_of",
    "same_model",
]
_METHOD = re.compile(r"(?:^|[-_./:])(rft|tfb)(?=$|[-_./:])", re.IGNORECASE)


def adapter_manifest(model: str) -> dict[str, Any] | None:
    """The manifest of the project's adapter named like the model, if any.

    Adapters live in `$MOLOCH_EVAL_MODELS_DIR/<NAME>/manifest.json` (default `models/`); the
    adapter name is the last part of the model name (e.g. `moloch/qwen3-8b-sales` → NAME
    `qwen3-8b-sales`).
    """
    path = models_dir() / model.rsplit("/", 1)[-1] / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def manifest_method(model: str) -> str | None:
    """The method in the manifest of the project's adapter named like the model, if any."""
    method = (adapter_manifest(model) or {}).get("method")
    return str(method).upper() if method else None


def manifest_lineage(model: str) -> str:
    """The lineage of the model's adapter manifest in one line (`lineage_text`); "" without."""
    return lineage_text(adapter_manifest(model) or {})


def method_of(model: str, base: str | None) -> str:
    """The method of a row: "base" for the base itself, else the adapter manifest's method,
    else "RFT"/"TFB" from an `rft`/`tfb` part of the model name, else "—"."""
    if base is not None and same_model(model, base):
        return "base"
    from_manifest = manifest_method(model)
    if from_manifest:
        return from_manifest
    found = _METHOD.findall(model)
    return found[-1].upper() if found else "—"


def same_model(a: str, b: str) -> bool:
    """Equal names, or equal once a provider prefix is dropped from one of them."""
    return a == b or a.split("/", 1)[-1] == b or b.split("/", 1)[-1] == a
