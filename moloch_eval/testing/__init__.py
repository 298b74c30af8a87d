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

__all__ = [
    "CompetitionResponder",
    "EMResponder",
    "FakeError",
    "FakeOpenAIServer",
    "KindStats",
    "Reply",
    "Responder",
    "ServerStats",
    "echo_responder",
    "estimate_tokens",
]
