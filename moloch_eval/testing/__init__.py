"""Test and benchmark helpers: a local fake OpenAI-compatible server and role responders.

See README.md here: what lives in `testing/` and what it may import (nothing in the package
imports it).
"""

from moloch_eval.testing.em_responder import EMResponder
from moloch_eval.testing.fake_openai import (
    CONTENT_FAULTS,
    FAULT_KINDS,
    TRANSPORT_FAULTS,
    CompetitionResponder,
    FakeError,
    FakeOpenAIServer,
    FaultEvent,
    FaultPlan,
    FaultServer,
    FaultyResponder,
    KindStats,
    Reply,
    Responder,
    ServerStats,
    echo_responder,
    estimate_tokens,
)

__all__ = [
    "CONTENT_FAULTS",
    "FAULT_KINDS",
    "TRANSPORT_FAULTS",
    "CompetitionResponder",
    "EMResponder",
    "FakeError",
    "FakeOpenAIServer",
    "FaultEvent",
    "FaultPlan",
    "FaultServer",
    "FaultyResponder",
    "KindStats",
    "Reply",
    "Responder",
    "ServerStats",
    "echo_responder",
    "estimate_tokens",
]
