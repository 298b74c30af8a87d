"""Asking a model again when its reply cannot be read (the voters', the probe judge's and the EM
judge's bounded re-asks), with each attempt cached under its own scope."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from inspect_ai.model import CachePolicy, ChatMessage, GenerateConfig, Model, ModelOutput

from moloch_eval.solvers.events import calls_logged
from moloch_eval.solvers.messages import full_generation

#: reads one reply (its whole text and the output it came in); True when it was readable
Read = Callable[[str, ModelOutput], bool]


def attempt_cache(
    enabled: bool, attempt: int, scopes: Mapping[str, str] | None = None
) -> bool | CachePolicy:
    """The cache policy of one attempt: never expires, scoped by `scopes` and the attempt
    number (a re-ask is a new call, and a rerun replays every attempt); False when off."""
    if not enabled:
        return False
    return CachePolicy(expiry=None, scopes={**(scopes or {}), "attempt": str(attempt)})


async def ask_until_read(
    model: Model,
    messages: list[ChatMessage],
    config: GenerateConfig,
    attempts: int,
    read: Read,
    replies: list[str],
    cache: bool = False,
    scopes: Mapping[str, str] | None = None,
    events: bool = True,
) -> int:
    """Ask up to `attempts` times, until `read` says a reply was readable.

    Every reply is appended to `replies` whole, reasoning content included (see
    `full_generation`), before `read` sees it; attempt `i` is cached as `attempt_cache` says.
    `events` False keeps the calls' model events out of the sample's transcript (`events`);
    the retries such unlogged calls took are returned (0 when logged: the events hold them).
    """
    retries = 0
    for attempt in range(attempts):
        with calls_logged(events) as calls:
            output = await model.generate(
                messages, config=config, cache=attempt_cache(cache, attempt, scopes)
            )
        retries += calls.retries
        reply = full_generation(output)
        replies.append(reply)
        if read(reply, output):
            break
    return retries
