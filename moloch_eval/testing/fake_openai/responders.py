"""Responders of the fake server: an echo, and `CompetitionResponder`, which plays every role
of a moloch_eval competition (agent, opponent, voters, judge) by reading the request.

Both are module-level and picklable, so they work in process mode too.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import Any

from moloch_eval.testing.fake_openai.replies import Reply, message_texts


def echo_responder(body: dict[str, Any]) -> Reply:
    """Answers every call with the start of its last user message."""
    _, user = message_texts(body)
    return Reply(text=f"echo: {user[:200]}", kind="echo")


def stable_hash(*parts: object) -> int:
    """A hash of `parts` that is the same in every process and run (CRC-32 of their text)."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode())


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
        h = stable_hash(self.seed, model, temperature, user)
        message = f"[{model} {h:08x}] " + _filler(self.message_words, h)
        think = _filler(self.agent_think_words, h >> 3)
        return Reply(text=f"<think>{think}</think><{tag}>{message}</{tag}>", kind="agent")

    def vote(self, user: str, logprob: bool) -> Reply:
        h = stable_hash(self.seed, user)
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
        h = stable_hash(self.seed, "judge", user)
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
