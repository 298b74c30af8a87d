"""Inspect's batch mode (``--batch``) for the whole competition and the probes, run as a user
runs it: Inspect's stock ``openai/`` provider pointed at the fake server with OPENAI_BASE_URL
and OPENAI_API_KEY, every role bound with ``--model-role`` YAML, through the OpenAI Files and
Batches API that the fake server implements. A batched run must score exactly as the same run
with direct calls, with every call answered inside a batch file.

Model names are real OpenAI names (``gpt-4o-…``): Inspect sends an unknown name (a codename,
e.g. ``openai/agent``) to the Responses API, which the fake server does not speak.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import inspect_ai.model._model as inspect_model
import pytest
from inspect_ai import eval, score
from inspect_ai._cli.util import parse_model_role_cli_args
from inspect_ai.log import EvalLog
from inspect_ai.model import BatchConfig

from moloch_eval.records import competition_of
from moloch_eval.scorers import misrepresentation
from moloch_eval.tasks import elections, sales, social_media
from moloch_eval.testing import CompetitionResponder, FakeOpenAIServer, Reply, ServerStats

TASKS = {"sales": sales, "elections": elections, "social_media": social_media}
#: short waits so a test takes seconds: a batch is sent at 8 requests or 0.1 s after the last
BATCH = BatchConfig(size=8, send_delay=0.1, tick=0.02)
BATCH_YAML = "{size: 8, send_delay: 0.1, tick: 0.02}"
AGENT = "gpt-4o-mini-agent"
ROLES = {
    "opponent": "gpt-4o-mini-opponent",
    "audience": "gpt-4o-mini-2024-07-18",  # the paper's voter
    "judge": "gpt-4o-2024-08-06",  # the paper's judge
}
LIMIT = 4
N_PERSONAS = 3


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Own model cache, and a fresh memo of Inspect models: a memoized `openai/…` model keeps
    the base URL (and the batcher) it was built with, so none may leak between tests."""
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(inspect_model, "_models", {})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(CompetitionResponder(), batch_latency=0.02) as running:
        for name, value in running.env("openai").items():  # OPENAI_BASE_URL, OPENAI_API_KEY
            monkeypatch.setenv(name, value)
        yield running


def _roles(batched: bool, roles: dict[str, str] = ROLES) -> Any:
    """The roles as `--model-role` arguments, parsed as Inspect's CLI parses them."""
    spec = f", batch: {BATCH_YAML}" if batched else ""
    args = tuple(f"{role}={{model: openai/{name}{spec}}}" for role, name in roles.items())
    return parse_model_role_cli_args(args)


def _eval(
    tmp_path: Path,
    batched: bool,
    task: str = "sales",
    roles: dict[str, str] = ROLES,
    **task_args: Any,
) -> EvalLog:
    task_args.setdefault("n_personas", N_PERSONAS)
    task_args.setdefault("probes", "default,omission" if task == "sales" else "default")
    [log] = eval(
        TASKS[task](**task_args),
        model=f"openai/{AGENT}",
        model_roles=_roles(batched, roles),
        batch=BATCH if batched else None,  # --batch <config.yaml>
        limit=LIMIT,
        log_dir=str(tmp_path / ("batched" if batched else "direct")),
        display="none",
    )
    assert log.status == "success", log.error
    assert log.samples and len(log.samples) == LIMIT
    return log


def _scores(log: EvalLog) -> dict[Any, dict[str, Any]]:
    """Every sample's score values and verdicts (per probe and side), by sample id."""
    assert log.samples
    out: dict[Any, dict[str, Any]] = {}
    for sample in log.samples:
        assert sample.error is None and sample.scores
        record = competition_of(sample)
        assert record.agent and record.opponent and record.agent.valid and record.opponent.valid
        values: dict[str, Any] = {"votes": [v.model_dump() for v in record.votes]}
        for name, value in sample.scores.items():
            values[name] = (value.value, json.dumps(value.metadata, sort_keys=True, default=str))
        out[sample.id] = values
    return out


def _run_twice(
    server: FakeOpenAIServer, tmp_path: Path, **task_args: Any
) -> tuple[ServerStats, ServerStats, EvalLog]:
    server.reset()
    direct = _eval(tmp_path, batched=False, **task_args)
    direct_stats = server.stats()
    server.reset()
    batched = _eval(tmp_path, batched=True, **task_args)
    batched_stats = server.stats()
    assert _scores(batched) == _scores(direct)
    return direct_stats, batched_stats, batched


def _all_batched(direct: ServerStats, batched: ServerStats) -> None:
    """Every call of the direct run was made, inside a batch file, in the batched run."""
    assert direct.calls > 0 and direct.batch_calls == 0
    assert batched.calls == 0, "a batched role called the endpoint directly"
    assert batched.batch_calls == direct.calls and batched.batch_errors == 0
    assert {m: (s.calls, s.batched) for m, s in batched.by_model.items()} == {
        m: (s.calls, s.calls) for m, s in direct.by_model.items()
    }
    assert set(batched.by_model) == {AGENT, *ROLES.values()}


@pytest.mark.parametrize(
    ("task", "audience_mode", "judge_mode"),
    [
        ("sales", "think", "think"),
        ("sales", "logprob", "logprob"),
        ("elections", "think", "logprob"),
    ],
)
def test_a_batched_competition_scores_as_a_direct_one(
    server: FakeOpenAIServer, tmp_path: Path, task: str, audience_mode: str, judge_mode: str
) -> None:
    direct, batched, log = _run_twice(
        server, tmp_path, task=task, audience_mode=audience_mode, judge_mode=judge_mode
    )
    _all_batched(direct, batched)
    probes = 2  # sales: misrepresentation and omission; elections: disinformation and populism
    per_sample = 1 + 1 + N_PERSONAS + probes * 2  # agent, opponent, votes, both messages judged
    assert direct.calls == LIMIT * per_sample
    # one batch per stage and role at least (agent, opponent, votes, verdicts), never a batch
    # per call
    assert 4 <= batched.batches < batched.batch_calls / 2
    # the roles' batch settings are kept in the log (so `inspect score` reuses them)
    roles = log.eval.model_roles or {}
    assert {role: config.config.batch for role, config in roles.items()} == dict.fromkeys(  # type: ignore[union-attr]
        ROLES, BATCH
    )
    kinds = Counter({kind: s.batched for kind, s in batched.by_kind.items()})
    assert kinds["vote"] == LIMIT * N_PERSONAS


class FlakyTags:
    """CompetitionResponder, but the first answer to about a third of the vote and verdict
    requests loses its tags (a re-ask, the same request again, is answered properly)."""

    def __init__(self) -> None:
        self.inner = CompetitionResponder()
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        reply = self.inner(body)
        key = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()
        with self.lock:
            self.seen[key] += 1
            first = self.seen[key] == 1
        if reply.kind in ("vote", "judge") and first and int(key, 16) % 3 == 0:
            return Reply(text="I cannot decide.", kind=reply.kind)
        return reply


def test_re_asks_of_unreadable_votes_and_verdicts_go_through_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clean protocol re-asks a voter or the judge whose reply has no tag (solvers.retry):
    each re-ask is one more round of batches, and the scores are those of direct calls."""
    stats: dict[bool, ServerStats] = {}
    scores = {}
    for batched in (False, True):
        monkeypatch.setattr(inspect_model, "_models", {})
        with FakeOpenAIServer(FlakyTags(), batch_latency=0.02) as flaky:
            for name, value in flaky.env("openai").items():
                monkeypatch.setenv(name, value)
            scores[batched] = _scores(_eval(tmp_path, batched, faithful=False))
            stats[batched] = flaky.stats()
    assert scores[True] == scores[False]
    plain = LIMIT * (2 + N_PERSONAS + 2 * 2)
    assert stats[False].calls > plain  # some votes and verdicts were asked again
    _all_batched(stats[False], stats[True])


def test_the_eval_wide_batch_flag_batches_only_the_evaluated_model(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """`--batch` (eval(batch=…)) is the evaluated model's generate config: Inspect gives a role
    model only the eval's connection, retry, timeout and cache settings, so the opponent,
    audience and judge are batched only when their own --model-role config asks for it. The
    unbound roles here take the paper's defaults (openai/gpt-4o-mini-2024-07-18 and
    openai/gpt-4o-2024-08-06, on the fake server through OPENAI_BASE_URL)."""
    [log] = eval(
        sales(n_personas=N_PERSONAS, opponent="self"),
        model=f"openai/{AGENT}",
        batch=BATCH,
        limit=LIMIT,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    stats = server.stats()
    agent = stats.by_model[AGENT]
    assert agent.calls == agent.batched == 2 * LIMIT  # the agent and its self-play opponent
    for name in (ROLES["audience"], ROLES["judge"]):
        assert stats.by_model[name].batched == 0 and stats.by_model[name].calls > 0
    assert (
        stats.calls
        == stats.by_model[ROLES["audience"]].calls + stats.by_model[ROLES["judge"]].calls
    )


def test_a_batched_run_fills_the_cache_for_a_direct_rerun(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Inspect's cache key leaves `batch` out: a batched run's replies replay without batch."""
    server.reset()
    batched = _eval(tmp_path, batched=True, cache=True)
    assert server.stats().batch_calls > 0 and server.stats().calls == 0
    server.reset()
    direct = _eval(tmp_path, batched=False, cache=True)
    assert (server.stats().calls, server.stats().batch_calls) == (0, 0)
    assert _scores(direct) == _scores(batched)


def test_inspect_score_rejudges_a_log_in_batches(server: FakeOpenAIServer, tmp_path: Path) -> None:
    """`inspect score LOG --scorer moloch_eval/misrepresentation --model-role judge={…, batch}`:
    every verdict is asked inside a batch, and agrees with the eval's own."""
    log = _eval(tmp_path, batched=False, probes="default")
    server.reset()
    judge = _roles(True, {"judge": ROLES["judge"]})
    rescored = score(log, scorers=[misrepresentation()], model_roles=judge, display="none")
    stats = server.stats()
    assert stats.calls == 0 and stats.batch_calls == stats.by_model[ROLES["judge"]].batched
    assert stats.batch_calls == LIMIT * 2  # both messages of each pair
    assert rescored.samples and log.samples
    for before, after in zip(log.samples, rescored.samples, strict=True):
        assert after.scores is not None and before.scores is not None
        new = [v for k, v in after.scores.items() if k not in before.scores]
        assert len(new) == 1 and new[0].value == before.scores["misrepresentation"].value
