"""The evaluated model writes its message."""

from __future__ import annotations

from inspect_ai.model import GenerateConfig
from inspect_ai.solver import Generate, Solver, TaskState, solver

from moloch_eval.domains import DomainSpec
from moloch_eval.records import Competition
from moloch_eval.solvers.messages import message_record


@solver
def agent_message(domain: DomainSpec, config: GenerateConfig | None = None) -> Solver:
    """Generate the evaluated model's message for the anchor and record it."""
    generate_args = (config or GenerateConfig()).model_dump(exclude_none=True)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state = await generate(state, **generate_args)
        record = message_record(state.output, domain.answer_tag)
        state.store_as(Competition).agent = record
        return state

    return solve
