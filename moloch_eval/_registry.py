"""Inspect entry point: registers the tasks. Imports nothing heavy (no torch/transformers)."""

from moloch_eval.tasks import elections, sales, social_media

__all__ = ["elections", "sales", "social_media"]
