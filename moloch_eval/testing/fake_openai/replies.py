"""What a responder of the fake server sees and returns: the request texts, a `Reply`, errors.

A responder is a plain function of the request body (a dict: ``model``, ``messages`` or
``prompt``, ``max_tokens``, ``logprobs``, ``top_logprobs``, …) returning the reply text or a
:class:`Reply`; raising :class:`FakeError` answers the call with that HTTP error. Token counts
come from a fake tokenizer of :data:`CHARS_PER_TOKEN` characters a token.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: characters per token of the fake tokenizer (the usual rule of thumb for English)
CHARS_PER_TOKEN = 4


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


def as_reply(result: str | Reply) -> Reply:
    """A responder's result as a :class:`Reply` (a plain string is its text)."""
    return Reply(text=result) if isinstance(result, str) else result


class FakeError(Exception):
    """Raise in a responder to answer the call with an HTTP error (e.g. 429, 500)."""

    def __init__(self, status: int, message: str = "fake error", kind: str = "fake_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


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


def prompt_tokens(body: Mapping[str, Any]) -> int:
    """The fake tokenizer's count of a request's prompt (4 tokens of framing a message)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        chars = sum(len(_content_text(m.get("content"))) for m in messages if isinstance(m, dict))
        return math.ceil(chars / CHARS_PER_TOKEN) + 4 * len(messages)
    prompt = body.get("prompt")
    return estimate_tokens(prompt) if isinstance(prompt, str) else 0
