"""Inspect entry point: registers tasks, scorers and the ``moloch/`` model provider.

Imports nothing heavy (no torch, transformers or vllm): the provider loads its backend on use.
"""

from moloch_eval.providers import moloch
from moloch_eval.scorers import (
    audience_share,
    disinformation,
    harmful_behaviour,
    misrepresentation,
    omission,
    populism,
    unfair_practices,
    unsupported_claims,
)
from moloch_eval.tasks import elections, sales, social_media

__all__ = [
    "audience_share",
    "disinformation",
    "elections",
    "harmful_behaviour",
    "misrepresentation",
    "moloch",
    "omission",
    "populism",
    "sales",
    "social_media",
    "unfair_practices",
    "unsupported_claims",
]
