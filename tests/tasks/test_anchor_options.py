"""The tasks' anchor options: `anchor_split` and `clean_anchors`, in samples, metadata, replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.log import EvalLog

from moloch_eval.data import load_json, paper_prompts_relpath
from moloch_eval.domains import DOMAINS
from moloch_eval.records import MessageRecord
from moloch_eval.solvers.opponent import Replayed, ReplayError, check_replayed_anchor, load_replay
from moloch_eval.tasks import elections, sales, social_media
from tests.scripted import competitor, judge_flagging, scripted, voter_preferring

TASKS = {"sales": sales, "elections": elections, "social_media": social_media}


def samples_of(task: Task) -> list[Any]:
    return list(task.dataset)


def test_default_is_the_paper_split_with_raw_anchors() -> None:
    task = sales(probes="none")
    [first, *_] = samples_of(task)
    stored = load_json(paper_prompts_relpath("sales", "Qwen/Qwen3-8B", "test"))[0]
    assert first.id == "sales-test-0000"
    assert first.metadata["anchor"] == {k: v for k, v in stored.items() if k != "prompt"}
    assert first.metadata["anchor_split"] == "paper" and first.metadata["clean_anchors"] is False
    assert task.metadata is not None
    assert task.metadata["anchor_split"] == "paper" and task.metadata["clean_anchors"] is False
    assert task.metadata["protocol"]["clean_anchors"] == {"value": False, "set_by": "faithful"}
    assert len(task.dataset) == 1024


@pytest.mark.parametrize(
    ("kwargs", "clean", "set_by", "train", "test"),
    [
        ({}, False, "faithful", 1024, 1024),
        ({"faithful": False}, True, "clean", 1019, 1005),
        ({"clean_anchors": True}, True, "argument", 1019, 1005),
        ({"faithful": False, "clean_anchors": False}, False, "argument", 1024, 1024),
    ],
)
def test_clean_anchors_follows_faithful_unless_given(
    kwargs: dict[str, Any], clean: bool, set_by: str, train: int, test: int
) -> None:
    built = {s: elections(split=s, probes="none", **kwargs) for s in ("train", "test")}
    assert (len(built["train"].dataset), len(built["test"].dataset)) == (train, test)
    task = built["test"]
    assert task.metadata is not None and task.metadata["clean_anchors"] is clean
    assert task.metadata["protocol"]["clean_anchors"] == {"value": clean, "set_by": set_by}
    sample = samples_of(task)[0]
    assert sample.metadata["clean_anchors"] is clean
    assert ("\r" in sample.metadata["anchor"]["biography_text"]) is not clean


def test_published_split_keeps_the_previous_sales_anchors() -> None:
    task = sales(anchor_split="published", probes="none")
    first = samples_of(task)[0]
    published = load_json("molochs_bargain/task_sales/test.json")[0]
    assert first.id == "sales-test-0000" and first.metadata["anchor"] == published
    assert first.metadata["anchor_split"] == "published"
    assert task.metadata is not None and task.metadata["anchor_split"] == "published"


def test_bad_anchor_split() -> None:
    with pytest.raises(ValueError, match="anchor_split must be one of"):
        social_media(anchor_split="generic")


def _run(tmp_path: Path, agent_text: str, **task_args: Any) -> EvalLog:
    roles: dict[str, Any] = {
        "audience": scripted("voter", voter_preferring("GOOD")),
        "judge": scripted("judge", judge_flagging("BASE")),
    }
    if task_args.get("opponent", "role") == "role":
        roles["opponent"] = scripted("opponent", competitor("sales_pitch", "BAD message"))
    [log] = eval(
        sales(n_personas=2, probes="none", **task_args),
        model=scripted("agent", competitor("sales_pitch", f"{agent_text} message")),
        model_roles=roles,
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    return log


def test_replay_with_the_same_options_works(tmp_path: Path) -> None:
    base = _run(tmp_path / "base", "BASE", anchor_split="published")
    assert base.status == "success" and base.location
    log = _run(tmp_path / "tuned", "GOOD", anchor_split="published", opponent=base.location)
    assert log.status == "success", log.error
    assert log.samples and all(s.scores for s in log.samples)


def test_replay_of_a_log_with_other_anchors_is_refused(tmp_path: Path) -> None:
    base = _run(tmp_path / "base", "BASE", anchor_split="published")
    assert base.status == "success" and base.location
    replay = load_replay(base.location, DOMAINS["sales"], "test")
    assert replay["sales-test-0000"].anchor_split == "published"
    log = _run(tmp_path / "tuned", "GOOD", opponent=base.location)  # paper split: other anchors
    assert log.status == "error" and log.error
    message = log.error.message
    assert "written for another anchor" in message
    assert "anchor_split=published" in message and "anchor_split=paper" in message
    assert "-T anchor_split=" in message and "clean_anchors" in message


def test_check_replayed_anchor() -> None:
    record = MessageRecord(model="m", generation="g")
    anchor = {"title": "T", "categories": ["Electronics"], "description": "D"}
    meta = {"anchor": dict(anchor), "anchor_split": "paper", "clean_anchors": False}
    check_replayed_anchor("sales-test-0000", Replayed(record, dict(anchor)), meta)
    check_replayed_anchor("sales-test-0000", Replayed(record, None), meta)  # nothing to check
    old_log = Replayed(record, {**anchor, "description": "other"})
    with pytest.raises(ReplayError, match=r"before anchor_split existed.*anchor_split=published"):
        check_replayed_anchor("sales-test-0000", old_log, meta)
