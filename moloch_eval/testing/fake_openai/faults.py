"""Fault injection for the fake OpenAI-compatible server: a flaky endpoint, reproducibly.

    plan = FaultPlan.uniform(0.2, seed=1)  # 20% of calls fail, 7 ways
    with FaultServer(CompetitionResponder(), plan=plan) as server:
        eval(sales(...), model=server.get_model("agent", config=RETRYING), ...)
        server.faults.counts  # what was injected

:class:`FaultyResponder` wraps any responder (e.g. the deterministic
:class:`~moloch_eval.testing.fake_openai.CompetitionResponder`) and, per completion call,
injects at most one fault, drawn with the rates of a :class:`FaultPlan`:

- ``http_429`` / ``http_500``: the call is answered with that HTTP error;
- ``timeout``: the reply is held ``timeout_delay`` seconds (give the client a shorter
  timeout, e.g. Inspect's ``GenerateConfig(attempt_timeout=1)``);
- ``truncated_json``: a complete HTTP 200 response whose JSON body is cut in the middle;
- ``empty_content``: the reply's text is empty;
- ``missing_tags``: the reply's answer tags (every tag but ``<think>``) are stripped;
- ``out_of_range``: the answer tag holds a value outside the allowed set (a vote ``C``, a
  verdict ``maybe``).

The three content faults only touch text replies whose ``kind`` is in
``FaultPlan.content_kinds`` (default the audience's votes and the probes' verdicts, the
replies the package re-asks for). A content fault drawn for any other reply (an agent's
message, a log-probability reply) becomes a transport fault, picked with the transport rates
by a second hash, so every call fails at the plan's total rate.

Decisions are deterministic: a fault is drawn from a hash of the plan's seed, the request
body and how many times that same body was seen before, so a run injects the same faults into
the same requests whatever the order in which concurrent calls arrive, and a retry of a
request draws afresh. After ``max_faults_per_request`` faults on one body the next attempt is
served clean, so a client that retries that often always gets its answer.

Bounds, so a runaway test cannot hang: after ``max_calls`` calls, or ``time_limit`` seconds
after the first, every call is refused with HTTP 403 (which no client retries), and a
:class:`FaultServer` stops itself ``time_limit + stop_grace`` seconds after it started. The
server binds 127.0.0.1 only.
Counts are kept on the responder: read them in thread mode (the default); in process mode
they stay in the child process.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from moloch_eval.testing.fake_openai.replies import FakeError, Reply, Responder, as_reply
from moloch_eval.testing.fake_openai.server import FakeOpenAIServer

if TYPE_CHECKING:
    from inspect_ai.model import Model

__all__ = [
    "CONTENT_FAULTS",
    "FAULT_KINDS",
    "TRANSPORT_FAULTS",
    "FaultEvent",
    "FaultKind",
    "FaultPlan",
    "FaultServer",
    "FaultyResponder",
]

FaultKind = Literal[
    "http_429",
    "http_500",
    "timeout",
    "truncated_json",
    "empty_content",
    "missing_tags",
    "out_of_range",
]
#: faults of the HTTP exchange: the client sees an error, a stall or an unreadable body
TRANSPORT_FAULTS: tuple[FaultKind, ...] = ("http_429", "http_500", "timeout", "truncated_json")
#: faults of the reply's text: a valid HTTP 200 whose content the caller cannot parse
CONTENT_FAULTS: tuple[FaultKind, ...] = ("empty_content", "missing_tags", "out_of_range")
FAULT_KINDS: tuple[FaultKind, ...] = TRANSPORT_FAULTS + CONTENT_FAULTS
_STATUS = {"http_429": 429, "http_500": 500}
#: every tag but the think block's
_ANSWER_TAG = re.compile(r"</?(?!think\b)[A-Za-z_][\w-]*>")
_LAST_ANSWER = re.compile(r"<(?!think\b)([A-Za-z_][\w-]*)>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True)
class FaultPlan:
    """Rates of each fault (probabilities per call, summing to at most 1) and the bounds."""

    http_429: float = 0.0
    http_500: float = 0.0
    timeout: float = 0.0
    truncated_json: float = 0.0
    empty_content: float = 0.0
    missing_tags: float = 0.0
    out_of_range: float = 0.0
    seed: int = 0
    #: reply kinds (``Reply.kind``) the content faults may touch
    content_kinds: tuple[str, ...] = ("vote", "judge")
    #: after this many faults on one request body, its next attempt is served clean (None:
    #: no cap)
    max_faults_per_request: int | None = 2
    #: seconds a ``timeout`` reply is held before it is sent
    timeout_delay: float = 3.0
    #: completion calls served before every further call is refused (HTTP 403)
    max_calls: int = 5_000
    #: seconds after the first call from which every call is refused (HTTP 403)
    time_limit: float = 300.0
    #: the out-of-range value put in each answer tag (others get ``default_out_of_range``)
    out_of_range_values: Mapping[str, str] = field(default_factory=lambda: {"vote": "C"})
    default_out_of_range: str = "maybe"

    def __post_init__(self) -> None:
        for kind in FAULT_KINDS:
            if not 0.0 <= self.rate(kind) <= 1.0:
                raise ValueError(f"the rate of {kind} must be in [0, 1], not {self.rate(kind)}")
        if self.total_rate > 1.0 + 1e-9:
            raise ValueError(f"the fault rates sum to {self.total_rate}, more than 1")
        if self.max_faults_per_request is not None and self.max_faults_per_request < 0:
            raise ValueError("max_faults_per_request must be >= 0 or None")
        if self.timeout_delay < 0 or self.max_calls < 0 or self.time_limit <= 0:
            raise ValueError("timeout_delay and max_calls must be >= 0, time_limit > 0")

    @classmethod
    def uniform(
        cls, total: float, kinds: tuple[FaultKind, ...] = FAULT_KINDS, **kwargs: Any
    ) -> FaultPlan:
        """A plan whose `total` rate is split evenly over `kinds` (default: all seven)."""
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {FAULT_KINDS}")
        rates: dict[str, Any] = {kind: total / len(kinds) for kind in kinds}
        return cls(**rates, **kwargs)

    def rate(self, kind: FaultKind) -> float:
        """The probability per call of `kind`."""
        return float(getattr(self, kind))

    @property
    def total_rate(self) -> float:
        return sum(self.rate(kind) for kind in FAULT_KINDS)

    def draw(self, key: str, attempt: int) -> FaultKind | None:
        """The fault (or None) for the `attempt`-th sight of the request body hashed as `key`."""
        u = _uniform(self.seed, key, attempt)
        edge = 0.0
        for kind in FAULT_KINDS:
            edge += self.rate(kind)
            if u < edge:
                return kind
        return None

    def draw_transport(self, key: str, attempt: int) -> FaultKind | None:
        """A transport fault in place of a content fault, chosen with the transport rates."""
        total = sum(self.rate(kind) for kind in TRANSPORT_FAULTS)
        if total <= 0:
            return None
        u = _uniform(self.seed, key, attempt, "transport") * total
        edge = 0.0
        for kind in TRANSPORT_FAULTS:
            edge += self.rate(kind)
            if u < edge:
                return kind
        return TRANSPORT_FAULTS[-1]


def _uniform(*parts: object) -> float:
    """A deterministic number in [0, 1) from `parts`."""
    text = "\x1f".join(str(part) for part in parts)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class FaultEvent:
    """One completion call as the fault layer saw it."""

    call: int
    model: str
    #: how many times this same request body was seen before
    attempt: int
    #: the fault injected (None: served clean, "refused": over a bound)
    fault: FaultKind | Literal["refused"] | None
    #: the wrapped responder's reply kind (None for a refused call)
    reply_kind: str | None = None


def _body_key(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


@dataclass
class FaultyResponder:
    """A responder that injects the faults of `plan` into the replies of `inner`.

    Runs on the server's event loop (one call at a time). `counts` tallies the injected
    faults by kind, plus ``calls``, ``clean`` and ``refused``; `events` lists every call.
    """

    inner: Responder
    plan: FaultPlan = field(default_factory=FaultPlan)
    counts: Counter[str] = field(default_factory=Counter, init=False)
    events: list[FaultEvent] = field(default_factory=list, init=False, repr=False)
    started_at: float | None = field(default=None, init=False)
    _seen: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    _faulted: Counter[str] = field(default_factory=Counter, init=False, repr=False)

    @property
    def injected(self) -> int:
        """Faults injected so far (all kinds)."""
        return sum(self.counts[kind] for kind in FAULT_KINDS)

    def injected_for(self, model: str) -> Counter[str]:
        """Faults injected into calls of one model name, by kind."""
        return Counter(
            str(e.fault)
            for e in self.events
            if e.model == model and e.fault not in (None, "refused")
        )

    def __call__(self, body: dict[str, Any]) -> str | Reply:
        now = time.monotonic()
        if self.started_at is None:
            self.started_at = now
        self.counts["calls"] += 1
        call, model = self.counts["calls"], str(body.get("model", ""))
        if call > self.plan.max_calls or now - self.started_at > self.plan.time_limit:
            self.counts["refused"] += 1
            self.events.append(FaultEvent(call, model, -1, "refused"))
            bound = f"max_calls={self.plan.max_calls}, time_limit={self.plan.time_limit}s"
            raise FakeError(403, f"fault server bound reached ({bound})", "fault_bound")
        key = _body_key(body)
        attempt = self._seen[key]
        self._seen[key] += 1
        fault = self.plan.draw(key, attempt)
        cap = self.plan.max_faults_per_request
        if fault is not None and cap is not None and self._faulted[key] >= cap:
            fault = None
        reply = as_reply(self.inner(body))
        if fault in CONTENT_FAULTS and (
            reply.kind not in self.plan.content_kinds or reply.top_logprobs is not None
        ):
            # only text replies that their callers re-ask are garbled: this call fails in
            # transport instead
            fault = self.plan.draw_transport(key, attempt)
        self._record(key, call, model, attempt, fault, reply.kind)
        if fault in _STATUS:
            raise FakeError(_STATUS[fault], f"injected {fault}", f"injected_{fault}")
        return reply if fault is None else self._apply(fault, reply)

    def _record(
        self,
        key: str,
        call: int,
        model: str,
        attempt: int,
        fault: FaultKind | None,
        reply_kind: str | None,
    ) -> None:
        if fault is None:
            self.counts["clean"] += 1
        else:
            self.counts[fault] += 1
            self._faulted[key] += 1
        self.events.append(FaultEvent(call, model, attempt, fault, reply_kind))

    def _apply(self, fault: FaultKind, reply: Reply) -> Reply:
        values = {f.name: getattr(reply, f.name) for f in fields(Reply)}
        if fault == "timeout":
            values["delay"] = reply.delay + self.plan.timeout_delay
        elif fault == "truncated_json":
            # the body is the text's JSON string inside a frame of well over 64 bytes before
            # and after it: this cut always falls inside the body, in the text when it is long
            values["body_bytes"] = 64 + len(json.dumps(reply.text)) // 2
        elif fault == "empty_content":
            values["text"] = ""
        elif fault == "missing_tags":
            values["text"] = _ANSWER_TAG.sub("", reply.text)
        elif fault == "out_of_range":
            values["text"] = self._out_of_range(reply.text)
        return Reply(**values)

    def _out_of_range(self, text: str) -> str:
        """The last answer tag's value replaced; a reply without one is invalid already."""
        matches = list(_LAST_ANSWER.finditer(text))
        if not matches:
            return text
        last = matches[-1]
        tag = last.group(1)
        value = self.plan.out_of_range_values.get(tag, self.plan.default_out_of_range)
        return f"{text[: last.start()]}<{tag}>{value}</{tag}>{text[last.end() :]}"


@dataclass
class FaultServer(FakeOpenAIServer):
    """A :class:`FakeOpenAIServer` whose responder injects the faults of `plan`.

    ``server.faults`` is the :class:`FaultyResponder` (its counts and events). The server
    stops itself ``plan.time_limit + stop_grace`` seconds after it started.
    """

    plan: FaultPlan = field(default_factory=FaultPlan)
    stop_grace: float = 10.0
    _watchdog: threading.Timer | None = field(default=None, init=False, repr=False)
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.responder, FaultyResponder):
            self.responder = FaultyResponder(self.responder, self.plan)

    @property
    def faults(self) -> FaultyResponder:
        """The fault layer: what it injected, call by call."""
        assert isinstance(self.responder, FaultyResponder)
        return self.responder

    def start(self) -> FaultServer:
        """Start serving, with the watchdog that stops the server past its time limit."""
        if self.running:
            return self
        super().start()
        self._watchdog = threading.Timer(self.plan.time_limit + self.stop_grace, self.stop)
        self._watchdog.daemon = True
        self._watchdog.start()
        return self

    def stop(self) -> None:
        """Stop serving (idempotent, from any thread)."""
        with self._stop_lock:
            watchdog, self._watchdog = self._watchdog, None
            if watchdog is not None and watchdog is not threading.current_thread():
                watchdog.cancel()
            super().stop()

    def __enter__(self) -> FaultServer:
        return self.start()

    def get_model(
        self, name: str, service: str = "fake", provider: str = "retrying-openai-api", **kwargs: Any
    ) -> Model:
        """An Inspect model for `name` on this server (see :meth:`FakeOpenAIServer.get_model`).

        `provider` "retrying-openai-api" (default, :mod:`moloch_eval.testing.retrying_api`) is
        Inspect's ``openai-api`` that also retries a reply whose JSON body is cut, which the
        stock ``openai-api`` raises (pass ``provider="openai-api"`` for it).
        """
        from inspect_ai.model import get_model

        from moloch_eval.testing import retrying_api  # noqa: F401  (registers the provider)

        return get_model(
            f"{provider}/{service}/{name}",
            base_url=self.base_url,
            api_key=self.client_api_key,
            **kwargs,
        )
