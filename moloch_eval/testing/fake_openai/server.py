"""`FakeOpenAIServer`: starts the fake server in a daemon thread or a child process, and is
the client handle on it (addresses, Inspect models, counters, recorded requests, latency).

The child process runs :func:`_process_main` (module-level, so it can be spawned); the
responder is pickled to it where the platform cannot fork.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import ipaddress
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType
from typing import TYPE_CHECKING, Any

from moloch_eval.testing.fake_openai.core import Core
from moloch_eval.testing.fake_openai.replies import Responder
from moloch_eval.testing.fake_openai.responders import echo_responder
from moloch_eval.testing.fake_openai.stats import ServerStats

if TYPE_CHECKING:
    from inspect_ai.model import Model

DEFAULT_API_KEY = "fake-key"


def _run_core(core: Core, host: str, port: int, started: Callable[[int], None]) -> None:
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
    batch_latency: float | None = None,
) -> None:
    core = Core(responder, latency, models, api_key, max_recorded, time.process_time, batch_latency)
    try:
        _run_core(core, host, port, pipe.send)
    except BaseException as ex:  # report a failed start to the parent
        with contextlib.suppress(Exception):
            pipe.send(f"{type(ex).__name__}: {ex}")
        raise


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
        batch_latency: seconds from a batch's creation (Batches API) to its completion;
            None: `latency`.
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
    batch_latency: float | None = None
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _process: Any = field(default=None, init=False, repr=False)
    _core: Core | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not ipaddress.ip_address(self.host).is_loopback:
            raise ValueError(f"the fake server binds to loopback only, not {self.host!r}")
        if self.latency < 0 or (self.batch_latency or 0) < 0:
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
        core = Core(
            self.responder,
            self.latency,
            self.models,
            self.api_key,
            self.max_recorded,
            time.thread_time,
            self.batch_latency,
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
                self.batch_latency,
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
