"""One completion call of the fake server: the responder's replies as an OpenAI response body.

Handles ``n`` choices, ``max_tokens`` / ``max_completion_tokens`` (a longer reply is cut, with
``finish_reason="length"``), chat and text ``logprobs``, and ``usage`` token counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from moloch_eval.testing.fake_openai.logprobs import chat_logprobs, text_logprobs
from moloch_eval.testing.fake_openai.replies import (
    CHARS_PER_TOKEN,
    Responder,
    as_reply,
    estimate_tokens,
    prompt_tokens,
)


@dataclass(frozen=True)
class Completion:
    """The response body of one call, and what the server needs to send and count it."""

    response: dict[str, Any]
    model: str
    #: the last reply kind given by a choice ("other" when none was)
    kind: str
    prompt_tokens: int
    completion_tokens: int
    #: extra seconds before sending (the longest of the choices')
    delay: float
    #: cut the JSON body to this many bytes (the shortest of the choices'), or None
    body_bytes: int | None


def complete(responder: Responder, body: dict[str, Any], chat: bool, call_id: int) -> Completion:
    """Ask `responder` once a choice and build the response (``id`` is ``fake-<call_id>``)."""
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
    prompt = prompt_tokens(body)
    completion = 0
    choices: list[dict[str, Any]] = []
    kind = "other"
    delay, body_bytes = 0.0, None
    for index in range(n):
        reply = as_reply(responder(body))
        kind = reply.kind or kind
        delay = max(delay, reply.delay)
        if reply.body_bytes is not None:
            cut = reply.body_bytes
            body_bytes = cut if body_bytes is None else min(body_bytes, cut)
        if reply.prompt_tokens is not None:
            prompt = reply.prompt_tokens
        text, finish = reply.text, reply.finish_reason
        tokens = reply.completion_tokens
        tokens = estimate_tokens(text) if tokens is None else tokens
        if max_tokens is not None and tokens > max_tokens:
            if reply.completion_tokens is None:
                text = text[: max_tokens * CHARS_PER_TOKEN]
            tokens, finish = max_tokens, "length"
        completion += tokens
        logprobs = chat_logprobs(text, reply.top_logprobs, k) if want_logprobs else None
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
                    "logprobs": text_logprobs(logprobs) if logprobs is not None else None,
                }
            )
    response = {
        "id": f"fake-{call_id}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return Completion(response, model, kind, prompt, completion, delay, body_bytes)
