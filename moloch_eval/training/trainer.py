"""TRL's SFTTrainer with a PEFT LoRA adapter for one run (`build_trainer`), its precision and
the loss history it logs. Heavy libraries (torch, transformers, peft, trl, datasets) are
imported inside the functions.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from moloch_eval.training.data import TrainingData
from moloch_eval.training.options import TrainOptions, gradient_accumulation


def _precision(requested: str) -> str:
    import torch

    supported = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if requested == "bf16" and not supported:
        raise ValueError("bf16 was asked for but this device does not support it; use fp32")
    if requested == "auto":
        return "bf16" if supported else "fp32"
    return requested


def loss_history(log_history: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """(step, loss) of every logged step of a trainer's `log_history`."""
    return [
        (int(entry.get("step", 0)), float(entry["loss"]))
        for entry in log_history
        if "loss" in entry and isinstance(entry["loss"], int | float)
    ]


def build_trainer(
    base: str,
    data: TrainingData,
    options: TrainOptions,
    output_dir: Path,
    trust_remote_code: bool = False,
    records: list[dict[str, Any]] | None = None,
    callbacks: list[Any] | None = None,
    parent: Path | None = None,
) -> Any:
    """The SFTTrainer (PEFT LoRA) for `data`; exposed for tests that inspect the loss mask.

    With `parent` (an adapter folder), that adapter is loaded trainable on the base and
    trained further (its LoRA configuration is kept) instead of a new one.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    precision = _precision(options.precision)
    tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    attention = (
        {"attn_implementation": options.attn_implementation} if options.attn_implementation else {}
    )
    model: Any = AutoModelForCausalLM.from_pretrained(
        base,
        dtype=torch.bfloat16 if precision == "bf16" else torch.float32,
        trust_remote_code=trust_remote_code,
        **attention,
    )
    model.config.use_cache = False
    if parent is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(parent), is_trainable=True)
    peft_config = (
        None
        if parent is not None
        else LoraConfig(
            r=options.rank,
            lora_alpha=options.alpha,
            lora_dropout=options.dropout,
            bias="none",
            task_type="CAUSAL_LM",
            target_modules=list(options.target_modules),
        )
    )
    fields = {f.name for f in dataclasses.fields(SFTConfig)}
    version_dependent: dict[str, Any] = {
        # transformers 5 renamed gradient checkpointing and folded warmup_ratio into warmup_steps
        (
            "activation_checkpointing"
            if "activation_checkpointing" in fields
            else "gradient_checkpointing"
        ): options.gradient_checkpointing,
        ("warmup_ratio" if "warmup_ratio" in fields else "warmup_steps"): options.warmup_ratio,
    }
    args = SFTConfig(
        **version_dependent,
        output_dir=str(output_dir),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        learning_rate=options.learning_rate,
        lr_scheduler_type=options.lr_scheduler,
        lr_scheduler_kwargs=(
            {"min_lr_rate": options.min_lr_rate}
            if options.lr_scheduler == "cosine_with_min_lr"
            else {}
        ),
        weight_decay=options.weight_decay,
        per_device_train_batch_size=options.per_device_batch_size,
        gradient_accumulation_steps=1,  # set below, once the number of processes is known
        bf16=precision == "bf16",
        fp16=False,
        max_length=options.max_length,
        completion_only_loss=True,
        logging_steps=options.logging_steps,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=options.save_total_limit,
        report_to="none",
        seed=options.seed,
        ddp_find_unused_parameters=False,
        dataset_num_proc=None,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    # data-parallel processes (accelerate launch / torchrun on GPUs): keep the effective batch
    args.gradient_accumulation_steps = gradient_accumulation(options, args.world_size)
    dataset = Dataset.from_list(records if records is not None else data.records)
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks or []),
    )
