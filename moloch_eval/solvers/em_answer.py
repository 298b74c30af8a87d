"""The evaluated model answers one EM question (one sample = one completion)."""

from __future__ import annotations

import hashlib
import re

from inspect_ai.model import CachePolicy
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import StoreModel
from pydantic import Field

from moloch_eval.solvers.messages import full_generation

#: A leading think block (models that reason in their answer, e.g. Qwen3 on the hf provider).
_LEADING_THINK = re.compile(r"^\s*<think>.*?</think>\s*", flags=re.DOTALL)


class EMAnswer(StoreModel):
    """The answer as generated (thoughts included) and as the judge is shown it."""

    generation: str = ""
    answer: str = ""
    thoughts: str | None = None
    stop_reason: str | None = None
    seed: int | None = Field(default=None)


def visible_answer(generation: str) -> tuple[str, str | None]:
    """The answer without a leading `<think>` block, and the block's text (None if none).

    Judges grade what the user would read, as in Betley et al. (whose models did not think).
    """
    match = _LEADING_THINK.match(generation)
    if match is None:
        return generation.strip(), None
    thoughts = match.group(0).strip()[len("<think>") : -len("</think>")].strip()
    return generation[match.end() :].strip(), thoughts


def sample_seed(seed: int, sample_id: str | int | None, epoch: int) -> int:
    """A generation seed per sample: reproducible, and different for every completion (a
    single seed would make providers that honour it repeat one answer a hundred times)."""
    digest = hashlib.sha256(f"{seed}:{sample_id}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@solver
def em_answer(
    temperature: float = 1.0,
    max_tokens: int = 600,
    seed: int | None = 0,
    cache: bool = False,
) -> Solver:
    """Generate one answer (paper setting: temperature 1, at most 600 tokens).

    With `seed` set, each sample gets its own seed derived from it (`sample_seed`). With
    `cache`, answers are cached per sample (so a re-run reuses them, yet the 100 samples of one
    question stay 100 different completions).
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        own_seed = None if seed is None else sample_seed(seed, state.sample_id, state.epoch)
        policy = (
            CachePolicy(expiry=None, scopes={"sample": str(state.sample_id)}) if cache else False
        )
        state = await generate(
            state, cache=policy, temperature=temperature, max_tokens=max_tokens, seed=own_seed
        )
        record = state.store_as(EMAnswer)
        record.generation = full_generation(state.output)
        record.answer, record.thoughts = visible_answer(record.generation)
        record.stop_reason = state.output.stop_reason if state.output.choices else None
        record.seed = own_seed
        return state

    return solve
