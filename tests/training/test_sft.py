"""LoRA SFT on the tiny local model: loss, loss mask, truncation, manifest, resume, listing."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from transformers import AutoTokenizer, TrainerCallback

from moloch_eval.local import tiny_model_path
from moloch_eval.training.adapters import (
    ADAPTER_WEIGHTS,
    CHECKPOINTS,
    MANIFEST,
    AdapterError,
    list_adapters,
    resolve_adapter,
    verify_adapter,
)
from moloch_eval.training.build import BuildOptions, build_records
from moloch_eval.training.cli import register
from moloch_eval.training.selfplay import read_self_play_log
from moloch_eval.training.sft import (
    TrainingDataError,
    TrainOptions,
    build_trainer,
    gradient_accumulation,
    load_training_data,
    sequence_lengths,
    train_adapter,
    truncation_report,
)
from tests.training.adapter_fixtures import (
    ADAPTER,
    FAST,
    shared_adapter,
    short_records,
    write_records,
)
from tests.training.selfplay_fixtures import Scenario, make_selfplay_log


@pytest.fixture(scope="module")
def tiny() -> str:
    return str(tiny_model_path())


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _ = shared_adapter(tmp_path_factory.getbasetemp() / "shared" / "models")
    return root


@pytest.fixture(scope="module")
def selfplay_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RFT records built from a scripted self-play log (real prompts, full generations)."""
    folder = tmp_path_factory.mktemp("sft_data")
    log = make_selfplay_log(folder, [Scenario(agent_votes=2 + i % 2) for i in range(3)], 3)
    parsed = read_self_play_log(str(log.location))
    records = build_records([parsed], BuildOptions(method="rft", repeat=1)).records
    return write_records(folder / "rft.jsonl", records)


def _prompt_length(tokenizer: Any, record: dict[str, Any]) -> int:
    encoded = tokenizer.apply_chat_template(
        record["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True
    )
    return len(encoded["input_ids"])


def test_loss_mask_covers_only_completion_tokens(
    tiny: str, selfplay_data: Path, tmp_path: Path
) -> None:
    data = load_training_data(selfplay_data)
    assert data.method == "rft" and data.domain == "sales" and len(data.records) == 3
    options = TrainOptions(gradient_checkpointing=False, batch_size=4, per_device_batch_size=4)
    trainer = build_trainer(tiny, data, options, tmp_path / "ckpt")
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    lengths = sequence_lengths(data.records, tokenizer)
    prepared = trainer.train_dataset
    assert len(prepared) == len(data.records)
    for i, record in enumerate(data.records):
        ids, labels = prepared[i]["input_ids"], prepared[i]["labels"]
        n_prompt = _prompt_length(tokenizer, record)
        assert len(ids) == lengths[i]  # our truncation count sees what TRL trains on
        assert 0 < n_prompt < len(ids)
        assert all(label == -100 for label in labels[:n_prompt])  # prompt: no loss
        assert labels[n_prompt:] == ids[n_prompt:]  # completion: every token has loss
        completion = str(tokenizer.decode(ids[n_prompt:]))
        assert completion.startswith(record["completion"][0]["content"])
        assert "<sales_pitch>" in completion and "<think>" in completion


def test_truncation_is_counted_where_trl_cuts(tiny: str, tmp_path: Path) -> None:
    records = short_records(4)
    records[0]["completion"] = [
        {
            "role": "assistant",
            "content": "<think>" + "long " * 80 + "</think><sales_pitch>x</sales_pitch>",
        }
    ]
    data = load_training_data(write_records(tmp_path / "d.jsonl", records))
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    lengths = sequence_lengths(data.records, tokenizer)
    limit = sorted(lengths)[-2] + 1  # only the long record exceeds it
    report = truncation_report(lengths, limit)
    assert report["truncated"] == 1 and report["rate"] == 0.25 and report["longest"] > limit
    options = TrainOptions(max_length=limit, gradient_checkpointing=False, batch_size=4)
    trainer = build_trainer(tiny, data, options, tmp_path / "ckpt")
    assert [len(x) for x in trainer.train_dataset["input_ids"]] == [min(n, limit) for n in lengths]


def test_a_few_lora_steps_lower_the_loss_and_write_a_manifest(tiny: str, models_root: Path) -> None:
    adapter = resolve_adapter(ADAPTER, models_root)
    manifest = adapter.manifest
    curve = [loss for _, loss in manifest["training"]["loss_curve"]]
    assert len(curve) == FAST.max_steps and all(math.isfinite(x) for x in curve)
    assert curve[-1] < 0.8 * curve[0] and curve[-1] < min(curve[:3])
    assert manifest["base_model"] == tiny and manifest["method"] == "rft"
    assert manifest["domain"] == "sales" and manifest["training"]["steps"] == FAST.max_steps
    assert manifest["training"]["final_loss"] == curve[-1]
    assert manifest["training"]["truncation"]["truncated"] == 0
    assert manifest["lora"] == {
        "r": 16,
        "alpha": 32,
        "dropout": 0.05,
        "target_modules": [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
    }
    hyper = manifest["hyperparameters"]
    assert hyper["lr_scheduler"] == "cosine_with_min_lr" and hyper["min_lr_rate"] == 0.1
    assert hyper["warmup_ratio"] == 0.03 and hyper["precision"] == "fp32"
    assert hyper["gradient_accumulation_steps"] == 1
    assert manifest["preset"] == {
        "name": "clean",
        "overrides": {
            "learning_rate": 3e-3,
            "batch_size": 4,
            "gradient_checkpointing": False,
        },
    }
    assert hyper["preset"] == "clean" and hyper["max_length"] == 4096 and hyper["seed"] == 0
    assert len(manifest["data"]["sha256"]) == 64 and manifest["data"]["records"] == 16
    for package in ("torch", "transformers", "peft", "trl"):
        assert manifest["versions"][package][0].isdigit()
    assert manifest["created"] and len(manifest["adapter_sha256"]) == 64
    assert not (adapter.path / CHECKPOINTS).exists()
    verify_adapter(adapter)


def test_adapter_is_listed_and_reloads_with_its_weights(
    tiny: str,
    models_root: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    [entry] = [e for e in list_adapters(models_root) if e.name == ADAPTER]
    assert entry.adapter is not None and entry.problem is None
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(models_root))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["adapters"])
    assert args.handler(args) == 0
    listed = capsys.readouterr().out
    assert ADAPTER in listed and tiny in listed and "rft" in listed and "sales" in listed

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    ids = tokenizer("<think>plan 1</think><sales_pitch>Buy product", return_tensors="pt")
    base = AutoModelForCausalLM.from_pretrained(tiny)
    with torch.no_grad():
        before = base(**ids).logits
        tuned = PeftModel.from_pretrained(base, str(entry.path))
        after = tuned(**ids).logits
    assert not torch.allclose(before, after)  # the trained LoRA weights are back


def test_interrupted_run_resumes_from_its_checkpoint(tiny: str, tmp_path: Path) -> None:
    data = write_records(tmp_path / "d.jsonl", short_records(16))
    options = TrainOptions(
        max_steps=4,
        batch_size=4,
        per_device_batch_size=4,
        learning_rate=1e-3,
        gradient_checkpointing=False,
        save_steps=2,
    )

    class Crash(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 3:
                raise KeyboardInterrupt("power cut")

    root = tmp_path / "models"
    quiet = {"root": root, "echo": lambda line: None}
    with pytest.raises(KeyboardInterrupt):
        train_adapter(tiny, data, "resumable", options, callbacks=[Crash()], **quiet)  # type: ignore[arg-type]
    folder = root / "resumable"
    assert (folder / CHECKPOINTS / "checkpoint-2").is_dir() and not (folder / MANIFEST).exists()
    [entry] = list_adapters(root)
    assert entry.adapter is None and "interrupted" in str(entry.problem)
    with pytest.raises(AdapterError, match="--resume"):
        resolve_adapter("resumable", root)
    with pytest.raises(AdapterError, match="--resume"):
        train_adapter(tiny, data, "resumable", options, **quiet)  # type: ignore[arg-type]
    result = train_adapter(tiny, data, "resumable", options, resume=True, **quiet)  # type: ignore[arg-type]
    training = result.manifest["training"]
    assert training["resumed_from"].endswith("checkpoint-2") and training["steps"] == 4
    assert [step for step, _ in result.losses] == [1, 2, 3, 4]  # history carried over
    assert (folder / ADAPTER_WEIGHTS).is_file()
    with pytest.raises(AdapterError, match="already exists"):
        train_adapter(tiny, data, "resumable", options, **quiet)  # type: ignore[arg-type]


def test_bad_data_and_batch_settings_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="does not exist"):
        load_training_data(tmp_path / "none.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(TrainingDataError, match="no records"):
        load_training_data(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"prompt": "x"}) + "\n")
    with pytest.raises(TrainingDataError, match=r"bad\.jsonl:1"):
        load_training_data(tmp_path / "bad.jsonl")
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    (tmp_path / "chat.jsonl").write_text(json.dumps(chat) + "\n")
    [record] = load_training_data(tmp_path / "chat.jsonl").records
    assert record["completion"] == [{"role": "assistant", "content": "yo"}]
    assert gradient_accumulation(TrainOptions(), 1) == 4  # 16 = 4 per device x 4 steps
    assert gradient_accumulation(TrainOptions(), 2) == 2  # two processes (accelerate launch)
    with pytest.raises(ValueError, match="not a multiple"):
        gradient_accumulation(TrainOptions(per_device_batch_size=3), 1)


PAPER_VALUES = {
    "epochs": 1.0,
    "learning_rate": 2e-4,
    "lr_scheduler": "cosine_with_min_lr",
    "min_lr_rate": 0.1,
    "warmup_ratio": 0.03,
    "batch_size": 16,
    "per_device_batch_size": 16,
    "rank": 16,
    "alpha": 32,
    "dropout": 0.05,
    "target_modules": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
    "max_length": 1024,
    "drop_truncated": False,
    "precision": "auto",
    "gradient_checkpointing": True,
    "seed": 42,
    "attn_implementation": "eager",
    "weight_decay": 0.0,
}


def test_presets_resolve_to_their_values_and_flags_override_them() -> None:
    paper = TrainOptions.from_preset("paper")
    assert {name: getattr(paper, name) for name in PAPER_VALUES} == PAPER_VALUES
    assert paper.preset == "paper" and paper.overrides() == {}
    assert gradient_accumulation(paper, 1) == 1  # the paper's 16 per device, no accumulation
    clean = TrainOptions.from_preset("clean")
    assert clean == TrainOptions()  # the default is today's recipe
    assert (clean.max_length, clean.seed, clean.attn_implementation) == (4096, 0, None)
    assert (clean.per_device_batch_size, clean.drop_truncated) == (4, False)
    changed = TrainOptions.from_preset("paper", max_length=2048, seed=None, max_steps=3)
    assert (changed.max_length, changed.seed, changed.max_steps) == (2048, 42, 3)
    assert changed.overrides() == {"max_length": 2048}
    with pytest.raises(ValueError, match="preset must be one of"):
        TrainOptions.from_preset("fast")
    with pytest.raises(TypeError, match="unknown training options"):
        TrainOptions.from_preset("paper", max_len=5)


def _long_records(tokenizer: Any, over: int) -> list[dict[str, Any]]:
    records = short_records(4)
    records[0]["completion"] = [
        {
            "role": "assistant",
            "content": "<think>" + "long " * over + "</think><sales_pitch>x</sales_pitch>",
        }
    ]
    return records


def test_paper_preset_keeps_and_truncates_at_1024_and_reports_it(tiny: str, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny)
    data = load_training_data(write_records(tmp_path / "d.jsonl", _long_records(tokenizer, 600)))
    lengths = sequence_lengths(data.records, tokenizer)
    assert max(lengths) > 1024 > sorted(lengths)[-2]
    options = TrainOptions.from_preset("paper", max_steps=1, save_steps=1)
    trainer = build_trainer(tiny, data, options, tmp_path / "ckpt")
    assert trainer.args.max_length == 1024 and trainer.args.seed == 42
    assert trainer.args.learning_rate == 2e-4 and trainer.args.per_device_train_batch_size == 16
    assert trainer.args.gradient_accumulation_steps == 1
    assert trainer.model.config._attn_implementation == "eager"
    # kept, their end cut, as TRL did; not dropped
    assert [len(x) for x in trainer.train_dataset["input_ids"]] == [min(n, 1024) for n in lengths]

    lines: list[str] = []
    result = train_adapter(
        tiny, data.path, "paper-preset", options, root=tmp_path / "models", echo=lines.append
    )
    manifest = result.manifest
    assert manifest["preset"] == {"name": "paper", "overrides": {}}
    truncation = manifest["training"]["truncation"]
    assert truncation["max_length"] == 1024 and truncation["truncated"] == 1
    assert truncation["rate"] == 0.25 and truncation["dropped"] is False
    assert manifest["data"]["trained_records"] == manifest["data"]["records"] == 4
    hyper = manifest["hyperparameters"]
    assert hyper["attn_implementation"] == "eager" and hyper["seed"] == 42
    printed = "\n".join(lines)
    assert "recipe: preset paper" in printed
    assert "max length 1024: 1 record(s) truncated (25.0%) and kept, their end cut" in printed
