"""The ``logprobs`` of a fake completion: chat-style entries and the legacy text-API layout.

The text is cut into whitespace-led pieces, one fake token each; only the first token carries
the responder's alternatives (``Reply.top_logprobs``), every other token has log-probability 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_TOKEN_PIECE = re.compile(r"\s*\S+|\s+")


def _token_entry(token: str, logprob: float, top: list[dict[str, Any]]) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": top}


def chat_logprobs(
    text: str, top: Sequence[tuple[str, float]] | None, k: int
) -> list[dict[str, Any]]:
    """``choices[i].logprobs.content`` of a chat completion: one entry a token, `k` alternatives."""
    pieces = _TOKEN_PIECE.findall(text) or [""]
    alternatives = sorted(top or [], key=lambda t: -t[1])
    first_lp = next((lp for tok, lp in alternatives if tok == pieces[0]), 0.0)
    first_top = [
        {"token": tok, "logprob": lp, "bytes": list(tok.encode())} for tok, lp in alternatives[:k]
    ]
    entries = [_token_entry(pieces[0], first_lp, first_top)]
    entries += [_token_entry(p, 0.0, []) for p in pieces[1:]]
    return entries


def text_logprobs(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The same entries in the text API's layout (tokens, token_logprobs, top_logprobs, offsets)."""
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
