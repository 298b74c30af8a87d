"""`-T model_events`: which calls leave model events in the transcript, through the fake
OpenAI-compatible server (the path a real provider takes)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval
from inspect_ai.event import ModelEvent
from inspect_ai.log import EvalLog, transcript

from moloch_eval.solvers.events import calls_logged
from moloch_eval.tasks import sales
from moloch_eval.testing import CompetitionResponder, FakeOpenAIServer

PERSONAS, ANCHORS = 3, 2


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(CompetitionResponder(think_words=12)) as running:
        yield running


def _run(server: FakeOpenAIServer, tmp_path: Path, **task_args: Any) -> EvalLog:
    roles = {
        "audience": server.get_model("voter"),
        "judge": server.get_model("judge"),
        "opponent": server.get_model("opponent"),
    }
    [log] = eval(
        sales(n_personas=PERSONAS, seed=1, **task_args),
        model=server.get_model("agent"),
        model_roles=roles,  # type: ignore[arg-type]
        limit=ANCHORS,
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    assert log.status == "success", log.error
    return log


def _model_events(log: EvalLog) -> list[Counter[str]]:
    return [
        Counter(e.model.rsplit("/", 1)[-1] for e in s.events if isinstance(e, ModelEvent))
        for s in log.samples or []
    ]


@pytest.mark.parametrize("audience_mode", ["think", "logprob"])
def test_votes_and_verdicts_leave_no_events_by_default_and_lose_nothing(
    server: FakeOpenAIServer, tmp_path: Path, audience_mode: str
) -> None:
    quiet = _run(server, tmp_path / "quiet", audience_mode=audience_mode)
    loud = _run(server, tmp_path / "loud", audience_mode=audience_mode, model_events="all")
    assert quiet.samples and loud.samples
    assert _model_events(quiet) == [Counter(agent=1, opponent=1)] * ANCHORS
    probes = len(loud.eval.metadata["probes"])  # type: ignore[index]
    assert probes >= 1
    every_call = Counter(agent=1, opponent=1, voter=PERSONAS, judge=2 * probes)  # both sides
    assert _model_events(loud) == [every_call] * ANCHORS
    for q, a in zip(quiet.samples, loud.samples, strict=True):
        assert q.store == a.store  # every vote and verdict, replies whole
        assert {k: v.value for k, v in (q.scores or {}).items()} == {
            k: v.value for k, v in (a.scores or {}).items()
        }
        assert q.model_usage == a.model_usage  # usage is counted either way
    assert quiet.stats.model_usage == loud.stats.model_usage
    assert quiet.results and loud.results
    assert [(s.name, s.metrics) for s in quiet.results.scores] == [
        (s.name, s.metrics) for s in loud.results.scores
    ]
    assert quiet.eval.metadata and quiet.eval.metadata["model_events"] == "messages"


def test_an_unknown_model_events_value_is_refused() -> None:
    with pytest.raises(ValueError, match="model_events must be one of"):
        sales(model_events="votes")


def test_calls_logged_restores_the_callers_transcript() -> None:
    outer = transcript()
    with calls_logged(False):
        assert transcript() is not outer
    assert transcript() is outer
    with calls_logged(True):
        assert transcript() is outer
