"""The fake server's state and routes; lives on the server's event loop (thread or process).

Routes: ``POST /v1/chat/completions`` and ``/v1/completions`` (the responder, answered
``latency`` seconds after arrival), the Files and Batches API (:mod:`.batches`: each batch line
answered by the same responder, the batch done ``batch_latency`` seconds after its creation),
``GET /v1/models``, ``POST /tokenize``, ``GET /health``, and the ``/_fake/…`` admin routes the
client handle uses (stats, requests, reset, config, shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from moloch_eval.testing.fake_openai.batches import Batches
from moloch_eval.testing.fake_openai.completions import complete
from moloch_eval.testing.fake_openai.protocol import Connection, error_body
from moloch_eval.testing.fake_openai.replies import FakeError, Responder, message_texts
from moloch_eval.testing.fake_openai.stats import Counters


class Core:
    """The server's state and request handling; lives on the server's event loop."""

    def __init__(
        self,
        responder: Responder,
        latency: float,
        models: Sequence[str | Mapping[str, Any]],
        api_key: str | None,
        max_recorded: int,
        cpu_clock: Callable[[], float],
        batch_latency: float | None = None,
    ) -> None:
        self.responder = responder
        self.latency = latency
        #: seconds from a batch's creation to its completion (None: `latency`)
        self.batch_latency = batch_latency
        self.models = [dict(m) if isinstance(m, Mapping) else {"id": m} for m in models]
        self.api_key = api_key
        self.recorded: deque[dict[str, Any]] = deque(maxlen=max_recorded)
        self.cpu_clock = cpu_clock
        self.cpu_start = cpu_clock()
        self.stop_event: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.next_id = 0
        self.batches = Batches(
            lambda: self.responder,
            lambda: self.counters,
            self.recorded.append,
            self._take_id,
            lambda: self.latency if self.batch_latency is None else self.batch_latency,
            lambda: self.loop.time() if self.loop is not None else 0.0,
        )
        self.reset()

    def _take_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def reset(self) -> None:
        self.counters = Counters()
        self.recorded.clear()
        self.cpu_start = self.cpu_clock()

    def snapshot(self) -> dict[str, Any]:
        return self.counters.as_json(self.cpu_clock() - self.cpu_start, self.latency)

    # -- routing ----------------------------------------------------------------------------

    def handle(
        self, conn: Connection, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> None:
        path = target.split("?", 1)[0].rstrip("/")
        if path.startswith("/_fake/"):
            self.admin(conn, method, path, body)
            return
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            self.counters.other += 1
            conn.send(401, error_body(401, "invalid api key", "invalid_api_key"))
            return
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            self.completion(conn, body, chat=True)
        elif method == "POST" and path in ("/v1/completions", "/completions"):
            self.completion(conn, body, chat=False)
        elif method == "GET" and path in ("/v1/models", "/models"):
            self.counters.other += 1
            conn.send(200, json.dumps({"object": "list", "data": self.model_cards()}).encode())
        elif self.batches.handle(conn, method, path, headers, body):
            pass
        elif method == "POST" and path == "/tokenize":
            self.counters.other += 1
            conn.send(200, self.tokenize(body))
        elif method == "GET" and path in ("/health", "/ping", "/version"):
            self.counters.other += 1
            conn.send(200, b'{"status":"ok","version":"fake"}')
        else:
            self.counters.other += 1
            conn.send(404, error_body(404, f"no route {method} {path}", "not_found"))

    def model_cards(self) -> list[dict[str, Any]]:
        names = sorted(self.counters.by_model)
        cards = self.models or [{"id": name} for name in names] or [{"id": "fake"}]
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

    def admin(self, conn: Connection, method: str, path: str, raw: bytes) -> None:
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
            if "batch_latency" in values:
                value = values["batch_latency"]
                self.batch_latency = None if value is None else max(0.0, float(value))
            conn.send(200, b"{}")
        elif path == "/_fake/shutdown" and method == "POST":
            conn.send(200, b"{}")
            if self.stop_event is not None:
                self.stop_event.set()
        else:
            conn.send(404, error_body(404, f"no admin route {path}", "not_found"))

    # -- completions --------------------------------------------------------------------------

    def completion(self, conn: Connection, raw: bytes, chat: bool) -> None:
        counters = self.counters
        counters.received()
        delay = 0.0
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise FakeError(400, "the request body must be a JSON object", "invalid_request")
            self.recorded.append(body)
            done = complete(self.responder, body, chat, self.next_id + 1)
            self.next_id += 1
            counters.tally(done.model, done.kind, done.prompt_tokens, done.completion_tokens)
            delay = done.delay
            status, payload = 200, json.dumps(done.response).encode()
            if done.body_bytes is not None:
                payload = payload[: max(0, done.body_bytes)]
        except FakeError as ex:
            counters.errors += 1
            status, payload = ex.status, error_body(ex.status, ex.message, ex.kind)
        except ValueError as ex:
            counters.errors += 1
            status, payload = 400, error_body(400, f"bad request: {ex}", "invalid_request")
        except Exception as ex:
            counters.errors += 1
            message = f"responder failed: {type(ex).__name__}: {ex}"
            status, payload = 500, error_body(500, message, "server_error")
        wait = self.latency + delay
        if wait > 0 and self.loop is not None:
            self.loop.call_later(wait, self.finish, conn, status, payload)
        else:
            self.finish(conn, status, payload)

    def finish(self, conn: Connection, status: int, payload: bytes) -> None:
        conn.send(status, payload)
        self.counters.replied()

    # -- serving ------------------------------------------------------------------------------

    async def serve(self, host: str, port: int, started: Callable[[int], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        self.cpu_start = self.cpu_clock()  # the serving thread's clock, not the creator's
        connections: set[Connection] = set()
        server = await self.loop.create_server(
            lambda: Connection(self.handle, connections),
            host,
            port,
            backlog=2048,
            reuse_address=True,
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
