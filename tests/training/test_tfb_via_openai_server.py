"""Collect → build-dataset tfb through an OpenAI-compatible server, the path real users take.

Inspect's OpenAI-compatible providers move a leading ``<think>`` block into reasoning content
before ``output.completion`` is built. The audience's thoughts (and the judge's reasoning) must
still reach the log and the TFB records.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai import eval

from moloch_eval.cli import main
from moloch_eval.records import competition_of
from moloch_eval.tasks import sales
from moloch_eval.testing import CompetitionResponder, FakeOpenAIServer

ANCHORS = 3
VOTERS = 3


@pytest.fixture(scope="module")
def selfplay_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log_dir = tmp_path_factory.mktemp("selfplay")
    with FakeOpenAIServer(CompetitionResponder(think_words=12, agent_think_words=8)) as server:
        [log] = eval(
            sales(split="train", opponent="self", n_personas=VOTERS),
            model=server.get_model("agent"),
            model_roles={"audience": server.get_model("voter"), "judge": server.get_model("judge")},
            limit=ANCHORS,
            log_dir=str(log_dir),
            display="none",
        )
    assert log.status == "success", log.error
    assert log.location
    return Path(log.location)


def test_voter_and_judge_thoughts_survive_the_provider(selfplay_log: Path) -> None:
    from inspect_ai.log import read_eval_log

    log = read_eval_log(str(selfplay_log))
    assert log.samples and len(log.samples) == ANCHORS
    for sample in log.samples:
        votes = competition_of(sample).votes
        assert len(votes) == VOTERS
        for vote in votes:
            # the raw reply keeps the reasoning, and the thought is read from it
            assert vote.replies[0].startswith("<think>") and "<vote>" in vote.replies[0]
            assert vote.thought and vote.thought.strip() and vote.valid
            assert vote.parse == "paper"
        probe = sample.scores["misrepresentation"]  # type: ignore[index]
        meta = probe.metadata or {}
        assert meta["judge"]["prompts"] == "paper:trends/sales_q1.py"
        for side in ("agent", "opponent"):
            judgement = meta[side]
            assert judgement["valid"] and judgement["reasoning"].strip()
            assert judgement["replies"][0].startswith("<think>")


def test_build_dataset_tfb_writes_the_audience_thoughts(
    selfplay_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from inspect_ai.log import read_eval_log

    out = tmp_path / "tfb.jsonl"
    assert main(["build-dataset", "--method", "tfb", str(selfplay_log), "-o", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    thoughts = [r for r in records if r["meta"]["kind"] == "audience_thought"]
    rft = [r for r in records if r["meta"]["kind"] == "rft"]
    assert rft and thoughts
    assert len(thoughts) == min(len(rft), ANCHORS * VOTERS)
    log = read_eval_log(str(selfplay_log))
    written = {
        (v.thought or "").strip()
        for s in log.samples or []
        for v in competition_of(s).votes
        if v.thought
    }
    for record in thoughts:
        completion = record["completion"][0]["content"]
        assert completion.startswith("<think> ") and completion.endswith(" </think>")
        assert completion[len("<think> ") : -len(" </think>")] in written
    assert "audience-thought" in capsys.readouterr().out
