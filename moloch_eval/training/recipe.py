"""The LoRA recipes of `moloch-eval train` as named presets (SPEC §3). No heavy imports.

- ``clean`` (the default): the paper's hyperparameters with room for the paper's prompts plus
  1,480 generated tokens (`max_length` 4096), micro-batches of 4 accumulated to 16, seed 0,
  the attention implementation transformers picks.
- ``paper``: what the paper's ``artsco/src/train.py`` ran. Besides the values it set (lr 2e-4,
  cosine_with_min_lr to 0.1 x the peak, 3 % warm-up, batch 16 on one device without
  accumulation, 1 epoch, bf16, gradient checkpointing, ``use_cache=False``, LoRA r 16 / alpha 32
  / dropout 0.05 on every projection) it left two library defaults in force: TRL SFTConfig's
  ``max_length`` of 1024 (the script's ``max_length`` line is commented out) and
  TrainingArguments' ``seed`` of 42; and it loaded the model with ``attn_implementation=
  "eager"``. Records over 1024 tokens are kept and their end is cut, as TRL did.

Both presets keep over-long records (truncated, counted and reported); `drop_truncated` is an
explicit choice. Explicit values override the preset's (`preset_values`).
"""

from __future__ import annotations

from typing import Any

#: The projections LoRA adapts (attention and MLP of Llama/Qwen-style models).
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
RANK = 16
ALPHA = 32
DROPOUT = 0.05
LEARNING_RATE = 2e-4
#: cosine decay to this fraction of the peak learning rate
MIN_LR_RATE = 0.1
WARMUP_RATIO = 0.03
BATCH_SIZE = 16
EPOCHS = 1.0
#: micro-batch per device; gradient accumulation makes up the batch size
PER_DEVICE_BATCH_SIZE = 4
#: long enough for the paper's prompts plus 1,480 generated tokens
MAX_LENGTH = 4096
SEED = 0
#: the paper repeated its RFT list three times for its one epoch
REPEAT = 3
SAVE_STEPS = 25

#: TRL SFTConfig's default max_length, which the paper's train.py left in force
PAPER_MAX_LENGTH = 1024
#: TrainingArguments' default seed, which the paper's train.py left in force
PAPER_SEED = 42
#: the paper's per_device_train_batch_size=16 with gradient_accumulation_steps=1
PAPER_PER_DEVICE_BATCH_SIZE = 16
PAPER_ATTN_IMPLEMENTATION = "eager"

PRESETS = ("clean", "paper")
DEFAULT_PRESET = "clean"

_CLEAN: dict[str, Any] = {
    "epochs": EPOCHS,
    "learning_rate": LEARNING_RATE,
    "lr_scheduler": "cosine_with_min_lr",
    "min_lr_rate": MIN_LR_RATE,
    "warmup_ratio": WARMUP_RATIO,
    "batch_size": BATCH_SIZE,
    "per_device_batch_size": PER_DEVICE_BATCH_SIZE,
    "rank": RANK,
    "alpha": ALPHA,
    "dropout": DROPOUT,
    "target_modules": TARGET_MODULES,
    "max_length": MAX_LENGTH,
    "drop_truncated": False,
    "precision": "auto",
    "gradient_checkpointing": True,
    "seed": SEED,
    "attn_implementation": None,
    "weight_decay": 0.0,
}

_PAPER: dict[str, Any] = {
    **_CLEAN,
    "per_device_batch_size": PAPER_PER_DEVICE_BATCH_SIZE,
    "max_length": PAPER_MAX_LENGTH,
    "seed": PAPER_SEED,
    "attn_implementation": PAPER_ATTN_IMPLEMENTATION,
}

_VALUES = {"clean": _CLEAN, "paper": _PAPER}


def preset_values(name: str) -> dict[str, Any]:
    """The hyperparameters a preset sets (a copy), or a ValueError naming the presets."""
    try:
        return dict(_VALUES[name])
    except KeyError:
        raise ValueError(f"preset must be one of {PRESETS}, not {name!r}") from None
