"""Embedded offline default model: a tiny locally built causal LM served via Inspect's hf/."""

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
