"""Task arguments checked before anything runs: unknown names, wrong types, bad values.

Inspect only warns about a `-T` name a task does not take and then runs without it, so a typo
(`-T judge_mod=logprob`) would silently run another protocol. The registered tasks therefore
take every keyword (`**given`) and check them here: an unknown name, a value of the wrong type
or a value the task refuses (a `ValueError` while building it) stops `inspect eval` before any
log is written, with a `TaskArgumentError` that names the value and says what to pass instead.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import types
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Union, get_args, get_origin, get_type_hints

from inspect_ai._util.error import PrerequisiteError

from moloch_eval.garbage_collection import tune_collector

logger = logging.getLogger(__name__)

#: the name of the catch-all keyword parameter added to the tasks' published signatures
GIVEN = "given"


class TaskArgumentError(PrerequisiteError, ValueError):
    """A task argument that cannot be used; the message says which and what to pass.

    A `PrerequisiteError`, so `inspect eval` prints the message without a traceback, and a
    `ValueError`, as the tasks raised before.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.message)


def with_given(signature: inspect.Signature) -> inspect.Signature:
    """`signature` plus a `**given` parameter, so Inspect passes unknown `-T` names through."""
    extra = inspect.Parameter(GIVEN, inspect.Parameter.VAR_KEYWORD)
    return signature.replace(parameters=[*signature.parameters.values(), extra])


_KINDS = {bool: "true or false", int: "a whole number", float: "a number"}


def _scalar_kinds(hint: Any) -> list[type] | None:
    """The scalar types of a hint like `int` or `float | None`; None for hints that are not
    made of bool/int/float only (text and lists are checked by value when the task is built)."""
    members = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    kinds = [m for m in members if m is not type(None)]
    if not kinds or any(k not in _KINDS for k in kinds):
        return None
    return kinds


def _fits(kind: type, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_arguments(
    task: str,
    func: Callable[..., Any],
    parameters: Collection[str],
    given: Mapping[str, Any],
    ignored: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The arguments of `given` that `task` takes, checked by name and by type.

    `parameters`: the names the task takes (their types are `func`'s annotations). `ignored`:
    names the task fixes (with their value); they are dropped with a warning, as Inspect
    does. Any other unknown name, or a number or true/false of the wrong type (None is let
    through: the task decides), is a `TaskArgumentError` that lists the valid names or shows
    a valid value.
    """
    hints = get_type_hints(func)
    defaults = {
        name: p.default
        for name, p in inspect.signature(func).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    fixed = ignored or {}
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name in fixed and name not in parameters:
            logger.warning(
                f"param '{name}' not used by task '{task}' (it always runs {name}={fixed[name]!r})"
            )
            continue
        if name not in parameters:
            close = difflib.get_close_matches(name, list(parameters), n=1)
            hint = f" Did you mean -T {close[0]}=...?" if close else ""
            raise TaskArgumentError(
                f"{task} has no argument {name!r} (-T {name}={value!r}).{hint} Its arguments: "
                f"{', '.join(parameters)}."
            )
        kinds = _scalar_kinds(hints.get(name))
        if kinds is not None and value is not None and not any(_fits(k, value) for k in kinds):
            wanted = " or ".join(_KINDS[k] for k in kinds)
            default = defaults.get(name)
            example = (
                f"-T {name}={_text(default)} (the default)"
                if default is not None
                else f"-T {name}={_text({bool: True, int: 1, float: 0.5}[kinds[0]])}"
            )
            raise TaskArgumentError(
                f"{task}: -T {name}={value!r} is not {wanted}; pass e.g. {example}."
            )
        out[name] = value
    return out


def _text(value: Any) -> str:
    """A value as it is written after -T (true/false in lower case)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


@contextmanager
def building(task: str) -> Iterator[None]:
    """Build one of the package's tasks: a `ValueError` of its construction is re-raised as a
    `TaskArgumentError` naming the task (its message already names the value and the valid
    choices); once built, the garbage collector is set for the eval (`garbage_collection`)."""
    try:
        yield
        tune_collector()
    except PrerequisiteError:
        raise
    except ValueError as ex:
        raise TaskArgumentError(f"{task}: {ex}") from ex
