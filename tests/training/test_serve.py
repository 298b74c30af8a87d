"""`moloch-eval serve`: the vLLM command line for a base and its adapters (never started)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from moloch_eval.training.adapters import AdapterError
from moloch_eval.training.cli import register
from moloch_eval.training.serve import max_lora_rank, plan_serve
from tests.training.fake_adapters import fake_adapter

BASE = "Qwen/Qwen3-8B"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    models = tmp_path / "models"
    fake_adapter(models, "qwen3-8b-rft", BASE, rank=16)
    fake_adapter(models, "qwen3-8b-tfb", BASE, rank=32, method="tfb")
    fake_adapter(models, "llama-rft", "meta-llama/Llama-3.1-8B-Instruct", rank=8)
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(models))
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    return models


def test_command_line_for_a_base_with_two_adapters(root: Path) -> None:
    plan = plan_serve(BASE, port=8123, api_key="secret")
    rft, tfb = root.resolve() / "qwen3-8b-rft", root.resolve() / "qwen3-8b-tfb"
    assert plan.command == [
        "vllm", "serve", BASE,
        "--host", "127.0.0.1", "--port", "8123", "--api-key", "secret",
        "--enable-lora", "--max-lora-rank", "32", "--max-loras", "2",
        "--lora-modules", f"qwen3-8b-rft={rft}", f"qwen3-8b-tfb={tfb}",
    ]  # fmt: skip
    assert plan.env == {"VLLM_BASE_URL": "http://127.0.0.1:8123/v1", "VLLM_API_KEY": "secret"}
    wide = plan_serve(BASE, ["qwen3-8b-rft"], host="0.0.0.0", api_key="k", extra=["--x", "1"])
    assert wide.command[-2:] == ["--x", "1"] and "--max-loras" in wide.command
    assert wide.command[wide.command.index("--max-lora-rank") + 1] == "16"
    assert wide.env["VLLM_BASE_URL"] == "http://localhost:8000/v1"
    assert plan_serve(BASE).env["VLLM_API_KEY"]  # a random key when none is given


def test_base_is_needed_when_adapters_have_several(root: Path) -> None:
    with pytest.raises(AdapterError, match=r"several base models.*--base"):
        plan_serve()
    with pytest.raises(AdapterError, match="No adapter was trained on 'other/model'"):
        plan_serve("other/model")
    shutil.rmtree(root / "llama-rft")
    assert plan_serve(api_key="k").base == BASE
    with pytest.raises(AdapterError, match="Cannot serve nope"):
        plan_serve(BASE, ["nope"])


def test_max_lora_rank_is_one_vllm_accepts() -> None:
    assert max_lora_rank([16]) == 16 and max_lora_rank([16, 20]) == 32
    assert max_lora_rank([4]) == 8 and max_lora_rank([]) == 16


def test_serve_command_prints_the_environment(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "serve",
            "--base",
            BASE,
            "--api-key",
            "k",
            "--dry-run",
            "--vllm-args",
            "--max-model-len 8192",
        ]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "vllm serve Qwen/Qwen3-8B --host 127.0.0.1 --port 8000 --api-key k" in out
    assert "--max-model-len 8192" in out
    assert "export VLLM_BASE_URL=http://127.0.0.1:8000/v1" in out
    assert "export VLLM_API_KEY=k" in out
    assert "--model vllm/qwen3-8b-rft" in out
    args = parser.parse_args(["serve", "--base", BASE, "--api-key", "k"])
    if shutil.which("vllm") is None:  # never started here: a clear error instead
        assert args.handler(args) == 2
        assert "vllm command is not installed" in capsys.readouterr().err
