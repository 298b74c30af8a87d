"""Where a run writes: the adapter folder, refused when it would clobber finished work
(`prepare_output`), and its checkpoints, of which only complete ones are resumed
(`last_checkpoint`, `checkpoint_complete`). No heavy imports.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from moloch_eval.training.adapters import (
    CHECKPOINTS,
    MANIFEST,
    AdapterError,
    check_name,
    models_dir,
)


def is_main_process() -> bool:
    """Whether this is the main process of the run (RANK 0, or no launcher at all)."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def prepare_output(
    name: str, root: str | Path | None, resume: bool, overwrite: bool
) -> tuple[Path, Path]:
    """The adapter folder and its checkpoints folder, refusing to clobber finished work."""
    folder = models_dir(root) / check_name(name)
    checkpoints = folder / CHECKPOINTS
    if (folder / MANIFEST).exists() and not overwrite:
        raise AdapterError(
            f"An adapter named {name!r} already exists at {folder.resolve()}. Choose another "
            "--name, or pass --overwrite to replace it."
        )
    if overwrite and folder.exists() and not resume and is_main_process():
        shutil.rmtree(folder)
    elif checkpoints.is_dir() and any(checkpoints.iterdir()) and not resume:
        raise AdapterError(
            f"{folder.resolve()} holds an interrupted run's checkpoints. Pass --resume to "
            "continue it, or --overwrite to start over."
        )
    return folder, checkpoints


#: the file HF's Trainer writes last into a checkpoint, after the weights, the optimizer and
#: scheduler states and the RNG states (a checkpoint without it was cut off while written)
TRAINER_STATE = "trainer_state.json"
_CHECKPOINT_PREFIX = "checkpoint-"


def checkpoint_complete(checkpoint: Path) -> bool:
    """Whether HF's Trainer finished writing the checkpoint folder ``checkpoint-STEP``.

    Complete means its `TRAINER_STATE`, written last, parses and names that step: a run
    killed while writing a checkpoint leaves it without one, or with a cut-off one.
    """
    step = checkpoint.name.removeprefix(_CHECKPOINT_PREFIX)
    if not checkpoint.name.startswith(_CHECKPOINT_PREFIX) or not step.isdigit():
        return False
    try:
        state = json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("global_step") == int(step)


def last_checkpoint(checkpoints: Path) -> tuple[Path | None, list[Path]]:
    """The latest complete checkpoint under `checkpoints` (None if none), and the incomplete.

    transformers' own `get_last_checkpoint` takes the highest step whatever its state, so a
    run killed while writing a checkpoint could never be resumed (its cut-off trainer state
    does not parse) or, with the trainer state missing, would silently restart at step 0
    from that checkpoint's weights.
    """
    if not checkpoints.is_dir():
        return None, []
    folders = [
        path
        for path in checkpoints.iterdir()
        if path.is_dir()
        and path.name.startswith(_CHECKPOINT_PREFIX)
        and path.name.removeprefix(_CHECKPOINT_PREFIX).isdigit()
    ]
    folders.sort(key=lambda path: int(path.name.removeprefix(_CHECKPOINT_PREFIX)))
    complete = [path for path in folders if checkpoint_complete(path)]
    incomplete = [path for path in folders if path not in complete]
    return (complete[-1] if complete else None), incomplete
