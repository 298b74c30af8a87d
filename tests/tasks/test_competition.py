"""End-to-end evals of the three competitions with scripted offline models."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai._util.error import PrerequisiteError
from inspect_ai.log import EvalLog
from inspect_ai.model import ChatMessage, GenerateConfig

from moloch_eval.domains import DOMAINS
from moloch_eval.records import competition_of
from moloch_eval.solvers.audience import letter_map
from moloch_eval.tasks import competition, elections, sales, social_media
from tests.scripted import Reply, competitor, judge_flagging, scripted, voter_preferring

TASKS = {"sales": sales, "elections": elections, "social_media": social_media}


def _run(
    task_name: str,
    tmp_path: Path,
    agent_text: str = "GOOD",
    voter: Reply | None = None,
    **task_args: object,
) -> EvalLog:
    tag = DOMAINS[task_name].answer_tag
    task_args.setdefault("n_personas", 5)
    roles = {
        "audience": scripted("voter", voter or voter_preferring("GOOD")),
        "judge": scripted("judge", judge_flagging("GOOD")),
    }
    if task_args.get("opponent", "role") == "role":
        roles["opponent"] = scripted("opponent", competitor(tag, "BAD message"))
    [log] = eval(
        TASKS[task_name](**task_args),
        model=scripted("agent", competitor(tag, f"{agent_text} message")),
        model_roles=roles,  # type: ignore[arg-type]
        limit=3,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    return log


@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_competition_log_holds_messages_votes_and_scores(task_name: str, tmp_path: Path) -> None:
    log = _run(task_name, tmp_path)
    assert log.samples and len(log.samples) == 3
    tag = DOMAINS[task_name].answer_tag
    for sample in log.samples:
        record = competition_of(sample)
        assert record.agent and record.agent.message == "GOOD message" and record.agent.valid
        assert record.agent.generation == f"<think>plan</think><{tag}>GOOD message</{tag}>"
        assert record.agent.think == "plan"
        assert record.opponent and record.opponent.message == "BAD message"
        assert record.opponent.model == "mockllm/opponent"
        assert len(record.votes) == 5
        for index, vote in enumerate(record.votes):
            assert vote.valid and vote.choice == "agent" and vote.thought == "I like GOOD"
            assert vote.letters == letter_map(0, sample.id, index)
            assert vote.replies and vote.persona_index == index
        assert sample.metadata["domain"] == task_name and sample.metadata["anchor"]
        assert sample.id == f"{task_name}-test-{sample.metadata['anchor_index']:04d}"
        value = sample.scores["audience_share"].value  # type: ignore[index]
        assert value["share"] == 1.0 and value["valid_votes"] == 5  # type: ignore[index]
    metrics = log.results.scores[0].metrics  # type: ignore[union-attr]
    assert metrics["share"].value == 1.0 and metrics["advantage"].value == 0.5
    assert metrics["invalid_vote_rate"].value == 0.0
    assert 0.0 <= metrics["position_a_rate"].value <= 1.0


def test_losing_agent(tmp_path: Path) -> None:
    log = _run("sales", tmp_path, voter=voter_preferring("BAD"))
    metrics = log.results.scores[0].metrics  # type: ignore[union-attr]
    assert metrics["share"].value == 0.0 and metrics["advantage"].value == -0.5


def test_position_bias_is_measured(tmp_path: Path) -> None:
    log = _run("sales", tmp_path, voter=lambda m, c: "<think>first!</think><vote>A</vote>")
    metrics = log.results.scores[0].metrics  # type: ignore[union-attr]
    assert metrics["position_a_rate"].value == 1.0
    assert log.samples is not None
    votes = [v for s in log.samples for v in competition_of(s).votes]
    shown_first = sum(v.letters["A"] == "agent" for v in votes) / len(votes)
    assert 0 < shown_first < 1
    shares = [s.scores["audience_share"].value["share"] for s in log.samples]  # type: ignore[index]
    assert metrics["share"].value == pytest.approx(sum(shares) / len(shares))  # type: ignore[arg-type]
    assert metrics["share"].value == pytest.approx(shown_first)


def test_invalid_agent_message_is_recorded_and_forfeits(tmp_path: Path) -> None:
    roles = {
        "audience": scripted("voter", voter_preferring("GOOD")),
        "opponent": scripted("opponent", competitor("sales_pitch", "BAD")),
        "judge": scripted("judge", judge_flagging("BAD")),
    }
    [log] = eval(
        sales(n_personas=3),
        model=scripted("agent", lambda m, c: "<think>oops</think> no tag here"),
        model_roles=roles,  # type: ignore[arg-type]
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.samples
    for sample in log.samples:
        record = competition_of(sample)
        assert record.agent and not record.agent.valid and record.agent.message is None
        assert record.agent.generation == "<think>oops</think> no tag here"
        assert record.votes == []  # no raw text is ever shown to the audience
        assert sample.scores["audience_share"].value["forfeit"] == "agent"  # type: ignore[index]
        # the invalid message is not judged; the opponent's is
        probe = sample.scores["misrepresentation"].value  # type: ignore[index]
        assert probe == {
            "judgements": 1,
            "invalid_judgements": 0,
            "invalid_messages": 1,
            "opponent": 1.0,
        }
    metrics = log.results.scores[0].metrics  # type: ignore[union-attr]
    assert metrics["share"].value == 0.0 and metrics["invalid_message_rate"].value == 1.0


def test_self_play_samples_the_evaluated_model_twice(tmp_path: Path) -> None:
    count = iter(range(1000))

    def agent(messages: list[ChatMessage], config: GenerateConfig) -> str:
        assert config.temperature == 0.7 and config.max_tokens == 1480
        return f"<think>t</think><sales_pitch>pitch {next(count)}</sales_pitch>"

    [log] = eval(
        sales(n_personas=2, opponent="self", split="train", probes="none"),
        model=scripted("agent", agent),
        model_roles={"audience": scripted("voter", voter_preferring("pitch"))},
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success" and log.samples
    messages = {
        m
        for s in log.samples
        for m in (
            competition_of(s).agent.message,  # type: ignore[union-attr]
            competition_of(s).opponent.message,
        )
    }  # type: ignore[union-attr]
    assert len(messages) == 4  # four independent generations
    assert all(s.id.startswith("sales-train-") for s in log.samples)  # type: ignore[union-attr]


def test_replayed_opponent_is_not_regenerated(tmp_path: Path) -> None:
    base = _run("elections", tmp_path / "base", agent_text="BASE")
    assert base.location
    calls: list[int] = []

    def never(messages: list[ChatMessage], config: GenerateConfig) -> str:
        calls.append(1)
        return "<campaign_speech>x</campaign_speech>"

    [log] = eval(
        elections(n_personas=4, opponent=base.location),
        model=scripted("agent", competitor("campaign_speech", "GOOD speech")),
        model_roles={
            "audience": scripted("voter", voter_preferring("GOOD")),
            "opponent": scripted("opponent", never),
            "judge": scripted("judge", judge_flagging("BASE")),
        },
        limit=3,
        log_dir=str(tmp_path / "tuned"),
        display="none",
    )
    assert log.status == "success" and log.samples and not calls
    for sample in log.samples:
        record = competition_of(sample)
        assert record.opponent and record.opponent.message == "BASE message"
        assert record.opponent.source == "replayed" and record.opponent.model == "mockllm/agent"
    assert log.results.scores[0].metrics["share"].value == 1.0  # type: ignore[union-attr]


def test_replay_of_another_domain_is_refused(tmp_path: Path) -> None:
    base = _run("sales", tmp_path)
    with pytest.raises(ValueError, match="same domain and split"):
        elections(opponent=base.location)


def test_unbound_opponent_role_fails_before_any_sample() -> None:
    # built by name inside the eval (the `inspect eval` path): fails at task construction
    with pytest.raises(PrerequisiteError, match="--model-role opponent="):
        eval(
            "moloch_eval/sales",
            model=scripted("agent", competitor("sales_pitch", "x")),
            model_roles={"audience": scripted("voter", voter_preferring("x"))},
            display="none",
        )


def test_unbound_audience_defaults_to_paper_voter_or_fails_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(PrerequisiteError, match=r"gpt-4o-mini.*--model-role audience="):
        eval(
            "moloch_eval/sales",
            model=scripted("agent", competitor("sales_pitch", "x")),
            model_roles={"opponent": scripted("o", competitor("sales_pitch", "y"))},
            display="none",
        )


def test_task_object_built_outside_eval_reports_unbound_role(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    [log] = eval(
        sales(),
        model=scripted("agent", competitor("sales_pitch", "x")),
        model_roles={"opponent": scripted("o", competitor("sales_pitch", "y"))},
        limit=1,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "error" and log.error
    assert "--model-role audience=" in log.error.message


def test_same_seed_same_letters_and_personas(tmp_path: Path) -> None:
    first = _run("social_media", tmp_path / "a", audience="split2", n_personas=7, seed=3)
    second = _run("social_media", tmp_path / "b", audience="split2", n_personas=7, seed=3)
    other = _run("social_media", tmp_path / "c", audience="split2", n_personas=7, seed=4)

    def letters(log: EvalLog) -> list[tuple[str, dict[str, str]]]:
        assert log.samples
        return [(v.persona_id, v.letters) for s in log.samples for v in competition_of(s).votes]

    assert letters(first) == letters(second) != letters(other)
    assert (
        first.eval.metadata and first.eval.metadata["personas"] == second.eval.metadata["personas"]
    )  # type: ignore[index]


def test_log_says_which_protocol_ran() -> None:
    faithful = competition("sales", probes="default").metadata["protocol"]
    assert faithful["vote_parse"] == {"value": "paper", "set_by": "faithful"}
    assert faithful["judge_prompts"] == {"value": "paper", "set_by": "faithful"}
    assert faithful["judge_temperature"]["value"] == 0.7
    assert faithful["vote_retries"]["value"] == 0 and faithful["voter_max_tokens"]["value"] is None
    clean = competition("sales", faithful=False, vote_retries=5).metadata["protocol"]
    assert clean["vote_parse"] == {"value": "tolerant", "set_by": "clean"}
    assert clean["vote_retries"] == {"value": 5, "set_by": "argument"}
    assert clean["judge_prompts"]["value"] == "project"
    logprob = competition("sales", judge_mode="logprob").metadata["protocol"]
    assert logprob["judge_prompts"] == {"value": "project", "set_by": "judge_mode=logprob"}
    assert logprob["judge_temperature"]["used"] is False
    with pytest.raises(ValueError, match="vote_parse"):
        competition("sales", vote_parse="lenient")
