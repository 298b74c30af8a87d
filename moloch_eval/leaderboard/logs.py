"""What the leaderboard reads from any log header, competition or EM: where the log is, whether
it finished, which model a role was bound to, and how recent it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog


def local_path(location: str) -> str:
    """A log location as a local path (Inspect reports some logs as ``file://`` URIs)."""
    return location.removeprefix("file://")


def first_line(text: str | None) -> str:
    """The first non-blank line of a message, at most 200 characters ("" without one)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def role_name(log: EvalLog, role: str) -> str | None:
    """The model bound to `role` in the log (several joined by ", "), None when unbound."""
    roles = log.eval.model_roles or {}
    bound = roles.get(role)
    if bound is None:
        return None
    if isinstance(bound, list):
        return ", ".join(m.model for m in bound)
    return bound.model


def status_problem(log: EvalLog) -> str | None:
    """Why a log is not complete, or None when it finished successfully."""
    if log.status == "success":
        return None
    results = log.results
    progress = (
        f" after {results.completed_samples} of {results.total_samples} samples"
        if results is not None
        else ""
    )
    if log.status == "error":
        detail = first_line(log.error.message if log.error else None)
        return f"failed{progress}" + (f": {detail}" if detail else "")
    if log.status == "cancelled":
        return f"cancelled{progress} (partial)"
    return f"incomplete (status '{log.status}': still running, or stopped before it finished)"


def unreadable(ex: Exception, what: str = "unreadable") -> str:
    """The skip reason of a log that could not be read, e.g. "unreadable (OSError: …)"."""
    return f"{what} ({type(ex).__name__}: {first_line(str(ex))})"


def recency(log: EvalLog) -> tuple[str, str]:
    """Sort key for "the newest log": created (to the second), then the completion time (to the
    microsecond), so two logs created in the same second are still ordered."""
    return log.eval.created, log.stats.completed_at or ""
