"""The hyperparameters of one LoRA run (`TrainOptions`), started from a named preset of
`moloch_eval.training.recipe` and overridden by explicit values. No heavy imports.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from moloch_eval.training import recipe

DEFAULT_TARGET_MODULES = recipe.TARGET_MODULES
DEFAULT_MAX_LENGTH = recipe.MAX_LENGTH


@dataclass(frozen=True)
class TrainOptions:
    """Hyperparameters of one LoRA run; the defaults are the ``clean`` preset (SPEC §3).

    `TrainOptions.from_preset` starts from a named preset instead; `preset` names the one the
    values started from (recorded in the manifest with the values that differ from it).
    """

    epochs: float = recipe.EPOCHS
    max_steps: int = -1
    learning_rate: float = recipe.LEARNING_RATE
    lr_scheduler: str = "cosine_with_min_lr"
    min_lr_rate: float = recipe.MIN_LR_RATE
    warmup_ratio: float = recipe.WARMUP_RATIO
    #: effective batch = per_device_batch_size x processes x gradient accumulation
    batch_size: int = recipe.BATCH_SIZE
    per_device_batch_size: int = recipe.PER_DEVICE_BATCH_SIZE
    rank: int = recipe.RANK
    alpha: int = recipe.ALPHA
    dropout: float = recipe.DROPOUT
    target_modules: tuple[str, ...] = DEFAULT_TARGET_MODULES
    max_length: int = DEFAULT_MAX_LENGTH
    drop_truncated: bool = False
    #: "auto": bf16 where the device supports it, else fp32
    precision: str = "auto"
    gradient_checkpointing: bool = True
    seed: int = recipe.SEED
    #: passed to from_pretrained; None: the implementation transformers picks (sdpa)
    attn_implementation: str | None = None
    preset: str = recipe.DEFAULT_PRESET
    save_steps: int = recipe.SAVE_STEPS
    save_total_limit: int = 2
    logging_steps: int = 1
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be auto, bf16 or fp32, not {self.precision!r}")
        if self.batch_size < 1 or self.per_device_batch_size < 1:
            raise ValueError("batch sizes must be at least 1")
        if self.max_length < 8:
            raise ValueError("max_length is too small")
        if self.preset not in recipe.PRESETS:
            raise ValueError(f"preset must be one of {recipe.PRESETS}, not {self.preset!r}")

    @classmethod
    def from_preset(cls, preset: str = recipe.DEFAULT_PRESET, **overrides: Any) -> TrainOptions:
        """The preset's values, with every override that is not None in their place."""
        names = {f.name for f in dataclasses.fields(cls)} - {"preset"}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown training options: {unknown}")
        values = recipe.preset_values(preset)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "target_modules" in values:
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values, preset=preset)

    def overrides(self) -> dict[str, Any]:
        """The values that differ from those of `preset`."""
        values = recipe.preset_values(self.preset)
        own = asdict(self)
        return {
            name: list(own[name]) if isinstance(own[name], tuple) else own[name]
            for name, value in values.items()
            if own[name] != value
        }


def gradient_accumulation(options: TrainOptions, world_size: int) -> int:
    """Accumulation steps so that per-device batch x processes x steps = batch_size."""
    per_step = options.per_device_batch_size * world_size
    if options.batch_size % per_step:
        raise ValueError(
            f"batch size {options.batch_size} is not a multiple of per-device batch "
            f"{options.per_device_batch_size} x {world_size} process(es); change "
            "--batch-size or --per-device-batch-size"
        )
    return options.batch_size // per_step
