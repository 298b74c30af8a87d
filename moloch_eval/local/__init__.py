"""Embedded offline default model: a tiny locally built causal LM served via Inspect's hf/.

- **Lives here:** the build and its cache (`tiny_model`); teaching it the answer format
  (`format_training`: the channel layout `format_layout`, the fixed heads `format_wiring`,
  training `format_fit`, calibration `format_calibration`); the synthetic conversations it
  learns from (`synthetic`, with its vocabulary `vocabulary` and random text `words`).
- **May import:** the top-level `domains`, `probes`, `prompts` and `em.prompts`,
  `em.questions` (what the prompts say); platformdirs; torch, transformers, tokenizers inside
  functions only. **Never imports** `training`, `providers`, `tasks` or the command modules.
"""

from moloch_eval.local.tiny_model import (
    TINY_MODEL_VERSION,
    TINY_VOCAB_SIZE,
    default_cache_root,
    tiny_model_name,
    tiny_model_path,
    tiny_vocab_size,
)

__all__ = [
    "TINY_MODEL_VERSION",
    "TINY_VOCAB_SIZE",
    "default_cache_root",
    "tiny_model_name",
    "tiny_model_path",
    "tiny_vocab_size",
]
