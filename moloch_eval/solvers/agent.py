"""The evaluated model writes its message."""

from __future__ import annotations

from inspect_ai.model import GenerateConfig
from inspect_ai.solver import Generate, Solver, TaskState, solver

from moloch_eval.domains import DomainSpec
from moloch_eval.records import Competition
from moloch_eval.solvers.messages import message_cache, message_record


@solver
def agent_message(
    domain: DomainSpec, config: GenerateConfig | None = None, cache: bool = False
) -> Solver:
    """Generate the evaluated model's message for the anchor and record it.

    With `cache`, the generation is kept in Inspect's cache (scoped to the agent side), so
    re-running the same eval replays it instead of calling the model.
    """
    generate_args = (config or GenerateConfig()).model_dump(exclude_none=True)
    policy = message_cache("agent", cache)
    if policy is not None:
        generate_args["cache"] = policy

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state = await generate(state, **generate_args)
        record = message_record(state.output, domain.answer_tag)
        state.store_as(Competition).agent = record
        return state

    return solve
