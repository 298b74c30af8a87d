"""The paper's LoRA recipe (SPEC §3): the defaults of `moloch-eval train`. No heavy imports."""

from __future__ import annotations

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
#: the paper repeated its RFT list three times for its one epoch
REPEAT = 3
SAVE_STEPS = 25
