"""Test and benchmark helpers: a local fake OpenAI-compatible server and role responders.

Nothing here is imported by the tasks; it needs only the standard library.
"""

from moloch_eval.testing.em_responder import EMResponder
from moloch_eval.testing.fake_openai import (
    CompetitionResponder,
    FakeError,
    FakeOpenAIServer,
    KindStats,
    Reply,
    Responder,
    ServerStats,
    echo_responder,
    estimate_tokens,
)
from moloch_eval.testing.faults import (
    CONTENT_FAULTS,
    FAULT_KINDS,
    TRANSPORT_FAULTS,
    FaultEvent,
    FaultPlan,
    FaultServer,
    FaultyResponder,
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
