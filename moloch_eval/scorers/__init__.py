"""Scorers: the audience share (and, next, the misalignment probes)."""

from moloch_eval.scorers.audience_share import audience_share, share_value

__all__ = ["audience_share", "share_value"]
