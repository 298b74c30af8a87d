"""The fake OpenAI-compatible server: protocol, role responders, and a real eval through it."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from inspect_ai import eval

from moloch_eval.data import Persona
from moloch_eval.domains import SALES
from moloch_eval.parsing import extract_message, parse_verdict, parse_vote
from moloch_eval.probes import PROBES
from moloch_eval.prompts import (
    agent_user_prompt,
    judge_system_prompt,
    judge_user_prompt,
    vote_system_prompt,
    vote_user_prompt,
)
from moloch_eval.records import competition_of
from moloch_eval.tasks import sales
from moloch_eval.testing import (
    CompetitionResponder,
    FakeError,
    FakeOpenAIServer,
    Reply,
    estimate_tokens,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(CompetitionResponder(), models=["agent", "voter"]) as running:
        yield running


@pytest.fixture
def client(server: FakeOpenAIServer) -> openai.OpenAI:
    server.reset()
    return openai.OpenAI(base_url=server.base_url, api_key=server.client_api_key, max_retries=0)


def _chat(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


ANCHOR = {"title": "Lamp", "categories": ["Home", "Light"], "description": "A small desk lamp."}


def test_chat_completion_usage_and_models(server: FakeOpenAIServer, client: openai.OpenAI) -> None:
    prompt = agent_user_prompt(SALES, ANCHOR)
    out = client.chat.completions.create(
        model="agent", messages=_chat("You are a helpful assistant.", prompt), n=2
    )
    assert len(out.choices) == 2 and out.model == "agent"
    text = out.choices[0].message.content or ""
    message = extract_message(text, SALES.answer_tag)
    assert message is not None and message.startswith("[agent ")
    assert out.usage is not None
    assert out.usage.completion_tokens == 2 * estimate_tokens(text)
    assert out.usage.prompt_tokens > len(prompt) // 4
    assert [m.id for m in client.models.list()] == ["agent", "voter"]
    stats = server.stats()
    assert stats.calls == server.calls == 1 and stats.other_requests == 1
    assert stats.by_model["agent"].calls == 1 and stats.by_kind["agent"].calls == 1
    assert server.requests[0]["model"] == "agent"


def test_max_tokens_truncates_with_length_reason(client: openai.OpenAI) -> None:
    prompt = agent_user_prompt(SALES, ANCHOR)
    out = client.chat.completions.create(
        model="agent", messages=_chat("You are a helpful assistant.", prompt), max_tokens=5
    )
    assert out.choices[0].finish_reason == "length"
    assert out.usage is not None and out.usage.completion_tokens == 5
    assert len(out.choices[0].message.content or "") == 20


def _vote_prompt(mode: str) -> list[dict[str, str]]:
    persona = Persona(id="p0", raw={"name": "Rick"})
    user = vote_user_prompt(SALES, persona.faithful(), ["first GOOD", "second"], mode)
    return _chat(vote_system_prompt(mode), user)


def test_voter_think_and_logprob(client: openai.OpenAI) -> None:
    think = client.chat.completions.create(model="voter", messages=_vote_prompt("think"))  # type: ignore[arg-type]
    assert parse_vote(think.choices[0].message.content or "") in ("A", "B")
    out = client.chat.completions.create(
        model="voter",
        messages=_vote_prompt("logprob"),  # type: ignore[arg-type]
        max_tokens=1,
        logprobs=True,
        top_logprobs=2,
    )
    choice = out.choices[0]
    assert out.usage is not None and out.usage.completion_tokens == 1
    assert choice.logprobs is not None and choice.logprobs.content
    first = choice.logprobs.content[0]
    assert first.token == choice.message.content
    tops = {t.token: math.exp(t.logprob) for t in first.top_logprobs}
    assert set(tops) == {"A", "B"} and max(tops, key=tops.__getitem__) == first.token
    assert sum(tops.values()) == pytest.approx(1.0)


def test_voter_can_prefer_a_word() -> None:
    responder = CompetitionResponder(prefer="GOOD")
    for _ in range(3):
        body = {"model": "v", "messages": _vote_prompt("think")}
        assert parse_vote(responder(body).text) == "A"


@pytest.mark.parametrize("mode", ["think", "logprob"])
def test_judge_answers_with_the_probe_tag(mode: str) -> None:
    probe = PROBES["misrepresentation"]
    user = judge_user_prompt(SALES, probe, ANCHOR, "Best lamp ever.", True, mode)
    body = {"model": "j", "messages": _chat(judge_system_prompt(probe, mode), user)}
    body["logprobs"] = mode == "logprob"
    reply = CompetitionResponder(yes_rate=1.0)(body)
    assert reply.kind == "judge"
    if mode == "think":
        assert parse_verdict(reply.text, probe.tag) is True
    else:
        assert reply.text == "yes" and reply.top_logprobs


def test_errors_auth_and_bounded_recording() -> None:
    def failing(body: dict[str, object]) -> str | Reply:
        if body.get("model") == "busy":
            raise FakeError(429, "slow down")
        return "fine"

    with FakeOpenAIServer(failing, api_key="secret", max_recorded=3) as server:
        bad = openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="m", messages=_chat("s", "u"))  # type: ignore[arg-type]
        good = openai.OpenAI(base_url=server.base_url, api_key="secret", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            good.chat.completions.create(model="busy", messages=_chat("s", "u"))  # type: ignore[arg-type]
        for i in range(5):
            good.chat.completions.create(model=f"m{i}", messages=_chat("s", "u"))  # type: ignore[arg-type]
        stats = server.stats()
        assert stats.calls == 6 and stats.errors == 1
        assert [r["model"] for r in server.requests] == ["m2", "m3", "m4"]
    assert not server.running


def test_latency_and_process_mode() -> None:
    with FakeOpenAIServer(latency=0.2, process=True) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        start = time.perf_counter()
        out = client.chat.completions.create(model="m", messages=_chat("s", "hello"))  # type: ignore[arg-type]
        assert time.perf_counter() - start >= 0.2
        assert (out.choices[0].message.content or "").startswith("echo: hello")
        server.set_latency(0.0)
        client.chat.completions.create(model="m", messages=_chat("s", "again"))  # type: ignore[arg-type]
        assert server.calls == 2 and server.stats().latency == 0.0
    assert not server.running


def test_model_strings_resolve_from_the_environment(tmp_path: Path) -> None:
    """`--model openai-api/fake/<name>` with FAKE_BASE_URL and FAKE_API_KEY, as on the CLI.

    The names are used by no other test: Inspect memoizes a model string per process.
    """
    before = os.environ.get("FAKE_BASE_URL")
    with FakeOpenAIServer(CompetitionResponder()) as server, server.environ("fake") as env:
        assert env == {"FAKE_BASE_URL": server.base_url, "FAKE_API_KEY": "fake-key"}
        assert os.environ["FAKE_BASE_URL"] == server.base_url
        assert server.model("env-agent") == "openai-api/fake/env-agent"
        [log] = eval(
            sales(n_personas=1, probes="none"),
            model=server.model("env-agent"),
            model_roles={
                "opponent": server.model("env-opponent"),
                "audience": server.model("env-voter"),
            },
            limit=1,
            display="none",
            log_dir=str(tmp_path),
        )
        assert log.status == "success", log.error
        assert server.calls == 3
    assert os.environ.get("FAKE_BASE_URL") == before


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeOpenAIServer(host="0.0.0.0")


def test_sales_eval_with_every_role_on_the_server(tmp_path: Path) -> None:
    with FakeOpenAIServer(CompetitionResponder(), latency=0.01) as server:
        [log] = eval(
            sales(n_personas=3),
            model=server.get_model("agent"),
            model_roles={
                "opponent": server.get_model("opponent"),
                "audience": server.get_model("voter"),
                "judge": server.get_model("judge"),
            },
            limit=2,
            log_dir=str(tmp_path),
            display="none",
        )
        stats = server.stats()
    assert log.status == "success", log.error
    # per sample: agent 1 + opponent 1 + 3 votes + 2 judgements (misrepresentation, both sides)
    assert stats.calls == 2 * (1 + 1 + 3 + 2) and stats.errors == 0
    assert {name: s.calls for name, s in stats.by_model.items()} == {
        "agent": 2,
        "opponent": 2,
        "voter": 6,
        "judge": 4,
    }
    assert log.samples is not None
    for sample in log.samples:
        record = competition_of(sample)
        assert record.agent and record.agent.valid and "[agent " in (record.agent.message or "")
        assert record.opponent and "[opponent " in (record.opponent.message or "")
        assert len(record.votes) == 3 and all(v.valid for v in record.votes)
        probe = sample.scores["misrepresentation"].value  # type: ignore[index]
        assert probe["judgements"] == 2 and probe["invalid_judgements"] == 0  # type: ignore[index]
    usage = log.stats.model_usage["openai-api/fake/voter"]
    assert usage.output_tokens == stats.by_model["voter"].completion_tokens
