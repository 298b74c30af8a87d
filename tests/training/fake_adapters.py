"""Adapter folders with valid files but tiny fake weights (for serve and provider routing)."""

from __future__ import annotations

import json
from pathlib import Path

from moloch_eval.training.adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, MANIFEST


def fake_adapter(
    root: Path, name: str, base: str, rank: int = 16, method: str = "rft", domain: str = "sales"
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ADAPTER_CONFIG).write_text(
        json.dumps({"r": rank, "lora_alpha": 2 * rank, "base_model_name_or_path": base})
    )
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (folder / ADAPTER_WEIGHTS).write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    manifest = {
        "format": 1,
        "name": name,
        "base_model": base,
        "method": method,
        "domain": domain,
        "created": "2026-01-01T00:00:00+00:00",
        "lora": {"r": rank},
        "training": {"final_loss": 1.0},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder
