"""The training commands inside the `moloch-eval` command line (as registered by cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import moloch_eval.cli as cli
from moloch_eval.training.cli import train_options
from tests.training.fake_adapters import fake_adapter


def test_commands_are_registered() -> None:
    assert "moloch_eval.training.cli" in cli.COMMAND_MODULES
    parser = cli.build_parser()
    for argv in (
        ["build-dataset", "--method", "tfb", "x.eval", "-o", "d.jsonl", "--clean"],
        ["train", "--base", "b", "--data", "d.jsonl", "--name", "n", "--resume"],
        ["adapters"],
        ["serve", "--dry-run"],
        ["demo"],
    ):
        assert callable(parser.parse_args(argv).handler)
    train = train_options(parser.parse_args(["train", "--base", "b", "--data", "d", "--name", "n"]))
    assert train.preset == "clean"
    assert (train.learning_rate, train.rank, train.alpha, train.dropout) == (2e-4, 16, 32, 0.05)
    assert (train.batch_size, train.epochs, train.warmup_ratio, train.min_lr_rate) == (
        16,
        1.0,
        0.03,
        0.1,
    )
    assert train.target_modules == (
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    )  # fmt: skip
    assert train.gradient_checkpointing and (train.max_length, train.seed) == (4096, 0)
    assert not parser.parse_args(
        ["train", "--base", "b", "--data", "d", "--name", "n"]
    ).trust_remote_code


def test_train_preset_flag_and_explicit_overrides() -> None:
    parser = cli.build_parser()
    base = ["train", "--base", "b", "--data", "d", "--name", "n"]
    paper = train_options(parser.parse_args([*base, "--preset", "paper"]))
    assert (paper.max_length, paper.seed, paper.attn_implementation) == (1024, 42, "eager")
    assert (paper.batch_size, paper.per_device_batch_size) == (16, 16)
    assert not paper.drop_truncated and paper.overrides() == {}
    argv = [*base, "--preset", "paper", "--max-length", "2048", "--no-gradient-checkpointing"]
    argv += ["--per-device-batch-size", "4", "--seed", "7", "--drop-truncated"]
    changed = train_options(parser.parse_args(argv))
    assert changed.overrides() == {
        "max_length": 2048,
        "gradient_checkpointing": False,
        "per_device_batch_size": 4,
        "seed": 7,
        "drop_truncated": True,
    }
    assert changed.attn_implementation == "eager" and changed.learning_rate == 2e-4
    clean = train_options(parser.parse_args([*base, "--attn-implementation", "sdpa"]))
    assert clean.overrides() == {"attn_implementation": "sdpa"}
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--preset", "fast"])
    tfb = parser.parse_args(
        ["build-dataset", "--method", "tfb", "x", "-o", "d", "--tfb-thoughts", "kept"]
    )
    assert tfb.tfb_thoughts == "kept"
    assert (
        parser.parse_args(["build-dataset", "--method", "tfb", "x", "-o", "d"]).tfb_thoughts is None
    )


def test_adapters_lists_and_flags_broken_folders(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = tmp_path / "models"
    fake_adapter(models, "good", "Qwen/Qwen3-8B", method="tfb", domain="elections")
    (fake_adapter(models, "broken", "Qwen/Qwen3-8B") / "adapter_model.safetensors").unlink()
    (models / "interrupted" / "checkpoints").mkdir(parents=True)
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(models))
    assert cli.main(["adapters"]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "tfb" in out and "elections" in out and "Qwen/Qwen3-8B" in out
    assert "! broken: incomplete: missing adapter_model.safetensors" in out
    assert "! interrupted: interrupted training run" in out
    assert cli.main(["adapters", "--json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert (
        listed["good"]["manifest"]["method"] == "tfb" and listed["interrupted"]["manifest"] is None
    )


def test_train_errors_are_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.jsonl"
    code = cli.main(["train", "--base", "b", "--data", str(missing), "--name", "x"])
    assert code == 2 and "does not exist" in capsys.readouterr().err
    code = cli.main(["train", "--base", "b", "--data", str(missing), "--name", "bad/name"])
    assert code == 2
