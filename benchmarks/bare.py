"""Inspect's own floor: a bare task that makes the competition's calls and nothing else.

Per sample: the agent's message, then the opponent's, then every persona's vote concurrently,
then per probe both verdicts concurrently (in the scorer, as moloch_eval's probes are) — the
same requests as `benchmarks.reference` builds (moloch_eval's prompt builders), through
Inspect's `Model.generate` on the same endpoint. No store, no records, no parsing beyond
extracting the message. The CPU per call of this task is what Inspect itself costs per call;
moloch_eval's share is its own CPU per call above it, measured in the same run.

`unlogged=True` runs the votes and verdicts outside the sample's transcript, as moloch_eval's
default `-T model_events=messages` does, so the difference is the package's own work.
"""

from __future__ import annotations

import asyncio
from typing import Any

from inspect_ai import Task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import (
    ChatMessage,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    Model,
    get_model,
)
from inspect_ai.scorer import Score, Scorer, Target, mean, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from benchmarks.workload import Workload
from moloch_eval.data import load_anchors
from moloch_eval.domains import AGENT_SYSTEM_PROMPT
from moloch_eval.garbage_collection import tune_collector
from moloch_eval.parsing import extract_message
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
from moloch_eval.solvers.events import calls_logged
from moloch_eval.tasks.competition import choose_personas


def _chat(system: str, user: str) -> list[ChatMessage]:
    return [ChatMessageSystem(content=system), ChatMessageUser(content=user)]


def _configs(workload: Workload) -> tuple[GenerateConfig, GenerateConfig, GenerateConfig]:
    one_token = GenerateConfig(max_tokens=1, logprobs=True, top_logprobs=20)
    vote = GenerateConfig(temperature=0.1) if workload.audience_mode == "think" else one_token
    judge = GenerateConfig(temperature=0.7) if workload.judge_mode == "think" else one_token
    return GenerateConfig(temperature=0.7, max_tokens=1480), vote, judge


@solver
def _bare_calls(workload: Workload, unlogged: bool) -> Solver:
    domain = workload.spec
    personas = choose_personas("split1", workload.personas, workload.seed)
    agent_config, vote_config, _ = _configs(workload)
    mode = workload.audience_mode

    async def vote(voter: Model, sample_id: Any, index: int, texts: dict[str, str]) -> None:
        letters = letter_map(workload.seed, sample_id, index)
        choices = [texts[letters[letter]] for letter in LETTERS]
        user = vote_user_prompt(domain, personas[index].faithful(), choices, mode)
        with calls_logged(not unlogged):
            await voter.generate(_chat(vote_system_prompt(mode), user), config=vote_config)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        prompt = _chat(AGENT_SYSTEM_PROMPT, state.input_text)
        texts: dict[str, str] = {}
        for side, model in (("agent", get_model()), ("opponent", get_model(role="opponent"))):
            output = await model.generate(prompt, config=agent_config)
            texts[side] = extract_message(output.completion, domain.answer_tag) or ""
        state.metadata["texts"] = texts
        voter = get_model(role="audience")
        await asyncio.gather(
            *(vote(voter, state.sample_id, i, texts) for i in range(len(personas)))
        )
        return state

    return solve


@scorer(metrics=[mean()])
def _bare_verdicts(workload: Workload, unlogged: bool) -> Scorer:
    domain = workload.spec
    _, _, judge_config = _configs(workload)
    anchors = {a.id: a for a in load_anchors(workload.domain, "test")}

    async def verdict(probe_name: str, anchor_id: Any, message: str) -> None:
        probe = PROBES[probe_name]
        system = judge_system_prompt(probe, workload.judge_mode)
        user = judge_user_prompt(
            domain,
            probe,
            anchors[anchor_id].fields,
            message,
            probe.shows_anchor,
            workload.judge_mode,
        )
        with calls_logged(not unlogged):
            await get_model(role="judge").generate(_chat(system, user), config=judge_config)

    async def score(state: TaskState, target: Target) -> Score:
        texts: dict[str, str] = state.metadata["texts"]
        for name in workload.probe_names:
            await asyncio.gather(*(verdict(name, state.sample_id, t) for t in texts.values()))
        return Score(value=len(workload.probe_names))

    return score


def bare_competition(workload: Workload, unlogged: bool = True, tuned_gc: bool = True) -> Task:
    """The competition's calls on Inspect alone (see the module docstring).

    `tuned_gc`: the garbage collector set as the package's tasks set it, so the floor is
    measured under the same settings (False: CPython's defaults).
    """
    if tuned_gc:
        tune_collector()
    anchors = load_anchors(workload.domain, "test")[: workload.anchors]
    samples = [Sample(id=a.id, input=agent_user_prompt(workload.spec, a.fields)) for a in anchors]
    return Task(
        dataset=MemoryDataset(samples, name=f"bare_{workload.domain}"),
        solver=_bare_calls(workload, unlogged),
        scorer=_bare_verdicts(workload, unlogged),
        config=GenerateConfig(seed=workload.seed),
    )
