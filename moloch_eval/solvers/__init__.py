"""Solvers of the competition: agent message, opponent message, audience vote."""

from moloch_eval.solvers.agent import agent_message
from moloch_eval.solvers.audience import AudienceConfig, audience_vote
from moloch_eval.solvers.opponent import opponent_message

__all__ = ["AudienceConfig", "agent_message", "audience_vote", "opponent_message"]
