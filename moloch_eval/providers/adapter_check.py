"""The adapter check both backends of ``moloch/NAME`` run first (no torch, no vllm).

Resolves the name (models dir, ``models_dir=``, or a path), checks the base (``base=``) and
verifies the weights against the manifest, popping those two model args on the way.
"""

from __future__ import annotations

from typing import Any

from moloch_eval.training.adapters import Adapter, check_base, resolve_adapter, verify_adapter


def checked_adapter(model_name: str, model_args: dict[str, Any]) -> Adapter:
    """Resolve and verify the adapter; pops this provider's own model args."""
    adapter = resolve_adapter(model_name, model_args.pop("models_dir", None))
    check_base(adapter, model_args.pop("base", None))
    verify_adapter(adapter)
    return adapter
