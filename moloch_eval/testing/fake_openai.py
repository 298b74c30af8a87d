"""A local, fast, fake OpenAI-compatible server for tests and benchmarks.

    with FakeOpenAIServer(CompetitionResponder(), latency=0.05) as server:
        eval(sales(), model=server.get_model("agent"),
             model_roles={"audience": server.get_model("voter"), ...})
        server.calls, server.requests, server.stats()

    # or, as on the command line (one server per process: see FakeOpenAIServer.get_model):
    #   FAKE_BASE_URL=... FAKE_API_KEY=... inspect eval moloch_eval/sales \
    #       --model openai-api/fake/agent --model-role audience=openai-api/fake/voter ...

It speaks just enough HTTP/1.1 (keep-alive, Content-Length or chunked request bodies) on an
asyncio protocol to serve thousands of calls per second on one core:

- ``POST /v1/chat/completions`` (non-streaming; ``n``, ``max_tokens`` /
  ``max_completion_tokens`` with ``finish_reason="length"`` truncation, ``logprobs`` and
  ``top_logprobs``, ``usage`` with prompt and completion token counts),
- ``POST /v1/completions`` (the legacy text API, same responder),
- ``GET /v1/models`` (the served names, vLLM-style cards with ``max_model_len``),
- ``POST /tokenize`` (vLLM's tokenizer endpoint, fake token ids), ``GET /health``,
- ``/_fake/…`` admin routes used by this module (stats, recorded requests, reset, latency).

A *responder* is a plain function of the request body (a dict: ``model``, ``messages`` or
``prompt``, ``max_tokens``, ``logprobs``, ``top_logprobs``, …) returning the reply text or a
:class:`Reply` (text, optional top log-probabilities of the first token, a ``kind`` label for
the statistics, token counts, an extra delay, a cut of the JSON body). Raising
:class:`FakeError` returns that HTTP error. :mod:`moloch_eval.testing.faults` wraps a responder
to inject faults at configurable rates.

Every reply is sent ``latency`` seconds after its request arrived, whatever the load, so the
server behaves like an endpoint with fixed per-call latency and unlimited capacity. The server
binds only to a loopback address and stops when its context exits. With ``process=True`` it
runs in a child process (so its CPU time is not the caller's: benchmarks use this); otherwise
in a daemon thread. Inspect reaches it through its ``openai-api`` provider:
``--model openai-api/<service>/<name>`` with ``<SERVICE>_BASE_URL`` and ``<SERVICE>_API_KEY``
set (see :meth:`FakeOpenAIServer.env`); different role models can use different names on the
same server.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import json
import math
import multiprocessing
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_ai.model import Model

__all__ = [
    "CompetitionResponder",
    "FakeError",
    "FakeOpenAIServer",
    "KindStats",
    "Reply",
    "Responder",
    "ServerStats",
    "echo_responder",
    "estimate_tokens",
]

#: characters per token of the fake tokenizer (the usual rule of thumb for English)
CHARS_PER_TOKEN = 4
DEFAULT_API_KEY = "fake-key"
MAX_BODY_BYTES = 32 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class Reply:
    """What a responder returns for one choice of one call."""

    text: str
    #: alternatives for the FIRST output token as (token, logprob), best first or in any order
    top_logprobs: Sequence[tuple[str, float]] | None = None
    #: a label the server tallies calls and tokens under (e.g. "vote", "judge", "agent")
    kind: str | None = None
    #: token counts to report; estimated from the text (4 characters a token) when None
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    finish_reason: str = "stop"
    #: extra seconds before the response is sent, on top of the server's latency (e.g. to
    #: outlast a client's timeout); the longest of a call's choices applies
    delay: float = 0.0
    #: send only the first this-many bytes of the JSON body, with a Content-Length that
    #: matches: a complete 200 response whose body is cut mid-JSON; None sends it whole
    body_bytes: int | None = None


Responder = Callable[[dict[str, Any]], "str | Reply"]


class FakeError(Exception):
    """Raise in a responder to answer the call with an HTTP error (e.g. 429, 500)."""

    def __init__(self, status: int, message: str = "fake error", kind: str = "fake_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


@dataclass
class KindStats:
    """Calls and tokens under one model name or one reply kind."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ServerStats:
    """A snapshot of the server's counters (since start or the last reset)."""

    #: chat/text completion requests received (failed ones included)
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

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServerStats:
        values = dict(data)
        for key in ("by_model", "by_kind"):
            values[key] = {name: KindStats(**v) for name, v in data[key].items()}
        return cls(**values)


def estimate_tokens(text: str) -> int:
    """Token count of the fake tokenizer: one token per 4 characters, at least 1 if non-empty."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def message_texts(body: Mapping[str, Any]) -> tuple[str, str]:
    """(system text, last user text) of a chat request; a text request's prompt is the user."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        prompt = body.get("prompt", "")
        return "", prompt if isinstance(prompt, str) else ""
    system = user = ""
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer") and not system:
            system = _content_text(message.get("content"))
        elif role == "user":
            user = _content_text(message.get("content"))
    return system, user


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    messages = body.get("messages")
    if isinstance(messages, list):
        chars = sum(len(_content_text(m.get("content"))) for m in messages if isinstance(m, dict))
        return math.ceil(chars / CHARS_PER_TOKEN) + 4 * len(messages)
    prompt = body.get("prompt")
    return estimate_tokens(prompt) if isinstance(prompt, str) else 0


def echo_responder(body: dict[str, Any]) -> Reply:
    """Answers every call with the start of its last user message."""
    _, user = message_texts(body)
    return Reply(text=f"echo: {user[:200]}", kind="echo")


# -- the competition roles ------------------------------------------------------------------

_FORMAT_TAG = re.compile(r"your final (\w+) inside <\1>")
_JUDGE_TAG = re.compile(r"inside <(\w+)>\.\.\.</\1>")
_CHOICE = re.compile(r"(?:^|\n\n)## ([AB])\n")
_WORDS = tuple(
    re.findall(
        r"\w+",
        "the customer would value a clear and honest account of what this offers while the "
        "tone stays warm practical and grounded in every detail given so that readers can "
        "trust each claim compare options quickly and decide with confidence about quality "
        "price features design comfort reliability support everyday use and lasting worth",
    )
)


def _filler(words: int, seed: int) -> str:
    start = seed % len(_WORDS)
    return " ".join(_WORDS[(start + i * 7) % len(_WORDS)] for i in range(words))


def _hash(*parts: object) -> int:
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode())


def _logprob_pair(chosen: str, other: str, p: float) -> list[tuple[str, float]]:
    return [(chosen, math.log(p)), (other, math.log(1.0 - p)), (" ", math.log(1e-4))]


@dataclass(frozen=True)
class CompetitionResponder:
    """Plays every role of a moloch_eval competition by reading the request.

    - agent / opponent (system "You are a helpful assistant.", the format instruction names the
      answer tag): ``<think>…</think><TAG>message</TAG>``; the message names the model, so an
      agent and an opponent on different names write different messages;
    - voter (system format instruction with tag ``vote``, or the one-letter system of logprob
      mode): ``<think>…</think><vote>A|B</vote>``, or one token with top log-probabilities over
      A and B when ``logprobs`` is asked;
    - judge (system format instruction with the probe's tag, or the yes/no system of logprob
      mode): ``<think>…</think><TAG>yes|no</TAG>``, or one token with yes/no log-probabilities.

    Choices are deterministic functions of the prompt (and ``seed``): voters pick the message
    that contains ``prefer`` when exactly one does, else a seeded coin; the judge says yes with
    probability ``yes_rate``. Lengths are in words (about 1.6 fake tokens each).
    """

    think_words: int = 80
    agent_think_words: int = 120
    message_words: int = 80
    yes_rate: float = 0.25
    prefer: str | None = None
    confidence: float = 0.8
    seed: int = 0

    def __call__(self, body: dict[str, Any]) -> Reply:
        system, user = message_texts(body)
        logprob = bool(body.get("logprobs"))
        model = str(body.get("model", ""))
        format_tag = _FORMAT_TAG.search(system)
        sys_tag = format_tag.group(1) if format_tag else None
        if sys_tag == "vote" or "A or B" in system or user.startswith("# Roleplay Instructions"):
            return self.vote(user, logprob)
        if sys_tag or "yes or no" in system or user.startswith("# Task\nYou are reviewing"):
            judge_tag = _JUDGE_TAG.search(user)
            return self.judge(user, sys_tag or (judge_tag.group(1) if judge_tag else None), logprob)
        user_tag = _FORMAT_TAG.search(user)
        if user_tag:
            return self.agent(model, user, user_tag.group(1), body.get("temperature"))
        return Reply(text="ok", kind="other")

    def agent(self, model: str, user: str, tag: str, temperature: object) -> Reply:
        h = _hash(self.seed, model, temperature, user)
        message = f"[{model} {h:08x}] " + _filler(self.message_words, h)
        think = _filler(self.agent_think_words, h >> 3)
        return Reply(text=f"<think>{think}</think><{tag}>{message}</{tag}>", kind="agent")

    def vote(self, user: str, logprob: bool) -> Reply:
        h = _hash(self.seed, user)
        letter = "A" if h % 2 == 0 else "B"
        if self.prefer is not None and "# Choices: \n" in user:
            parts = _CHOICE.split(user.split("# Choices: \n", 1)[1])
            choices = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
            having = [k for k, v in choices.items() if self.prefer in v]
            if len(having) == 1:
                letter = having[0]
        other = "B" if letter == "A" else "A"
        if logprob:
            return Reply(
                text=letter, top_logprobs=_logprob_pair(letter, other, self.confidence), kind="vote"
            )
        think = _filler(self.think_words, h >> 2)
        return Reply(text=f"<think>{think}</think><vote>{letter}</vote>", kind="vote")

    def judge(self, user: str, tag: str | None, logprob: bool) -> Reply:
        h = _hash(self.seed, "judge", user)
        verdict = "yes" if (h % 10_000) / 10_000 < self.yes_rate else "no"
        if logprob or tag is None:
            other = "no" if verdict == "yes" else "yes"
            return Reply(
                text=verdict,
                top_logprobs=_logprob_pair(verdict, other, self.confidence),
                kind="judge",
            )
        think = _filler(self.think_words, h >> 2)
        return Reply(text=f"<think>{think}</think><{tag}>{verdict}</{tag}>", kind="judge")


# -- the server core (runs in the server's thread or process) -------------------------------

_TOKEN_PIECE = re.compile(r"\s*\S+|\s+")


def _token_entry(token: str, logprob: float, top: list[dict[str, Any]]) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": top}


def _chat_logprobs(
    text: str, top: Sequence[tuple[str, float]] | None, k: int
) -> list[dict[str, Any]]:
    pieces = _TOKEN_PIECE.findall(text) or [""]
    alternatives = sorted(top or [], key=lambda t: -t[1])
    first_lp = next((lp for tok, lp in alternatives if tok == pieces[0]), 0.0)
    first_top = [
        {"token": tok, "logprob": lp, "bytes": list(tok.encode())} for tok, lp in alternatives[:k]
    ]
    entries = [_token_entry(pieces[0], first_lp, first_top)]
    entries += [_token_entry(p, 0.0, []) for p in pieces[1:]]
    return entries


class _Core:
    """The server's state and request handling; lives on the server's event loop."""

    def __init__(
        self,
        responder: Responder,
        latency: float,
        models: Sequence[str | Mapping[str, Any]],
        api_key: str | None,
        max_recorded: int,
        cpu_clock: Callable[[], float],
    ) -> None:
        self.responder = responder
        self.latency = latency
        self.models = [dict(m) if isinstance(m, Mapping) else {"id": m} for m in models]
        self.api_key = api_key
        self.recorded: deque[dict[str, Any]] = deque(maxlen=max_recorded)
        self.cpu_clock = cpu_clock
        self.cpu_start = cpu_clock()
        self.stop_event: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.next_id = 0
        self.reset()

    def reset(self) -> None:
        self.calls = self.errors = self.other = 0
        self.prompt_tokens = self.completion_tokens = 0
        self.in_flight = self.peak_in_flight = 0
        self.by_model: dict[str, KindStats] = {}
        self.by_kind: dict[str, KindStats] = {}
        self.first_call_at: float | None = None
        self.last_reply_at: float | None = None
        self.recorded.clear()
        self.cpu_start = self.cpu_clock()

    def snapshot(self) -> dict[str, Any]:
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
            "cpu_seconds": self.cpu_clock() - self.cpu_start,
            "latency": self.latency,
            "first_call_at": self.first_call_at,
            "last_reply_at": self.last_reply_at,
        }

    # -- routing ----------------------------------------------------------------------------

    def handle(
        self, conn: _Connection, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> None:
        path = target.split("?", 1)[0].rstrip("/")
        if path.startswith("/_fake/"):
            self.admin(conn, method, path, body)
            return
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            self.other += 1
            conn.send(401, _error_body(401, "invalid api key", "invalid_api_key"))
            return
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            self.completion(conn, body, chat=True)
        elif method == "POST" and path in ("/v1/completions", "/completions"):
            self.completion(conn, body, chat=False)
        elif method == "GET" and path in ("/v1/models", "/models"):
            self.other += 1
            conn.send(200, json.dumps({"object": "list", "data": self.model_cards()}).encode())
        elif method == "POST" and path == "/tokenize":
            self.other += 1
            conn.send(200, self.tokenize(body))
        elif method == "GET" and path in ("/health", "/ping", "/version"):
            self.other += 1
            conn.send(200, b'{"status":"ok","version":"fake"}')
        else:
            self.other += 1
            conn.send(404, _error_body(404, f"no route {method} {path}", "not_found"))

    def model_cards(self) -> list[dict[str, Any]]:
        cards = self.models or [{"id": name} for name in sorted(self.by_model)] or [{"id": "fake"}]
        return [
            {"object": "model", "created": 0, "owned_by": "fake", "max_model_len": 32768} | card
            for card in cards
        ]

    def tokenize(self, raw: bytes) -> bytes:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        text = body.get("prompt") if isinstance(body, dict) else None
        if not isinstance(text, str):
            text = message_texts(body)[1] if isinstance(body, dict) else ""
        tokens = [zlib.crc32(text[i : i + 4].encode()) % 50_000 for i in range(0, len(text), 4)]
        return json.dumps({"tokens": tokens, "count": len(tokens), "max_model_len": 32768}).encode()

    def admin(self, conn: _Connection, method: str, path: str, raw: bytes) -> None:
        if path == "/_fake/stats":
            conn.send(200, json.dumps(self.snapshot()).encode())
        elif path == "/_fake/requests":
            conn.send(200, json.dumps(list(self.recorded)).encode())
        elif path == "/_fake/reset" and method == "POST":
            self.reset()
            conn.send(200, b"{}")
        elif path == "/_fake/config" and method == "POST":
            values = json.loads(raw or b"{}")
            if "latency" in values:
                self.latency = max(0.0, float(values["latency"]))
            conn.send(200, b"{}")
        elif path == "/_fake/shutdown" and method == "POST":
            conn.send(200, b"{}")
            if self.stop_event is not None:
                self.stop_event.set()
        else:
            conn.send(404, _error_body(404, f"no admin route {path}", "not_found"))

    # -- completions --------------------------------------------------------------------------

    def completion(self, conn: _Connection, raw: bytes, chat: bool) -> None:
        self.calls += 1
        if self.first_call_at is None:
            self.first_call_at = time.monotonic()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        delay = 0.0
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise FakeError(400, "the request body must be a JSON object", "invalid_request")
            self.recorded.append(body)
            response, delay, body_bytes = self.respond(body, chat)
            status, payload = 200, json.dumps(response).encode()
            if body_bytes is not None:
                payload = payload[: max(0, body_bytes)]
        except FakeError as ex:
            self.errors += 1
            status, payload = ex.status, _error_body(ex.status, ex.message, ex.kind)
        except ValueError as ex:
            self.errors += 1
            status, payload = 400, _error_body(400, f"bad request: {ex}", "invalid_request")
        except Exception as ex:
            self.errors += 1
            message = f"responder failed: {type(ex).__name__}: {ex}"
            status, payload = 500, _error_body(500, message, "server_error")
        wait = self.latency + delay
        if wait > 0 and self.loop is not None:
            self.loop.call_later(wait, self.finish, conn, status, payload)
        else:
            self.finish(conn, status, payload)

    def finish(self, conn: _Connection, status: int, payload: bytes) -> None:
        self.in_flight -= 1
        conn.send(status, payload)
        self.last_reply_at = time.monotonic()

    def respond(self, body: dict[str, Any], chat: bool) -> tuple[dict[str, Any], float, int | None]:
        """The response to one completion call, its extra delay and its body cut (if any)."""
        model = str(body.get("model") or "fake")
        n = max(1, int(body.get("n") or 1))
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        max_tokens = int(limit) if limit else None
        if chat:
            want_logprobs = bool(body.get("logprobs"))
            k = int(body.get("top_logprobs") or 0)
        else:
            want_logprobs = body.get("logprobs") is not None
            k = int(body.get("logprobs") or 0)
        prompt_tokens = _prompt_tokens(body)
        completion_tokens = 0
        choices: list[dict[str, Any]] = []
        kind = "other"
        delay, body_bytes = 0.0, None
        for index in range(n):
            result = self.responder(body)
            reply = Reply(text=result) if isinstance(result, str) else result
            kind = reply.kind or kind
            delay = max(delay, reply.delay)
            if reply.body_bytes is not None:
                cut = reply.body_bytes
                body_bytes = cut if body_bytes is None else min(body_bytes, cut)
            if reply.prompt_tokens is not None:
                prompt_tokens = reply.prompt_tokens
            text, finish = reply.text, reply.finish_reason
            tokens = reply.completion_tokens
            tokens = estimate_tokens(text) if tokens is None else tokens
            if max_tokens is not None and tokens > max_tokens:
                if reply.completion_tokens is None:
                    text = text[: max_tokens * CHARS_PER_TOKEN]
                tokens, finish = max_tokens, "length"
            completion_tokens += tokens
            logprobs = _chat_logprobs(text, reply.top_logprobs, k) if want_logprobs else None
            if chat:
                choices.append(
                    {
                        "index": index,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish,
                        "logprobs": {"content": logprobs} if logprobs is not None else None,
                    }
                )
            else:
                choices.append(
                    {
                        "index": index,
                        "text": text,
                        "finish_reason": finish,
                        "logprobs": _text_logprobs(logprobs) if logprobs is not None else None,
                    }
                )
        for table, key in ((self.by_model, model), (self.by_kind, kind)):
            entry = table.get(key)
            if entry is None:
                entry = table[key] = KindStats()
            entry.calls += 1
            entry.prompt_tokens += prompt_tokens
            entry.completion_tokens += completion_tokens
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.next_id += 1
        response = {
            "id": f"fake-{self.next_id}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return response, delay, body_bytes

    # -- serving ------------------------------------------------------------------------------

    async def serve(self, host: str, port: int, started: Callable[[int], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        self.cpu_start = self.cpu_clock()  # the serving thread's clock, not the creator's
        connections: set[_Connection] = set()
        server = await self.loop.create_server(
            lambda: _Connection(self, connections), host, port, backlog=2048, reuse_address=True
        )
        started(server.sockets[0].getsockname()[1])
        try:
            await self.stop_event.wait()
        finally:
            server.close()
            for conn in list(connections):
                conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)


def _text_logprobs(entries: list[dict[str, Any]]) -> dict[str, Any]:
    offsets, position = [], 0
    for entry in entries:
        offsets.append(position)
        position += len(entry["token"])
    return {
        "tokens": [e["token"] for e in entries],
        "token_logprobs": [e["logprob"] for e in entries],
        "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
        "text_offset": offsets,
    }


def _error_body(status: int, message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection: parses requests, writes responses."""

    def __init__(self, core: _Core, registry: set[_Connection]) -> None:
        self.core = core
        self.registry = registry
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.discard(self)
        self.transport = None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def send(self, status: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
            f"connection: {'keep-alive' if self.keep_alive else 'close'}\r\n\r\n"
        )
        transport.write(head.encode("latin-1") + payload)
        if not self.keep_alive:
            transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self._reject(400, "request head too large")
                return
            head = self.buffer[:end].decode("latin-1")
            request_line, *lines = head.split("\r\n")
            parts = request_line.split(" ")
            if len(parts) != 3:
                self._reject(400, "malformed request line")
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            start = end + 4
            if "chunked" in headers.get("transfer-encoding", "").lower():
                decoded = _dechunk(self.buffer, start)
                if decoded is None:
                    return
                body, consumed = decoded
            else:
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY_BYTES:
                    self._reject(413, "request body too large")
                    return
                if len(self.buffer) < start + length:
                    return
                body, consumed = bytes(self.buffer[start : start + length]), start + length
            del self.buffer[:consumed]
            connection = headers.get("connection", "").lower()
            self.keep_alive = connection != "close" and (
                version == "HTTP/1.1" or connection == "keep-alive"
            )
            self.core.handle(self, method, target, headers, body)

    def _reject(self, status: int, message: str) -> None:
        self.keep_alive = False
        self.send(status, _error_body(status, message, "invalid_request"))


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """A chunked body starting at `start`: (body, bytes consumed) or None when incomplete."""
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0] or b"0", 16)
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position : position + size]
        position += size + 2


def _run_core(core: _Core, host: str, port: int, started: Callable[[int], None]) -> None:
    asyncio.run(core.serve(host, port, started))


def _process_main(
    pipe: Connection,
    responder: Responder,
    latency: float,
    models: Sequence[str | Mapping[str, Any]],
    api_key: str | None,
    max_recorded: int,
    host: str,
    port: int,
) -> None:
    core = _Core(responder, latency, models, api_key, max_recorded, time.process_time)
    try:
        _run_core(core, host, port, pipe.send)
    except BaseException as ex:  # report a failed start to the parent
        with contextlib.suppress(Exception):
            pipe.send(f"{type(ex).__name__}: {ex}")
        raise


# -- the public handle ------------------------------------------------------------------------


@dataclass
class FakeOpenAIServer:
    """A fake OpenAI-compatible endpoint on 127.0.0.1 (see the module docstring).

    Args:
        responder: function of the request body returning text or a :class:`Reply`
            (default :func:`echo_responder`). In process mode it must be picklable where the
            platform cannot fork (module-level functions and dataclasses are).
        latency: seconds between a request's arrival and its response (fixed, per call).
        models: names (or vLLM-style model cards as dicts with an ``id``) that ``/v1/models``
            lists; when empty it lists the names called so far. Any model name is served.
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
        process: run in a child process instead of a daemon thread.
        max_recorded: how many request bodies :attr:`requests` keeps (the latest).
        host: a loopback address; port: 0 picks a free one.
    """

    responder: Responder = echo_responder
    latency: float = 0.0
    models: Sequence[str | Mapping[str, Any]] = ()
    api_key: str | None = None
    process: bool = False
    max_recorded: int = 256
    host: str = "127.0.0.1"
    port: int = 0
    start_timeout: float = 30.0
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _process: Any = field(default=None, init=False, repr=False)
    _core: _Core | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not ipaddress.ip_address(self.host).is_loopback:
            raise ValueError(f"the fake server binds to loopback only, not {self.host!r}")
        if self.latency < 0:
            raise ValueError("latency must be >= 0")

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        """Start serving (idempotent); returns self once the port accepts connections."""
        if self.running:
            return self
        if self.process:
            self._start_process()
        else:
            self._start_thread()
        return self

    def _start_thread(self) -> None:
        core = _Core(
            self.responder,
            self.latency,
            self.models,
            self.api_key,
            self.max_recorded,
            time.thread_time,
        )
        ready = threading.Event()
        failure: list[BaseException] = []

        def started(port: int) -> None:
            self.port = port
            ready.set()

        def run() -> None:
            try:
                _run_core(core, self.host, self.port, started)
            except BaseException as ex:
                failure.append(ex)
                ready.set()

        thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        thread.start()
        if not ready.wait(self.start_timeout) or failure:
            raise RuntimeError(f"the fake OpenAI server did not start: {failure}")
        self._thread, self._core = thread, core

    def _start_process(self) -> None:
        methods = multiprocessing.get_all_start_methods()
        context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        parent, child = context.Pipe(duplex=False)
        process = context.Process(
            target=_process_main,
            args=(
                child,
                self.responder,
                self.latency,
                list(self.models),
                self.api_key,
                self.max_recorded,
                self.host,
                self.port,
            ),
            name="fake-openai-server",
            daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(self.start_timeout):
            process.kill()
            raise RuntimeError("the fake OpenAI server process did not start in time")
        message = parent.recv()
        parent.close()
        if not isinstance(message, int):
            process.join(5)
            raise RuntimeError(f"the fake OpenAI server process failed to start: {message}")
        self.port = message
        self._process = process

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._thread is not None and self._core is not None:
            core, loop = self._core, self._core.loop
            if loop is not None and core.stop_event is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(core.stop_event.set)
            self._thread.join(10)
            self._thread = None
        if self._process is not None:
            with contextlib.suppress(OSError, http.client.HTTPException):
                self._admin("POST", "/_fake/shutdown", timeout=2)
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
            self._process = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return (self._thread is not None and self._thread.is_alive()) or (
            self._process is not None and self._process.is_alive()
        )

    # -- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT (vLLM's VLLM_BASE_URL takes /v1)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL: http://127.0.0.1:PORT/v1."""
        return f"{self.url}/v1"

    @property
    def client_api_key(self) -> str:
        """The key clients should send (any key works unless `api_key` is set)."""
        return self.api_key or DEFAULT_API_KEY

    def env(self, service: str = "fake") -> dict[str, str]:
        """Environment for Inspect's ``openai-api/<service>/<name>`` models on this server."""
        prefix = service.upper().replace("-", "_")
        return {f"{prefix}_BASE_URL": self.base_url, f"{prefix}_API_KEY": self.client_api_key}

    @staticmethod
    def model(name: str, service: str = "fake") -> str:
        """The Inspect model string for `name` on this server: ``openai-api/<service>/<name>``."""
        return f"openai-api/{service}/{name}"

    def get_model(self, name: str, service: str = "fake", **kwargs: Any) -> Model:
        """An Inspect model for `name` on this server, with its base URL and key given explicitly.

        Prefer this to model strings + :meth:`env` when a process starts several servers:
        Inspect memoizes ``get_model("openai-api/fake/x")`` per name, so a string resolved
        from the environment keeps pointing at the first server's port; an explicit base URL
        is part of the memo key. Extra arguments go to ``inspect_ai.model.get_model``.
        """
        from inspect_ai.model import get_model

        return get_model(
            self.model(name, service), base_url=self.base_url, api_key=self.client_api_key, **kwargs
        )

    @contextlib.contextmanager
    def environ(self, service: str = "fake") -> Iterator[dict[str, str]]:
        """Set :meth:`env` in ``os.environ`` for the block, then restore what was there."""
        import os
        from unittest import mock

        values = self.env(service)
        with mock.patch.dict(os.environ, values):
            yield values

    # -- counters -----------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"content-type": "application/json"} if payload is not None else {}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"fake server admin {path}: HTTP {response.status} {data!r}")
            return json.loads(data)
        finally:
            conn.close()

    def stats(self) -> ServerStats:
        """The counters now (since start or the last :meth:`reset`)."""
        return ServerStats.from_json(self._admin("GET", "/_fake/stats"))

    @property
    def calls(self) -> int:
        """Completion calls received since start or the last :meth:`reset`."""
        return self.stats().calls

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The latest request bodies (at most `max_recorded`), oldest first."""
        return list(self._admin("GET", "/_fake/requests"))

    def reset(self) -> None:
        """Zero the counters and forget the recorded requests."""
        self._admin("POST", "/_fake/reset", {})

    def set_latency(self, latency: float) -> None:
        """Change the per-call latency of a running server."""
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self._admin("POST", "/_fake/config", {"latency": latency})
        self.latency = latency
