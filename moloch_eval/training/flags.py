"""The training flags that pipelines (`realign`, `race`) pass on to `train` (light at import)."""

from __future__ import annotations

import argparse
from typing import Any

#: flag dest -> TrainOptions field; unset flags keep the preset's value
PIPELINE_TRAIN_FLAGS = {
    "max_steps": "max_steps",
    "epochs": "epochs",
    "lr": "learning_rate",
    "batch_size": "batch_size",
    "per_device_batch_size": "per_device_batch_size",
    "max_length": "max_length",
}


def add_pipeline_train_flags(group: argparse._ArgumentGroup) -> None:
    """`--max-steps --epochs --lr --batch-size --per-device-batch-size --max-length`."""
    group.add_argument("--max-steps", type=int)
    group.add_argument("--epochs", type=float)
    group.add_argument("--lr", type=float)
    group.add_argument("--batch-size", type=int)
    group.add_argument("--per-device-batch-size", type=int)
    group.add_argument("--max-length", type=int)


def train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainOptions fields the command line sets (flags given only)."""
    return {
        field: getattr(args, dest)
        for dest, field in PIPELINE_TRAIN_FLAGS.items()
        if getattr(args, dest) is not None
    }
