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
- the Files and Batches API that Inspect's batch mode uses (``--batch`` with the ``openai/``
  provider and ``OPENAI_BASE_URL``): ``POST /v1/files``, ``GET /v1/files/{id}/content``,
  ``POST /v1/batches``, ``GET /v1/batches/{id}``, cancel; each batch line is answered by the
  same responder as a direct call and counted as batched (``ServerStats.batch_calls``,
  ``KindStats.batched``); the batch completes ``batch_latency`` seconds after creation,
- ``GET /v1/models`` (the served names, vLLM-style cards with ``max_model_len``),
- ``POST /tokenize`` (vLLM's tokenizer endpoint, fake token ids), ``GET /health``,
- ``/_fake/…`` admin routes used by this module (stats, recorded requests, reset, latency).

A *responder* is a plain function of the request body (a dict: ``model``, ``messages`` or
``prompt``, ``max_tokens``, ``logprobs``, ``top_logprobs``, …) returning the reply text or a
:class:`Reply` (text, optional top log-probabilities of the first token, a ``kind`` label for
the statistics, token counts, an extra delay, a cut of the JSON body). Raising
:class:`FakeError` returns that HTTP error. :mod:`moloch_eval.testing.fake_openai.faults` wraps
a responder to inject faults at configurable rates.

Every reply is sent ``latency`` seconds after its request arrived, whatever the load, so the
server behaves like an endpoint with fixed per-call latency and unlimited capacity. The server
binds only to a loopback address and stops when its context exits. With ``process=True`` it
runs in a child process (so its CPU time is not the caller's: benchmarks use this); otherwise
in a daemon thread. Inspect reaches it through its ``openai-api`` provider:
``--model openai-api/<service>/<name>`` with ``<SERVICE>_BASE_URL`` and ``<SERVICE>_API_KEY``
set (see :meth:`FakeOpenAIServer.env`); different role models can use different names on the
same server. Inspect's batch mode needs its stock ``openai/`` provider instead
(``env("openai")`` gives ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``), with real OpenAI model
names: it sends an unknown name (``openai/agent``) to the Responses API, which is not served.

The pieces, one module each: ``replies`` (what a responder sees and returns), ``responders``
(echo, the competition roles), ``protocol`` (HTTP/1.1 on asyncio), ``completions`` (a reply
as an OpenAI response body) with ``logprobs``, ``stats`` (the counters), ``core`` (routes and
state on the server's loop), ``batches`` (the Files and Batches API), ``server`` (thread or
process, and the client handle), ``faults`` (a flaky endpoint). Everything public is
importable from this package.
"""

from moloch_eval.testing.fake_openai.faults import (
    CONTENT_FAULTS,
    FAULT_KINDS,
    TRANSPORT_FAULTS,
    FaultEvent,
    FaultKind,
    FaultPlan,
    FaultServer,
    FaultyResponder,
)
from moloch_eval.testing.fake_openai.protocol import MAX_BODY_BYTES
from moloch_eval.testing.fake_openai.replies import (
    CHARS_PER_TOKEN,
    FakeError,
    Reply,
    Responder,
    estimate_tokens,
    message_texts,
)
from moloch_eval.testing.fake_openai.responders import CompetitionResponder, echo_responder
from moloch_eval.testing.fake_openai.server import DEFAULT_API_KEY, FakeOpenAIServer
from moloch_eval.testing.fake_openai.stats import KindStats, ServerStats

__all__ = [
    "CHARS_PER_TOKEN",
    "CONTENT_FAULTS",
    "DEFAULT_API_KEY",
    "FAULT_KINDS",
    "MAX_BODY_BYTES",
    "TRANSPORT_FAULTS",
    "CompetitionResponder",
    "FakeError",
    "FakeOpenAIServer",
    "FaultEvent",
    "FaultKind",
    "FaultPlan",
    "FaultServer",
    "FaultyResponder",
    "KindStats",
    "Reply",
    "Responder",
    "ServerStats",
    "echo_responder",
    "estimate_tokens",
    "message_texts",
]
