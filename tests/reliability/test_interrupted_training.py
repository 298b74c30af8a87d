"""`moloch-eval train` killed (SIGKILL) after a checkpoint resumes to the same adapter.

Every run is a subprocess of the real command line (``python -m moloch_eval.cli train``, i.e.
``moloch-eval train``) on the embedded tiny model: 8 LoRA steps over 16 records in batches of
4 (two epochs), a checkpoint every 2 steps. An uninterrupted run gives the reference adapter.
The interrupted run is killed twice:

1. right after checkpoint-2 is complete (trainer_state.json, which HF's Trainer writes last,
   after the adapter, the optimizer, the scheduler and the RNG states, parses and names
   step 2): re-running without ``--resume`` is refused with a message naming it;
2. resumed with ``--resume``, it is killed *while writing* checkpoint-6 (half of its
   trainer_state.json written, everything else there), as a kill at a bad moment would;

and ``--resume`` once more must skip the half-written checkpoint, continue from checkpoint-4
(the first resume starts mid-epoch, the second at an epoch boundary) and end with the reference
adapter's weights (within `ATOL`), a complete manifest and no checkpoints left (the package
removes them once the adapter is written).

The tiny model trains a step in a few tens of milliseconds, far faster than a folder can be
polled, so the two runs that are killed go through `DRIVER`, the same entry point with one
hook: the process *pauses itself* (SIGSTOP) at the chosen moment; the test sees it stopped,
checks the checkpoint in the folder, and SIGKILLs it. There is no race and no fixed sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from moloch_eval.local import tiny_model_path
from moloch_eval.training.adapters import (
    ADAPTER_WEIGHTS,
    CHECKPOINTS,
    MANIFEST,
    resolve_adapter,
    verify_adapter,
)
from moloch_eval.training.sft import checkpoint_complete, last_checkpoint
from tests.training.adapter_fixtures import short_records, write_records

pytestmark = pytest.mark.reliability

STEPS, SAVE_EVERY = 8, 2
#: the largest difference allowed between a resumed adapter's weights and the reference's
ATOL = 1e-6

#: the command line's entry point, with an optional pause (SIGSTOP to itself) after the
#: checkpoint of step $PAUSE_AFTER or in the middle of writing that of step $PAUSE_WRITING
DRIVER = r"""
import dataclasses, json, os, signal, sys
from transformers import Trainer, TrainerState

after = int(os.environ.get("PAUSE_AFTER", "0"))
writing = int(os.environ.get("PAUSE_WRITING", "0"))
save_checkpoint = Trainer._save_checkpoint
save_state = TrainerState.save_to_json

def paused_checkpoint(self, *args, **kwargs):
    save_checkpoint(self, *args, **kwargs)
    if self.state.global_step == after:
        os.kill(os.getpid(), signal.SIGSTOP)

def paused_state(self, json_path):
    if self.global_step == writing and "checkpoint-" in json_path:
        text = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)
        with open(json_path, "w", encoding="utf-8") as handle:
            handle.write(text[: len(text) // 2])
        os.kill(os.getpid(), signal.SIGSTOP)
    save_state(self, json_path)

Trainer._save_checkpoint = paused_checkpoint
TrainerState.save_to_json = paused_state
from moloch_eval.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("interrupted_training")
    data = write_records(folder / "data.jsonl", short_records(16))
    return {"tiny": str(tiny_model_path()), "data": data, "models": folder / "models"}


def _argv(setup: dict[str, Any], name: str, *extra: str) -> list[str]:
    return [
        "train",
        "--base",
        setup["tiny"],
        "--data",
        str(setup["data"]),
        "--name",
        name,
        "--max-steps",
        str(STEPS),
        "--save-steps",
        str(SAVE_EVERY),
        "--batch-size",
        "4",
        "--per-device-batch-size",
        "4",
        "--lr",
        "1e-3",
        "--no-gradient-checkpointing",
        *extra,
    ]


def _env(setup: dict[str, Any], **pause: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAUSE_")}
    env["MOLOCH_EVAL_MODELS_DIR"] = str(setup["models"])
    env.update({f"PAUSE_{k.upper()}": str(v) for k, v in pause.items()})
    return env


def _train(setup: dict[str, Any], argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The command line as users run it (`moloch-eval ARGV`), to its end."""
    return subprocess.run(
        [sys.executable, "-m", "moloch_eval.cli", *argv],
        env=_env(setup),
        capture_output=True,
        text=True,
        timeout=300,
    )


def complete(checkpoint: Path) -> bool:
    """Whether HF's Trainer finished writing `checkpoint`: everything it writes is there and
    trainer_state.json, written last, parses and names the checkpoint's step."""
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    written = (ADAPTER_WEIGHTS, "optimizer.pt", "scheduler.pt", "rng_state.pth")
    step = int(checkpoint.name.rsplit("-", 1)[1])
    return state.get("global_step") == step and all((checkpoint / f).is_file() for f in written)


def _train_until_paused(
    setup: dict[str, Any], argv: list[str], wait_for: Path, **pause: int
) -> str:
    """Run the command until it pauses itself with `wait_for` on disk; SIGKILL it there."""
    log = setup["models"].parent / f"run-{time.monotonic_ns()}.txt"
    with log.open("w") as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", DRIVER, *argv],
            env=_env(setup, **pause),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 240
        while True:
            pid, status = os.waitpid(child.pid, os.WNOHANG | os.WUNTRACED)
            if pid and os.WIFSTOPPED(status):
                break
            if pid:  # it ended instead of pausing
                pytest.fail(f"training ended before it was killed:\n{log.read_text()}")
            assert time.monotonic() < deadline, f"training never paused:\n{log.read_text()}"
            time.sleep(0.05)
        assert wait_for.is_dir()
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    return log.read_text()


def _weights(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / ADAPTER_WEIGHTS))


@pytest.fixture(scope="module")
def reference(setup: dict[str, Any]) -> dict[str, Any]:
    """The adapter of an uninterrupted run."""
    done = _train(setup, _argv(setup, "reference"))
    assert done.returncode == 0, done.stdout + done.stderr
    adapter = resolve_adapter("reference", setup["models"])
    return {"weights": _weights(adapter.path), "manifest": adapter.manifest}


def test_killed_training_resumes_to_the_uninterrupted_adapter(
    setup: dict[str, Any], reference: dict[str, Any]
) -> None:
    import torch

    name = "resumed"
    folder = setup["models"] / name
    checkpoints = folder / CHECKPOINTS

    # 1. killed right after checkpoint-2 is complete
    _train_until_paused(setup, _argv(setup, name), checkpoints / "checkpoint-2", after=2)
    assert complete(checkpoints / "checkpoint-2")
    assert checkpoint_complete(checkpoints / "checkpoint-2")  # the package agrees
    assert [p.name for p in checkpoints.glob("checkpoint-*")] == ["checkpoint-2"]
    assert not (folder / MANIFEST).exists()

    # the same command without --resume refuses and says what to do; nothing is touched
    refused = _train(setup, _argv(setup, name))
    assert refused.returncode == 2
    assert "interrupted run's checkpoints" in refused.stderr and "--resume" in refused.stderr
    assert complete(checkpoints / "checkpoint-2") and not (folder / MANIFEST).exists()

    # 2. resumed, then killed in the middle of writing checkpoint-6
    out = _train_until_paused(
        setup, _argv(setup, name, "--resume"), checkpoints / "checkpoint-6", writing=6
    )
    assert f"resuming from {checkpoints / 'checkpoint-2'}" in out
    assert complete(checkpoints / "checkpoint-4")
    assert not complete(checkpoints / "checkpoint-6")  # half a trainer_state.json
    assert not checkpoint_complete(checkpoints / "checkpoint-6")
    assert last_checkpoint(checkpoints) == (
        checkpoints / "checkpoint-4",
        [checkpoints / "checkpoint-6"],
    )
    assert (checkpoints / "checkpoint-6" / "optimizer.pt").is_file()

    # 3. resumed again: the half-written checkpoint is skipped, checkpoint-4 continued
    done = _train(setup, _argv(setup, name, "--resume"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"removing {checkpoints / 'checkpoint-6'}" in done.stdout  # said, not resumed from
    assert f"resuming from {checkpoints / 'checkpoint-4'}" in done.stdout

    adapter = resolve_adapter(name, setup["models"])
    verify_adapter(adapter)  # the weights match the manifest's SHA-256
    manifest = adapter.manifest
    for key in ("base_model", "method", "domain", "preset", "data", "lora", "hyperparameters"):
        assert manifest[key] == reference["manifest"][key], key
    assert [step["kind"] for step in manifest["lineage"]] == ["base", "lora"]
    training = manifest["training"]
    assert training["steps"] == STEPS and training["resumed_from"].endswith("checkpoint-4")
    assert [step for step, _ in training["loss_curve"]] == list(range(1, STEPS + 1))
    expected = [loss for _, loss in reference["manifest"]["training"]["loss_curve"]]
    assert [loss for _, loss in training["loss_curve"]] == pytest.approx(expected, abs=1e-5)
    assert not checkpoints.exists()  # removed once the adapter is written

    weights, want = _weights(adapter.path), reference["weights"]
    assert weights.keys() == want.keys()
    worst = max(float((weights[k] - want[k]).abs().max()) for k in want)
    print(f"max abs weight difference after two kills and resumes: {worst:.3g}")
    assert all(torch.allclose(weights[k], want[k], rtol=0, atol=ATOL) for k in want), worst


def test_only_complete_checkpoints_are_resumed_from(tmp_path: Path) -> None:
    """The package's rule (no training): the latest checkpoint whose trainer state parses and
    names its step; cut-off or missing states, and stray folders, are not resumed from."""
    assert last_checkpoint(tmp_path / "none") == (None, [])

    def checkpoint(step: int, state: str | None) -> Path:
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / ADAPTER_WEIGHTS).write_bytes(b"weights")
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
        return folder

    two = checkpoint(2, json.dumps({"global_step": 2}))
    assert last_checkpoint(tmp_path) == (two, [])
    ten = checkpoint(10, json.dumps({"global_step": 10}))  # numeric order, not by name
    cut = checkpoint(12, json.dumps({"global_step": 12})[:9])
    missing = checkpoint(14, None)
    wrong = checkpoint(16, json.dumps({"global_step": 15}))
    (tmp_path / "checkpoint-x").mkdir()
    (tmp_path / "README.md").write_text("model card")
    assert checkpoint_complete(ten) and not checkpoint_complete(cut)
    assert last_checkpoint(tmp_path) == (ten, [cut, missing, wrong])
