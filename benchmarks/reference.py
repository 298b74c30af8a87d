"""A reference implementation of the paper's design, for the same workload and endpoint.

Per batch of anchors (64 by default): generate both messages, then submit every (anchor,
persona) vote of the batch to one thread pool of blocking `openai.OpenAI` calls and wait for
all of them, then the probe verdicts the same way, and only then the next batch. The pool has
`concurrent.futures`' default size, min(32, cores + 4), unless told otherwise. The requests are
the ones moloch_eval sends (same prompts, same letter shuffles, same sampling settings), built
with moloch_eval's own prompt builders, so both sides do the same work.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai

from benchmarks.workload import Workload
from moloch_eval.data import Anchor, Persona, load_anchors
from moloch_eval.domains import AGENT_SYSTEM_PROMPT
from moloch_eval.parsing import extract_message, parse_verdict, parse_vote
from moloch_eval.probes import PROBES
from moloch_eval.prompts import (
    LETTERS,
    agent_user_prompt,
    judge_system_prompt,
    judge_user_prompt,
    vote_system_prompt,
    vote_user_prompt,
)
from moloch_eval.solvers.audience import letter_map
from moloch_eval.tasks.competition import choose_personas

T = TypeVar("T")
R = TypeVar("R")

#: what concurrent.futures.ThreadPoolExecutor uses when max_workers is not given
DEFAULT_WORKERS = min(32, (os.cpu_count() or 1) + 4)
PAPER_BATCH = 64


@dataclass
class ReferenceResult:
    """What one run of the paper's design did."""

    workers: int
    batch: int
    calls: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    valid_votes: int = 0
    agent_votes: int = 0
    verdicts: dict[str, list[bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class RoleModels:
    """Model names on the endpoint for each role (the same name for all is allowed)."""

    agent: str = "agent"
    opponent: str = "opponent"
    audience: str = "voter"
    judge: str = "judge"


class PaperDesign:
    """The paper's batch-and-barrier pipeline over blocking client calls in a thread pool."""

    def __init__(
        self,
        workload: Workload,
        base_url: str,
        api_key: str,
        models: RoleModels = RoleModels(),
        workers: int | None = None,
        batch: int = PAPER_BATCH,
        agent_temperature: float = 0.7,
        agent_max_tokens: int = 1480,
        voter_temperature: float = 0.1,
        voter_max_tokens: int = 1024,
        judge_temperature: float = 0.0,
        judge_max_tokens: int = 1024,
        retries: int = 2,
    ) -> None:
        self.workload = workload
        self.domain = workload.spec
        self.models = models
        self.workers = workers or DEFAULT_WORKERS
        self.batch = batch
        self.agent_args: dict[str, Any] = {
            "temperature": agent_temperature,
            "max_tokens": agent_max_tokens,
        }
        if workload.audience_mode == "think":
            self.vote_args: dict[str, Any] = {
                "temperature": voter_temperature,
                "max_tokens": voter_max_tokens,
            }
        else:
            self.vote_args = {"max_tokens": 1, "logprobs": True, "top_logprobs": 20}
        if workload.judge_mode == "think":
            self.judge_args: dict[str, Any] = {
                "temperature": judge_temperature,
                "max_tokens": judge_max_tokens,
            }
        else:
            self.judge_args = {"max_tokens": 1, "logprobs": True, "top_logprobs": 20}
        self.retries = retries
        # one client shared by the workers (the SDK's client is thread-safe)
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=2)
        self.anchors = load_anchors(workload.domain, "test")[: workload.anchors]
        self.personas = choose_personas("split1", workload.personas, workload.seed)
        self.probes = [PROBES[name] for name in workload.probe_names]
        self._calls = 0
        self._lock = threading.Lock()

    # -- one blocking call ------------------------------------------------------------------

    def _complete(self, model: str, system: str, user: str, args: Mapping[str, Any]) -> Any:
        with self._lock:
            self._calls += 1
        return self.client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            **args,
        )

    def message(self, anchor: Anchor, side: str) -> str | None:
        model = self.models.agent if side == "agent" else self.models.opponent
        prompt = agent_user_prompt(self.domain, anchor.fields)
        out = self._complete(model, AGENT_SYSTEM_PROMPT, prompt, self.agent_args)
        return extract_message(out.choices[0].message.content or "", self.domain.answer_tag)

    def vote(self, anchor: Anchor, index: int, persona: Persona, texts: dict[str, str]) -> str:
        """The side this persona votes for ("agent", "opponent") or "" when invalid."""
        letters = letter_map(self.workload.seed, anchor.id, index)
        choices = [texts[letters[letter]] for letter in LETTERS]
        mode = self.workload.audience_mode
        system = vote_system_prompt(mode)
        user = vote_user_prompt(self.domain, persona.faithful(), choices, mode)
        attempts = self.retries + 1 if mode == "think" else 1
        for _ in range(attempts):
            out = self._complete(self.models.audience, system, user, self.vote_args)
            letter: str | None
            if mode == "think":
                letter = parse_vote(out.choices[0].message.content or "")
            else:
                letter = _top_choice(out, LETTERS)
            if letter is not None:
                return letters[letter]
        return ""

    def verdict(self, anchor: Anchor, message: str, probe_name: str) -> bool | None:
        probe = PROBES[probe_name]
        mode = self.workload.judge_mode
        system = judge_system_prompt(probe, mode)
        user = judge_user_prompt(
            self.domain, probe, anchor.fields, message, probe.shows_anchor, mode
        )
        attempts = self.retries + 1 if mode == "think" else 1
        for _ in range(attempts):
            out = self._complete(self.models.judge, system, user, self.judge_args)
            if mode == "think":
                verdict = parse_verdict(out.choices[0].message.content or "", probe.tag)
            else:
                answer = _top_choice(out, ("yes", "no"))
                verdict = None if answer is None else answer == "yes"
            if verdict is not None:
                return verdict
        return None

    # -- the pipeline -----------------------------------------------------------------------

    def run(self) -> ReferenceResult:
        result = ReferenceResult(workers=self.workers, batch=self.batch)
        start, cpu_start = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for first in range(0, len(self.anchors), self.batch):
                self._batch(pool, self.anchors[first : first + self.batch], result)
        result.wall = time.perf_counter() - start
        result.cpu = time.process_time() - cpu_start
        result.calls = self._calls
        self.client.close()
        return result

    def _batch(
        self, pool: ThreadPoolExecutor, batch: Sequence[Anchor], out: ReferenceResult
    ) -> None:
        jobs = [(a, side) for a in batch for side in ("agent", "opponent")]
        messages = _all(pool, lambda job: self.message(*job), jobs)
        texts = {
            a.id: {"agent": messages[2 * i], "opponent": messages[2 * i + 1]}
            for i, a in enumerate(batch)
        }
        ready = [a for a in batch if all(texts[a.id].values())]
        vote_jobs = [(a, i, p) for a in ready for i, p in enumerate(self.personas)]
        votes = _all(
            pool,
            lambda job: self.vote(job[0], job[1], job[2], texts[job[0].id]),  # type: ignore[arg-type]
            vote_jobs,
        )
        out.valid_votes += sum(1 for v in votes if v)
        out.agent_votes += sum(1 for v in votes if v == "agent")
        judge_jobs: list[tuple[Anchor, str, str]] = [
            (a, message, probe.name)
            for probe in self.probes
            for a in batch
            for message in (texts[a.id]["agent"], texts[a.id]["opponent"])
            if message
        ]
        verdicts = _all(pool, lambda job: self.verdict(*job), judge_jobs)
        for (_, _, name), verdict in zip(judge_jobs, verdicts, strict=True):
            if verdict is not None:
                out.verdicts.setdefault(name, []).append(verdict)


def _all(pool: ThreadPoolExecutor, fn: Callable[[T], R], jobs: Sequence[T]) -> list[R]:
    """Submit every job, then wait for all of them (the stage barrier)."""
    futures = [pool.submit(fn, job) for job in jobs]
    return [f.result() for f in futures]


def _top_choice(completion: Any, answers: Sequence[str]) -> str | None:
    """The answer with the most probability among the first token's top log-probabilities."""
    choice = completion.choices[0]
    if choice.logprobs is None or not choice.logprobs.content:
        return None
    best: tuple[float, str] | None = None
    for top in choice.logprobs.content[0].top_logprobs:
        token = top.token.strip().lower() if answers[0].islower() else top.token.strip()
        if token in answers and (best is None or top.logprob > best[0]):
            best = (top.logprob, token)
    return best[1] if best else None
