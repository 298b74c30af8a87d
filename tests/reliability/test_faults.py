"""Faults lose nothing: a flaky OpenAI-compatible endpoint, and evals that shrug it off.

The fault server (``moloch_eval.testing.fake_openai.faults``) answers a share of the calls
with HTTP 429 or 500, a stall past the client's timeout, a 200 whose JSON is cut, an empty
reply, a reply without its answer tag, or a tag with a value outside the allowed set. With
20% of the calls faulty, a competition eval and a probe run (``inspect score`` with a probe)
through it must score every sample exactly as the fault-free run does: transport faults are
retried by Inspect, malformed replies re-asked by the package (``vote_retries`` /
``judge_retries``, set to 2 in both runs), and the log must count both.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import openai
import pytest
from inspect_ai import eval, score
from inspect_ai.log import EvalLog, EvalSample
from inspect_ai.model import ChatMessageUser, GenerateConfig, Model

from moloch_eval.data import Persona
from moloch_eval.domains import SALES
from moloch_eval.parsing import paper_verdict, paper_vote
from moloch_eval.probes import PROBES
from moloch_eval.prompts import (
    agent_user_prompt,
    judge_system_prompt,
    judge_user_prompt,
    vote_system_prompt,
    vote_user_prompt,
)
from moloch_eval.records import Competition, Side, VoteRecord, competition_of
from moloch_eval.scorers import disinformation, populism
from moloch_eval.scorers.audience_share import reply_counts
from moloch_eval.scorers.judge import Judgement
from moloch_eval.scorers.probe import judge_reply_counts
from moloch_eval.tasks import elections
from moloch_eval.testing import (
    CONTENT_FAULTS,
    FAULT_KINDS,
    TRANSPORT_FAULTS,
    CompetitionResponder,
    FakeError,
    FaultPlan,
    FaultServer,
    FaultyResponder,
)

pytestmark = pytest.mark.reliability

#: every model's client: 2 s per attempt (a timeout fault holds its reply 3 s), bounded retries
RETRYING = GenerateConfig(attempt_timeout=2, max_retries=4)
ROLES = {"opponent": "opponent", "audience": "voter", "judge": "judge"}
#: both runs re-ask malformed votes and verdicts twice (the faithful default is 0)
TASK_ARGS: dict[str, Any] = {"n_personas": 5, "seed": 3, "vote_retries": 2, "judge_retries": 2}
SAMPLES = 10
#: 20% of the calls faulty, split evenly over the seven kinds
FAULTY = FaultPlan.uniform(0.2, seed=11, timeout_delay=3.0, time_limit=150.0, max_calls=3000)
CLEAN = FaultPlan(time_limit=150.0, max_calls=3000)


def _chat(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


ANCHOR = {"title": "Lamp", "categories": ["Home", "Light"], "description": "A small desk lamp."}
PERSONA = Persona(id="p0", raw={"name": "Rick"})
PROBE = PROBES["misrepresentation"]


def _vote_body(n: int = 0) -> dict[str, Any]:
    user = vote_user_prompt(SALES, PERSONA.faithful(), [f"first {n}", f"second {n}"], "think")
    return {"model": "voter", "messages": _chat(vote_system_prompt("think"), user)}


def _judge_body(n: int = 0) -> dict[str, Any]:
    user = judge_user_prompt(SALES, PROBE, ANCHOR, f"Best lamp {n}.", True, "think")
    return {"model": "judge", "messages": _chat(judge_system_prompt(PROBE, "think"), user)}


def _agent_body(n: int = 0) -> dict[str, Any]:
    user = agent_user_prompt(SALES, {**ANCHOR, "description": f"A small desk lamp, model {n}."})
    return {"model": "agent", "messages": _chat("You are a helpful assistant.", user)}


def _post(server: FaultServer, body: dict[str, Any], timeout: float = 5.0) -> tuple[int, bytes]:
    """One raw HTTP call: (status, body bytes as sent)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=json.dumps(body),
            headers={"content-type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
        assert int(response.getheader("content-length") or -1) == len(data)
        return response.status, data
    finally:
        conn.close()


def _content(data: bytes) -> str:
    return str(json.loads(data)["choices"][0]["message"]["content"])


# -- (a) the fault server ------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_is_what_it_says(kind: str) -> None:
    rates: dict[str, Any] = {kind: 1.0}
    plan = FaultPlan(**rates, max_faults_per_request=None, timeout_delay=1.0)
    with FaultServer(CompetitionResponder(), plan=plan) as server:
        clean_vote = CompetitionResponder()(_vote_body()).text
        clean_judge = CompetitionResponder()(_judge_body()).text
        if kind in ("http_429", "http_500"):
            status, data = _post(server, _vote_body())
            assert status == int(kind[-3:])
            assert json.loads(data)["error"]["type"] == f"injected_{kind}"
        elif kind == "timeout":
            start = time.monotonic()
            with pytest.raises(socket.timeout):
                _post(server, _vote_body(), timeout=0.3)
            assert time.monotonic() - start < 0.9
            status, data = _post(server, _vote_body(), timeout=5.0)  # it does come, late
            assert status == 200 and _content(data) == clean_vote
            assert time.monotonic() - start >= 1.0
        elif kind == "truncated_json":
            status, data = _post(server, _vote_body())
            assert status == 200 and data.startswith(b'{"id": "fake-')
            with pytest.raises(json.JSONDecodeError):
                json.loads(data)
        else:
            status, vote = _post(server, _vote_body())
            _, judge = _post(server, _judge_body())
            assert status == 200
            vote_text, judge_text = _content(vote), _content(judge)
            assert paper_vote(vote_text) is None  # every one of them is an invalid vote
            assert paper_verdict(judge_text, PROBE.tag) is None
            if kind == "empty_content":
                assert vote_text == judge_text == ""
            elif kind == "missing_tags":
                assert "<vote>" not in vote_text and f"<{PROBE.tag}>" not in judge_text
                assert vote_text.startswith("<think>") and judge_text.startswith("<think>")
                assert vote_text == clean_vote.replace("<vote>", "").replace("</vote>", "")
            else:
                assert vote_text.endswith("<vote>C</vote>")
                assert judge_text.endswith(f"<{PROBE.tag}>maybe</{PROBE.tag}>")
                assert vote_text.split("<vote>")[0] == clean_vote.split("<vote>")[0]
                assert (
                    judge_text.split(f"<{PROBE.tag}>")[0] == clean_judge.split(f"<{PROBE.tag}>")[0]
                )
            # content faults leave replies that nobody re-asks (the agent's) alone
            _, agent = _post(server, _agent_body())
            assert _content(agent) == CompetitionResponder()(_agent_body()).text
        expected = 3 if kind in CONTENT_FAULTS else (2 if kind == "timeout" else 1)
        assert server.faults.counts[kind] == expected - (kind in CONTENT_FAULTS)
        assert server.stats().calls == expected


def _drive(responder: FaultyResponder, body: dict[str, Any]) -> str | None:
    """Call the responder as the server does; the fault it injected (None: clean)."""
    with contextlib.suppress(FakeError):
        responder(body)
    return responder.events[-1].fault


def test_faults_come_at_their_rates_deterministically() -> None:
    plan = FaultPlan.uniform(0.35, seed=5, max_faults_per_request=None)
    n = 4000
    bodies = [_vote_body(i) if i % 2 else _judge_body(i) for i in range(n)]
    first = FaultyResponder(CompetitionResponder(), plan)
    drawn = Counter(_drive(first, body) for body in bodies)
    for kind in FAULT_KINDS:
        p = plan.rate(kind)
        sigma = (n * p * (1 - p)) ** 0.5
        assert abs(drawn[kind] - n * p) < 4 * sigma, (kind, drawn[kind], n * p)
    assert first.injected == n - drawn[None] == sum(first.counts[k] for k in FAULT_KINDS)
    # same seed and requests, in another order: the same fault for each request
    again = FaultyResponder(CompetitionResponder(), plan)
    for body in reversed(bodies):
        _drive(again, body)
    assert again.counts == first.counts
    # replies nobody re-asks (agents') get no content fault, and fail as often in transport
    agents = FaultyResponder(CompetitionResponder(), plan)
    on_agents = Counter(_drive(agents, _agent_body(i)) for i in range(n))
    assert not set(on_agents) & set(CONTENT_FAULTS)
    for kind in TRANSPORT_FAULTS:
        p = plan.total_rate / len(TRANSPORT_FAULTS)
        sigma = (n * p * (1 - p)) ** 0.5
        assert abs(on_agents[kind] - n * p) < 4 * sigma, (kind, on_agents[kind], n * p)
    other = FaultyResponder(CompetitionResponder(), FaultPlan.uniform(0.35, seed=6))
    assert [_drive(other, b) for b in bodies[:200]] != [e.fault for e in first.events[:200]]


def test_a_repeated_request_draws_afresh_and_is_served_clean_after_the_cap() -> None:
    always = FaultyResponder(CompetitionResponder(), FaultPlan(http_500=1.0))  # cap: 2
    assert [_drive(always, _vote_body()) for _ in range(4)] == ["http_500", "http_500", None, None]
    half = FaultyResponder(CompetitionResponder(), FaultPlan(http_500=0.5, seed=1))
    faults = [_drive(half, _vote_body(7)) for _ in range(6)]  # the cap is per request
    assert faults.count("http_500") == 2 and faults[-1] is None
    assert [e.attempt for e in half.events] == list(range(6))


def test_bounds_refuse_calls_and_stop_the_server() -> None:
    plan = FaultPlan(max_calls=3, time_limit=1.0)
    with FaultServer(CompetitionResponder(), plan=plan, stop_grace=0.5) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        messages: Any = _vote_body()["messages"]
        for _ in range(3):
            client.chat.completions.create(model="voter", messages=messages)
        with pytest.raises(openai.PermissionDeniedError, match="max_calls=3"):
            client.chat.completions.create(model="voter", messages=messages)
        assert server.faults.counts["refused"] == 1
        deadline = time.monotonic() + 5
        while server.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.running  # stopped itself: time limit + grace
    with FaultServer(plan=FaultPlan(time_limit=0.2)) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        client.chat.completions.create(model="m", messages=messages)  # starts the clock
        time.sleep(0.3)
        with pytest.raises(openai.PermissionDeniedError, match="time_limit"):
            client.chat.completions.create(model="m", messages=messages)
    with pytest.raises(ValueError, match="loopback"):
        FaultServer(host="0.0.0.0")
    with pytest.raises(ValueError, match="sum to"):
        FaultPlan(http_429=0.6, timeout=0.6)


async def test_truncated_json_is_retried_by_the_fault_server_provider_only() -> None:
    plan = FaultPlan(truncated_json=1.0, max_faults_per_request=1)
    with FaultServer(CompetitionResponder(), plan=plan) as server:
        stock = server.get_model("stock", provider="openai-api", config=RETRYING)
        with pytest.raises(json.JSONDecodeError):  # Inspect's openai-api does not retry it
            await stock.generate([ChatMessageUser(content="hi")])
        retrying = server.get_model("retrying", config=RETRYING)
        output = await retrying.generate([ChatMessageUser(content="hi")])
        assert output.completion == "ok"
        assert server.faults.counts == Counter(calls=3, truncated_json=2, clean=1)


def test_malformed_replies_are_counted_even_when_re_asked_into_valid_ones() -> None:
    def vote(
        mode: Literal["think", "logprob"], replies: list[str], valid: bool, retries: int = 0
    ) -> VoteRecord:
        letters: dict[str, Side] = {"A": "agent", "B": "opponent"}
        return VoteRecord(
            persona_index=0,
            persona_id="p",
            letters=letters,
            mode=mode,
            replies=replies,
            valid=valid,
            retries=retries,
        )

    competition = Competition()
    competition.votes = [
        vote("think", ["no tag", "<vote>A</vote>"], True, retries=2),  # re-asked once
        vote("think", ["", "<vote>C</vote>", "?"], False),  # re-asked twice, still invalid
        vote("think", ["<vote>B</vote>"], True),
        vote("logprob", ["A", "B"], True),  # both orders asked: no re-ask
        vote("logprob", ["?"], False),
    ]
    counts = {"replies": 9, "invalid_replies": 5, "reasked_votes": 2, "retries": 2}
    assert reply_counts(competition) == counts
    judged: dict[Side, Judgement | None] = {
        "agent": Judgement(valid=True, replies=["maybe", "yes"], retries=1),
        "opponent": None,  # an invalid message is not judged
    }
    assert judge_reply_counts(judged) == {"replies": 2, "invalid_replies": 1, "retries": 1}


# -- (b)-(d) a competition eval and a probe run at 20% faults --------------------------------


@dataclass
class Run:
    log: EvalLog
    faults: FaultyResponder


def _models(server: FaultServer, provider: str | None) -> tuple[Model, dict[str, Model]]:
    where = {"provider": provider} if provider else {}
    roles = {role: server.get_model(name, config=RETRYING, **where) for role, name in ROLES.items()}
    return server.get_model("agent", config=RETRYING, **where), roles


def _competition(
    plan: FaultPlan, log_dir: Path, provider: str | None = None, retry_on_error: int | None = None
) -> Run:
    with FaultServer(CompetitionResponder(), plan=plan) as server:
        model, roles = _models(server, provider)
        [log] = eval(
            elections(**TASK_ARGS),
            model=model,
            model_roles=roles,
            limit=SAMPLES,
            log_dir=str(log_dir),
            display="none",
            retry_on_error=retry_on_error,
        )
    return Run(log, server.faults)


def _probe_run(log: EvalLog, plan: FaultPlan) -> Run:
    """`inspect score LOG --scorer moloch_eval/disinformation` (and populism), re-judged."""
    with FaultServer(CompetitionResponder(), plan=plan) as server, server.environ():
        judge = server.get_model("judge", config=RETRYING)
        scorers = [disinformation(judge_retries=2), populism(judge_retries=2)]
        rescored = score(
            log, scorers, model_roles={"judge": judge}, action="overwrite", display="none"
        )
    return Run(rescored, server.faults)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    clean = _competition(CLEAN, tmp_path_factory.mktemp("clean"))
    faulty = _competition(FAULTY, tmp_path_factory.mktemp("faulty"))
    # the path of a user's run: Inspect's stock openai-api provider, which fails a sample on a
    # cut JSON body; `--retry-on-error 3` runs such a sample again (README, Reliability)
    stock = _competition(FAULTY, tmp_path_factory.mktemp("stock"), "openai-api", 3)
    yield {
        "clean": clean,
        "faulty": faulty,
        "stock_faulty": stock,
        "probe_clean": _probe_run(clean.log, CLEAN),
        "probe_faulty": _probe_run(clean.log, FAULTY),
    }


def _scores(log: EvalLog) -> dict[str | int, dict[str, Any]]:
    assert log.samples is not None
    return {s.id: {name: sc.value for name, sc in (s.scores or {}).items()} for s in log.samples}


def _value(sample: EvalSample, scorer: str) -> dict[str, Any]:
    value = (sample.scores or {})[scorer].value
    assert isinstance(value, dict)
    return value


def _metadata(sample: EvalSample, scorer: str) -> dict[str, Any]:
    metadata = (sample.scores or {})[scorer].metadata
    assert metadata is not None
    return metadata


def _model_events(sample: EvalSample) -> list[Any]:
    return [e for e in sample.events if e.event == "model"]


def _log_retries(log: EvalLog, scorers: tuple[str, ...]) -> int:
    """Retries the log records: the provider's HTTP retries within an attempt (`retries` of a
    model event) plus Inspect's retried attempts (a model event with an error each), and the
    same for the votes' and verdicts' calls, which leave no model events by default
    (`-T model_events`): the scores' ``retries`` hold theirs."""
    assert log.samples is not None
    events = [e for s in log.samples for e in _model_events(s)]
    in_events = sum(e.retries or 0 for e in events) + sum(1 for e in events if e.error)
    in_scores = sum(int(_metadata(s, name)["retries"]) for s in log.samples for name in scorers)
    return in_events + in_scores


def _invalid_replies(log: EvalLog, scorers: tuple[str, ...]) -> int:
    assert log.samples is not None
    return sum(int(_metadata(s, name)["invalid_replies"]) for s in log.samples for name in scorers)


@pytest.mark.parametrize("run", ["faulty", "stock_faulty", "probe_faulty"])
def test_every_sample_is_scored_as_without_faults(runs: dict[str, Run], run: str) -> None:
    clean = runs["probe_clean" if run == "probe_faulty" else "clean"]
    faulty = runs[run]
    assert clean.faults.injected == 0 and clean.faults.counts["refused"] == 0
    assert faulty.faults.counts["refused"] == 0
    # about 20% of the calls were faulty, every kind among them
    rate = faulty.faults.injected / faulty.faults.counts["calls"]
    assert 0.1 < rate < 0.3, faulty.faults.counts
    if run != "probe_faulty":
        assert all(faulty.faults.counts[kind] > 0 for kind in FAULT_KINDS), faulty.faults.counts
    log = faulty.log
    assert log.status == "success", log.error
    assert log.samples is not None and len(log.samples) == SAMPLES
    # the elections probes, and the audience's share where the eval itself ran
    names = {"disinformation", "populism"} | (
        {"audience_share"} if run != "probe_faulty" else set()
    )
    for sample in log.samples:
        assert sample.error is None and set(sample.scores or {}) == names
    if run == "stock_faulty":  # the cut JSON bodies failed samples, which ran again
        retried = [s for s in log.samples if s.error_retries]
        assert retried and all(
            "JSONDecodeError" in e.message or "Expecting" in e.message
            for s in retried
            for e in s.error_retries or []
        ), [e.message for s in retried for e in s.error_retries or []]
    assert _scores(log) == _scores(clean.log)  # sample by sample, value by value
    assert log.results is not None and clean.log.results is not None
    assert [s.metrics for s in log.results.scores] == [s.metrics for s in clean.log.results.scores]


def test_competition_log_counts_retries_and_invalid_replies(runs: dict[str, Run]) -> None:
    clean, faulty = runs["clean"], runs["faulty"]
    transport = sum(faulty.faults.counts[kind] for kind in TRANSPORT_FAULTS)
    content = sum(faulty.faults.counts[kind] for kind in CONTENT_FAULTS)
    assert transport > 0 and content > 0
    # every transport fault was retried once, and the log says so
    scorers = ("audience_share", "disinformation", "populism")
    assert _log_retries(faulty.log, scorers) == transport
    assert _log_retries(clean.log, scorers) == 0
    # every malformed vote or verdict was kept, counted and re-asked into a valid one
    assert _invalid_replies(faulty.log, scorers) == content
    assert _invalid_replies(clean.log, scorers) == 0
    assert faulty.log.samples is not None
    reasked = 0
    for sample in faulty.log.samples:
        record = competition_of(sample)
        assert all(vote.valid for vote in record.votes)
        reasked += sum(int(len(vote.replies) > 1) for vote in record.votes)
        assert _value(sample, "audience_share")["invalid_votes"] == 0
        # a re-asked vote keeps the malformed reply, then the valid one
        for vote in record.votes:
            for bad in vote.replies[:-1]:
                assert paper_vote(bad) is None
    voter_content = sum(
        n for kind, n in faulty.faults.injected_for("voter").items() if kind in CONTENT_FAULTS
    )
    assert voter_content == sum(
        int(_metadata(s, "audience_share")["invalid_replies"]) for s in faulty.log.samples
    )
    assert 0 < reasked <= voter_content


def test_probe_run_log_counts_retries_and_invalid_replies(runs: dict[str, Run]) -> None:
    faulty = runs["probe_faulty"]
    transport = sum(faulty.faults.counts[kind] for kind in TRANSPORT_FAULTS)
    content = sum(faulty.faults.counts[kind] for kind in CONTENT_FAULTS)
    assert transport > 0 and content > 0
    # the rescored log holds the judge's calls
    assert _log_retries(faulty.log, ("disinformation", "populism")) == transport
    assert _invalid_replies(faulty.log, ("disinformation", "populism")) == content
    assert faulty.log.samples is not None
    for sample in faulty.log.samples:
        for name in ("disinformation", "populism"):
            value = _value(sample, name)
            assert value["invalid_judgements"] == 0 and value["judgements"] == 2
