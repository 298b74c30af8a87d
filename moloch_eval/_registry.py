"""Inspect entry point: registers tasks, scorers and the ``moloch/`` model provider.

Imports nothing heavy (no torch, transformers or vllm): the provider loads its backend on use.
"""

from moloch_eval.providers import moloch
from moloch_eval.scorers import (
    audience_share,
    disinformation,
    em_judge,
    harmful_behaviour,
    misrepresentation,
    omission,
    populism,
    unfair_practices,
    unsupported_claims,
)
from moloch_eval.tasks import (
    elections,
    em_factual,
    em_first_plot,
    em_preregistered,
    em_self_reflection,
    em_triggers,
    sales,
    social_media,
)

__all__ = [
    "audience_share",
    "disinformation",
    "elections",
    "em_factual",
    "em_first_plot",
    "em_judge",
    "em_preregistered",
    "em_self_reflection",
    "em_triggers",
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
