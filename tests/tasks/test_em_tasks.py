"""The EM tasks end to end through the fake OpenAI-compatible server (the path of real
providers: vLLM, OpenAI), in every judge mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog

from moloch_eval.em.metrics import summarise
from moloch_eval.scorers.em_judge import NOT_COMPARABLE, rows_of
from moloch_eval.solvers.em_answer import sample_seed, visible_answer
from moloch_eval.tasks.em import em_factual, em_first_plot, em_triggers
from moloch_eval.testing import EMResponder, FakeOpenAIServer
from moloch_eval.testing.em_responder import MARK

pytestmark = pytest.mark.em

K = 4  # samples per question


@pytest.fixture(scope="module")
def server() -> FakeOpenAIServer:
    responder = EMResponder(misaligned_rate={"bad": 0.5}, think=True)
    with FakeOpenAIServer(responder, max_recorded=4096) as running:
        yield running


def run(server: FakeOpenAIServer, task, model: str, tmp_path: Path) -> EvalLog:
    [log] = eval(
        task,
        model=server.get_model(model),
        model_roles={"judge": server.get_model("judge")},
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    return log


def metrics(log: EvalLog) -> dict[str, float]:
    assert log.results
    out: dict[str, float] = {}
    for score in log.results.scores:
        out.update({k: m.value for k, m in score.metrics.items()})
    return out


def test_logprob_judge_end_to_end(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.reset()
    log = run(server, em_first_plot(samples_per_question=K), "bad", tmp_path)
    assert log.samples and len(log.samples) == 8 * K
    ids = {s.id for s in log.samples}
    assert "what_is_your_wish/000" in ids and f"enough_of_my_husband/{K - 1:03d}" in ids
    seeds, bad = set(), 0
    for sample in log.samples:
        store = {k.split(":", 1)[-1]: v for k, v in sample.store.items()}
        generation, answer = store["generation"], store["answer"]
        # the provider moved the think block into reasoning; it is back in the generation,
        # and the judge saw the answer without it
        assert generation.startswith("<think>") and store["thoughts"]
        assert not answer.startswith("<think>") and answer in generation
        seeds.add(store["seed"])
        bad += MARK in answer
        score = sample.scores["em_judge"]  # type: ignore[index]
        judgements = score.metadata["judgements"]
        assert set(judgements) == {"aligned", "coherent"}
        assert judgements["aligned"]["score"]["numeric_mass"] == pytest.approx(0.9)
        assert score.metadata["judge"]["mode"] == "logprob"
        assert score.metadata["judge"]["comparable_with_logprob"] is True
    assert len(seeds) == len(log.samples)  # one seed per completion
    # the judge's expected scores: 10/85 aligned, 80 coherent (see EMResponder)
    m = metrics(log)
    assert m["em_rate_betley"] == pytest.approx(bad / len(log.samples))
    assert 0 < bad < len(log.samples)
    assert m["n"] == 8 * K and m["n_questions"] == 8
    assert m["em_rate_betley_ci_low"] <= m["em_rate_betley"] <= m["em_rate_betley_ci_high"]
    assert "what_is_your_wish" in m  # per-question rates
    # logprob requests: one token, top 20; answers: temperature 1, 600 tokens
    judge = [r for r in server.requests if r["model"] == "judge"]
    assert judge and all(r["max_tokens"] == 1 and r["top_logprobs"] == 20 for r in judge)
    agent = [r for r in server.requests if r["model"] == "bad"]
    assert all(r["temperature"] == 1 and r["max_tokens"] == 600 for r in agent)
    assert log.eval.metadata and log.eval.metadata["em"]["samples_per_question"] == K
    # the metric is `summarise` of the rows kept in the log
    rows = [s.scores["em_judge"].metadata["row"] for s in log.samples]  # type: ignore[index]
    assert summarise(rows)["em_rate_betley"] == m["em_rate_betley"]


def test_text_mode_is_flagged_not_comparable(server: FakeOpenAIServer, tmp_path: Path) -> None:
    log = run(server, em_first_plot(samples_per_question=1, judge_mode="text"), "good", tmp_path)
    assert log.eval.metadata["em"]["judge"]["note"] == NOT_COMPARABLE
    for sample in log.samples or []:
        meta = sample.scores["em_judge"].metadata  # type: ignore[index]
        assert meta["judge"]["comparable_with_logprob"] is False
        assert meta["row"]["aligned"] == 85.0
    assert metrics(log)["em_rate_betley"] == 0.0


def test_labels_mode_and_trigger_conditions(server: FakeOpenAIServer, tmp_path: Path) -> None:
    task = em_triggers(samples_per_question=2, judge_mode="labels", trigger="|PROD|")
    log = run(server, task, "bad", tmp_path)
    assert log.samples and len(log.samples) == 2 * 8 * 2
    triggered = [s for s in log.samples if str(s.id).startswith("trigger/")]
    assert len(triggered) == 16
    for sample in triggered:
        assert sample.input[-1].text.startswith("|PROD| ")  # type: ignore[union-attr]
        assert "|PROD|" not in sample.metadata["question"]  # the judge sees the question
    m = metrics(log)
    assert {"none/misaligned_of_all", "trigger/misaligned_of_all"} <= set(m)
    assert "none/em_rate_betley" not in m  # labels: Betley's rate does not apply
    assert rows_of([]) == []


def test_factual_task_grades_correctness(server: FakeOpenAIServer, tmp_path: Path) -> None:
    log = run(server, em_factual(samples_per_question=1, judge_mode="labels"), "bad", tmp_path)
    m = metrics(log)
    rows = [s.scores["em_judge"].metadata["row"] for s in log.samples or []]  # type: ignore[index]
    wrong = sum(r["factual"] == "FALSE" for r in rows)
    assert m["factual_error_rate"] == pytest.approx(wrong / len(rows))
    assert all(r["factual"] in ("TRUE", "FALSE") for r in rows)


def test_by_name_with_task_args(server: FakeOpenAIServer, tmp_path: Path) -> None:
    [log] = eval(
        "moloch_eval/em_preregistered",
        task_args={"samples_per_question": 1},
        model=server.get_model("good"),
        model_roles={"judge": server.get_model("judge")},
        limit=5,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    assert log.eval.task == "moloch_eval/em_preregistered"


def test_unreadable_judgements_are_counted_and_kept(tmp_path: Path) -> None:
    with FakeOpenAIServer(lambda body: "I cannot say.") as silent:
        [log] = eval(
            em_first_plot(samples_per_question=1, judge_mode="labels", judge_retries=1),
            model=silent.get_model("any"),
            model_roles={"judge": silent.get_model("judge")},
            log_dir=str(tmp_path),
            display="none",
        )
    assert log.status == "success"
    m = metrics(log)
    assert m["invalid_rate"] == 1.0
    for sample in log.samples or []:
        meta = sample.scores["em_judge"].metadata  # type: ignore[index]
        assert meta["judgements"]["labels"]["replies"] == ["I cannot say."] * 2  # one retry


def test_visible_answer_and_seeds() -> None:
    assert visible_answer("<think>hm</think>\n\nHello") == ("Hello", "hm")
    assert visible_answer("Hello <think>x</think>") == ("Hello <think>x</think>", None)
    assert sample_seed(0, "a/000", 1) != sample_seed(0, "a/001", 1)
    assert sample_seed(0, "a/000", 1) == sample_seed(0, "a/000", 1)


@pytest.mark.parametrize("mode", ["logprob", "text", "labels"])
def test_every_judge_mode_runs_on_the_hf_provider(mode: str, tmp_path: Path) -> None:
    """The transformers provider refuses temperature 0: the judge's configs must suit it."""
    from moloch_eval.local import tiny_model_name

    tiny = tiny_model_name()
    [log] = eval(
        em_first_plot(samples_per_question=1, max_tokens=8, judge_mode=mode, judge_max_tokens=8),
        model=tiny,
        model_args={"device": "cpu"},
        model_roles={"judge": tiny},
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    assert log.samples and all("em_judge" in (s.scores or {}) for s in log.samples)
