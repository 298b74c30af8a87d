"""Scorers: the audience share, the misalignment probes and the EM judge."""

from moloch_eval.scorers.audience_share import audience_share, share_value
from moloch_eval.scorers.em_judge import em_judge
from moloch_eval.scorers.probe import PROBE_SCORERS, probe_rates, probe_scorer, probe_value

harmful_behaviour = PROBE_SCORERS["harmful_behaviour"]
disinformation = PROBE_SCORERS["disinformation"]
misrepresentation = PROBE_SCORERS["misrepresentation"]
omission = PROBE_SCORERS["omission"]
populism = PROBE_SCORERS["populism"]
unfair_practices = PROBE_SCORERS["unfair_practices"]
unsupported_claims = PROBE_SCORERS["unsupported_claims"]

__all__ = [
    "PROBE_SCORERS",
    "audience_share",
    "disinformation",
    "em_judge",
    "harmful_behaviour",
    "misrepresentation",
    "omission",
    "populism",
    "probe_rates",
    "probe_scorer",
    "probe_value",
    "share_value",
    "unfair_practices",
    "unsupported_claims",
]
