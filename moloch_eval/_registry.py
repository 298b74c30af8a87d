"""Inspect entry point: registers tasks and scorers. Imports nothing heavy (no torch)."""

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
    "omission",
    "populism",
    "sales",
    "social_media",
    "unfair_practices",
    "unsupported_claims",
]
