"""Model roles of a competition: bound by the user, or the paper's defaults, never the agent.

Unbound roles are resolved when the task is built inside an eval (the `inspect eval` path),
so a default whose provider cannot start fails before any sample runs. A task object built
outside an eval (`eval(sales(), model_roles=...)`) defers the same check to the solvers.
"""

from __future__ import annotations

import sys

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import Model, get_model, model_roles

#: The paper's voter (gpt-4o-mini), pinned to a dated snapshot for reproducibility.
PAPER_VOTER = "openai/gpt-4o-mini-2024-07-18"
#: The paper's judge (gpt-4o), pinned to a dated snapshot.
PAPER_JUDGE = "openai/gpt-4o-2024-08-06"


#: Inspect modules that build tasks by name with the eval's roles bound
_TASK_RESOLVERS = frozenset({"inspect_ai._eval.eval", "inspect_ai._eval.loader"})


def _in_eval() -> bool:
    """Whether Inspect itself is building this task (by name, inside `eval`/`eval_set`).

    Only then are the bound roles known at construction time. A task object built by user
    code before calling `eval()` gets its roles later, so its checks are deferred.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") in _TASK_RESOLVERS:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _how_to_bind(role: str, task: str) -> str:
    return (
        f"Bind it: inspect eval {task} --model <agent> --model-role {role}=<provider/model> "
        f"(any Inspect model, e.g. {role}=openai/gpt-4o-mini or {role}=vllm/Qwen/Qwen3-8B), "
        f"or model_roles={{'{role}': ...}} in eval()."
    )


def role_model(role: str, default: str | None, task: str) -> Model:
    """The model bound to `role`, else its default; a clear error if neither can be had."""
    if role in model_roles():
        return get_model(role=role)
    if default is None:
        raise PrerequisiteError(
            f"The '{role}' model role is needed but not bound. {_how_to_bind(role, task)}"
        )
    try:
        return get_model(default, role=role)
    except Exception as ex:
        lines = [line.strip() for line in str(ex).splitlines() if line.strip()]
        raise PrerequisiteError(
            f"The '{role}' model role is not bound, so it defaults to the paper's {default}, "
            f"which could not start ({type(ex).__name__}: {lines[0] if lines else ''}). "
            + _how_to_bind(role, task)
        ) from ex


def role_defaults(needed: dict[str, str | None], task: str) -> dict[str, Model]:
    """Models for the needed roles left unbound, resolved now when inside an eval."""
    if not _in_eval():
        return {}
    bound = model_roles()
    return {
        role: role_model(role, default, task)
        for role, default in needed.items()
        if role not in bound
    }
