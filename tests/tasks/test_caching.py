"""Caching of a whole competition (`-T cache=true`), counted by the fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from inspect_ai import eval

from moloch_eval.records import competition_of
from moloch_eval.tasks import sales
from moloch_eval.testing import CompetitionResponder, FakeOpenAIServer


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeOpenAIServer(CompetitionResponder()) as running:
        yield running


def _run(server: FakeOpenAIServer, tmp_path: Path, **task_args: object) -> list[str]:
    server.reset()
    roles = {"audience": server.get_model("voter"), "judge": server.get_model("judge")}
    if task_args.get("opponent", "role") == "role":
        roles["opponent"] = server.get_model("opponent")
    [log] = eval(
        sales(n_personas=2, cache=True, **task_args),  # type: ignore[arg-type]
        model=server.get_model("agent"),
        model_roles=roles,  # type: ignore[arg-type]
        limit=2,
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    assert log.status == "success", log.error
    assert log.samples
    return [competition_of(s).opponent.generation for s in log.samples]  # type: ignore[union-attr]


def test_a_cached_rerun_makes_no_calls(server: FakeOpenAIServer, tmp_path: Path) -> None:
    first = _run(server, tmp_path)
    assert server.calls == 2 * (1 + 1 + 2 + 2)
    again = _run(server, tmp_path)
    assert server.calls == 0  # agent, opponent, votes and verdicts all from the cache
    assert again == first


def test_self_play_with_cache_keeps_two_independent_samples(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """opponent="self": the agent's and the opponent's generation are cached apart."""
    _run(server, tmp_path, opponent="self")
    stats = server.stats()
    assert stats.by_model["agent"].calls == 2 * 2  # one agent and one opponent call per anchor
    _run(server, tmp_path, opponent="self")
    assert server.calls == 0
