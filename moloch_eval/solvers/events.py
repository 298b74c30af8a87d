"""Which model calls leave events in the sample's transcript (`-T model_events`).

A pair of messages is judged by 20 voters and the probes' judge: 22+ model calls whose events
(input, output, raw call) Inspect writes into the sample's transcript, its realtime buffer and
the log. The store already keeps every reply whole, so by default ("messages") only the agent's
and the opponent's calls are logged as events; the votes and verdicts run in a transcript of
their own that nothing writes (Inspect's batcher does the same for its own calls). "all" logs
every call, as Inspect does by default. Token usage is counted either way, and so are the
retries of unlogged calls (`Calls.retries`, kept in the store and the scores' metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from inspect_ai.event import ModelEvent
from inspect_ai.log import Transcript

logger = logging.getLogger(__name__)

ModelEvents = Literal["messages", "all"]
MODEL_EVENTS: tuple[ModelEvents, ...] = ("messages", "all")

try:  # Inspect's current-transcript variable (private; `transcript()` reads it)
    from inspect_ai.log._transcript import _transcript as _current
except ImportError:  # pragma: no cover - an Inspect without it: every call is logged
    _current = None  # type: ignore[assignment]


def check_model_events(value: str) -> ModelEvents:
    if value not in MODEL_EVENTS:
        raise ValueError(f"model_events must be one of {MODEL_EVENTS}, not {value!r}")
    return value


@dataclass
class Calls:
    """What the model events of an unlogged block would have said about retries."""

    #: provider HTTP retries within an attempt plus Inspect's retried (errored) attempts; 0
    #: when the block is logged (its events hold them)
    retries: int = 0


@contextmanager
def calls_logged(logged: bool) -> Iterator[Calls]:
    """Model calls inside this block leave events in the sample's transcript only if `logged`.

    Otherwise they go to a fresh transcript that is dropped at the end of the block (the
    caller's transcript is restored, even inside a task shared with other code); its
    retries are counted first, so no retry goes unrecorded.
    """
    calls = Calls()
    if logged or _current is None:
        yield calls
        return
    # log_model_api=False: the raw API call of each event is let go instead of condensed
    # into attachments (most of the cost of an event), as nothing will read it
    dropped = Transcript(log_model_api=False)
    token = _current.set(dropped)
    try:
        yield calls
    finally:
        _current.reset(token)
        model = [e for e in dropped.events if isinstance(e, ModelEvent)]
        calls.retries = sum(e.retries or 0 for e in model) + sum(1 for e in model if e.error)
