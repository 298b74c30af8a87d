"""The fake server's counters: kept on its event loop (`Counters`), read as a `ServerStats`.

Calls, errors, tokens and in-flight peaks, in all and by model name and reply kind; the
server sends them as JSON on ``GET /_fake/stats`` and the client reads them back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class KindStats:
    """Calls and tokens under one model name or one reply kind."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: of `calls`, those answered as lines of a batch file (the Batches API)
    batched: int = 0


@dataclass(frozen=True)
class ServerStats:
    """A snapshot of the server's counters (since start or the last reset)."""

    #: chat/text completion requests received directly (failed ones included; batch lines not)
    calls: int
    #: of those, answered with an error status
    errors: int
    prompt_tokens: int
    completion_tokens: int
    #: most completion requests received and not yet answered at one time
    peak_in_flight: int
    in_flight: int
    by_model: dict[str, KindStats]
    by_kind: dict[str, KindStats]
    #: requests to other routes (models, tokenize, health; admin routes not counted)
    other_requests: int
    #: CPU seconds the server used (its process, or its thread in thread mode)
    cpu_seconds: float
    latency: float
    #: time.monotonic() of the first completion request received and of the last reply sent
    #: (system-wide on Linux, so comparable with the caller's clock); None before any call
    first_call_at: float | None = None
    last_reply_at: float | None = None
    #: requests answered as lines of batch files (failed ones included), and of those failed
    batch_calls: int = 0
    batch_errors: int = 0
    #: batch jobs created (not counting rejected ones)
    batches: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerStats:
        values = dict(data)
        for key in ("by_model", "by_kind"):
            values[key] = {name: KindStats(**v) for name, v in data[key].items()}
        return cls(**values)


@dataclass
class Counters:
    """The live counters of a server (one event loop updates them; a reset starts new ones)."""

    calls: int = 0
    errors: int = 0
    #: requests to routes other than the completions (admin routes not counted)
    other: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    by_model: dict[str, KindStats] = field(default_factory=dict)
    by_kind: dict[str, KindStats] = field(default_factory=dict)
    first_call_at: float | None = None
    last_reply_at: float | None = None
    batch_calls: int = 0
    batch_errors: int = 0
    batches: int = 0

    def received(self) -> None:
        """A completion request arrived."""
        self.calls += 1
        if self.first_call_at is None:
            self.first_call_at = time.monotonic()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def replied(self) -> None:
        """A completion's response was sent."""
        self.in_flight -= 1
        self.last_reply_at = time.monotonic()

    def tally(
        self,
        model: str,
        kind: str,
        prompt_tokens: int,
        completion_tokens: int,
        batched: bool = False,
    ) -> None:
        """Count one answered completion under its model name and its reply kind (`batched`:
        a line of a batch file)."""
        for table, key in ((self.by_model, model), (self.by_kind, kind)):
            entry = table.get(key)
            if entry is None:
                entry = table[key] = KindStats()
            entry.calls += 1
            entry.batched += batched
            entry.prompt_tokens += prompt_tokens
            entry.completion_tokens += completion_tokens
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens

    def as_json(self, cpu_seconds: float, latency: float) -> dict[str, Any]:
        """The fields of a :class:`ServerStats` (see :meth:`ServerStats.from_json`)."""

        def plain(d: dict[str, KindStats]) -> dict[str, dict[str, int]]:
            return {k: vars(v).copy() for k, v in d.items()}

        return {
            "calls": self.calls,
            "errors": self.errors,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "peak_in_flight": self.peak_in_flight,
            "in_flight": self.in_flight,
            "by_model": plain(self.by_model),
            "by_kind": plain(self.by_kind),
            "other_requests": self.other,
            "cpu_seconds": cpu_seconds,
            "latency": latency,
            "first_call_at": self.first_call_at,
            "last_reply_at": self.last_reply_at,
            "batch_calls": self.batch_calls,
            "batch_errors": self.batch_errors,
            "batches": self.batches,
        }
