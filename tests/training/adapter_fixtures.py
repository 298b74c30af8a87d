"""One small LoRA adapter on the tiny model, trained once per test session and shared."""

from __future__ import annotations

import json
from pathlib import Path

from moloch_eval.local import tiny_model_path
from moloch_eval.training.adapters import MANIFEST
from moloch_eval.training.sft import TrainOptions, TrainResult, train_adapter

ADAPTER = "tiny-rft-test"


def short_records(n: int = 16) -> list[dict[str, object]]:
    """Chat prompt-completion records with the answer format (repeated data)."""
    return [
        {
            "prompt": [
                {"role": "system", "content": "You are a helpful assistant."},
                {
                    "role": "user",
                    "content": f"# Instructions\nWrite a pitch for product {i % 4}.\n",
                },
            ],
            "completion": [
                {
                    "role": "assistant",
                    "content": f"<think>plan {i % 4}</think><sales_pitch>Buy product {i % 4} "
                    "now, it is good.</sales_pitch>",
                }
            ],
            "meta": {"kind": "rft", "method": "rft", "domain": "sales"},
        }
        for i in range(n)
    ]


def write_records(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


#: a few steps at a learning rate that moves the tiny model visibly
FAST = TrainOptions(
    max_steps=8,
    batch_size=4,
    per_device_batch_size=4,
    learning_rate=3e-3,
    gradient_checkpointing=False,
    save_steps=4,
)


def shared_adapter(root: Path) -> tuple[Path, TrainResult | None]:
    """Train ADAPTER under `root` unless it is there; the models root and the run (if new)."""
    if (root / ADAPTER / MANIFEST).is_file():
        return root, None
    root.mkdir(parents=True, exist_ok=True)
    data = write_records(root.parent / f"{ADAPTER}.jsonl", short_records())
    result = train_adapter(
        str(tiny_model_path()), data, ADAPTER, FAST, root=root, echo=lambda line: None
    )
    return root, result
