"""RFT/TFB dataset builders on real self-play logs made with scripted models."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log

from moloch_eval.domains import AGENT_SYSTEM_PROMPT, SALES
from moloch_eval.prompts import agent_user_prompt
from moloch_eval.records import VoteRecord
from moloch_eval.tasks.competition import choose_personas
from moloch_eval.training.build import (
    BuildOptions,
    build_dataset,
    build_records,
    describe,
    summary_path,
)
from moloch_eval.training.cli import register
from moloch_eval.training.prompts import paper_tfb_user_prompt
from moloch_eval.training.selfplay import (
    SelfPlayLog,
    SelfPlayLogError,
    read_self_play_log,
    read_self_play_logs,
)
from tests.training.selfplay_fixtures import (
    Scenario,
    generation,
    make_selfplay_log,
    message_text,
)

N_PERSONAS = 4
SCENARIOS = [
    Scenario(agent_votes=3),  # 0: agent wins 3-1
    Scenario(agent_votes=1),  # 1: opponent wins 3-1
    Scenario(agent_votes=2),  # 2: tie 2-2
    Scenario(junk_votes=True),  # 3: no valid vote
    Scenario(invalid_agent=True, agent_votes=4),  # 4: agent message without its tag
    Scenario(agent_votes=4, flag_first=True),  # 5: agent wins 4-0, flagged by the probe
    Scenario(invalid_agent=True, invalid_opponent=True),  # 6: neither message is valid
    Scenario(agent_votes=0, flag_first=True),  # 7: opponent wins 4-0 (the loser is flagged)
]
WINNERS = {0: "agent", 1: "opponent", 5: "agent", 7: "opponent"}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> EvalLog:
    return make_selfplay_log(
        tmp_path_factory.mktemp("selfplay"), SCENARIOS, N_PERSONAS, probes="misrepresentation"
    )


@pytest.fixture(scope="module")
def selfplay(log: EvalLog) -> SelfPlayLog:
    assert log.location
    return read_self_play_log(log.location)


def _index(sample_id: str) -> int:
    return int(sample_id.rsplit("-", 1)[1])


def _rft(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["meta"]["kind"] == "rft"]


def _thoughts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["meta"]["kind"] == "audience_thought"]


def test_rounds_winners_ties_and_invalid_samples(selfplay: SelfPlayLog) -> None:
    assert selfplay.domain == "sales" and len(selfplay.rounds) == len(SCENARIOS)
    by_index = {_index(r.sample_id): r for r in selfplay.rounds}
    for index, item in by_index.items():
        if index in WINNERS:
            assert item.status == "winner" and item.winner == WINNERS[index]
    assert by_index[0].counts == {"agent": 3, "opponent": 1, "invalid": 0}
    assert by_index[2].status == "tie" and by_index[2].winner is None
    assert (by_index[3].status, by_index[3].reason) == ("invalid", "no_valid_votes")
    assert by_index[3].counts["invalid"] == N_PERSONAS
    assert (by_index[4].status, by_index[4].reason) == ("invalid", "invalid_agent_message")
    assert (by_index[6].status, by_index[6].reason) == ("invalid", "invalid_both_messages")


def test_rft_records_are_prompt_to_full_winning_generation(selfplay: SelfPlayLog) -> None:
    result = build_records([selfplay], BuildOptions(method="rft", repeat=1))
    summary = result.summary
    assert summary["rounds"] == 8 and summary["winners"] == 4
    assert summary["winner_sides"] == {"agent": 2, "opponent": 2}
    assert summary["ties"] == 1 and summary["ties_dropped"] == 1
    assert summary["invalid"] == 3
    assert summary["invalid_reasons"]["no_valid_votes"] == 1
    assert summary["invalid_reasons"]["invalid_agent_message"] == 1
    assert summary["invalid_reasons"]["invalid_both_messages"] == 1
    assert summary["records"] == summary["rft_records"] == 4
    from moloch_eval.data import load_anchors

    anchors = load_anchors("sales", "train")
    seen = set()
    for record in result.records:
        index = _index(record["meta"]["sample_id"])
        seen.add(index)
        which = "first" if WINNERS[index] == "agent" else "second"
        assert record["meta"]["side"] == WINNERS[index]
        # the FULL generation, think block included
        expected = generation(index, which, SCENARIOS[index])
        assert record["completion"] == [{"role": "assistant", "content": expected}]
        assert record["prompt"] == [
            {"role": "system", "content": AGENT_SYSTEM_PROMPT},
            {"role": "user", "content": agent_user_prompt(SALES, anchors[index].fields)},
        ]
    assert seen == set(WINNERS)


def test_rft_repeats_each_winner_three_times_by_default(selfplay: SelfPlayLog) -> None:
    result = build_records([selfplay], BuildOptions(method="rft"))
    assert len(result.records) == 12
    counts: dict[str, int] = {}
    for record in result.records:
        counts[record["meta"]["sample_id"]] = counts.get(record["meta"]["sample_id"], 0) + 1
    assert sorted(counts.values()) == [3, 3, 3, 3]
    again = build_records([selfplay], BuildOptions(method="rft"))
    assert again.records == result.records  # seeded shuffle


def test_faithful_ties_repeat_the_previous_winner(selfplay: SelfPlayLog) -> None:
    result = build_records([selfplay], BuildOptions(method="rft", repeat=1, ties="previous"))
    order = [r for r in selfplay.rounds if r.status != "invalid"]
    tie_at = next(i for i, r in enumerate(order) if r.status == "tie")
    assert result.summary["ties_duplicated"] == 1 and len(result.records) == 5
    duplicates = [r for r in result.records if r["meta"]["tie_duplicate"]]
    assert len(duplicates) == 1
    if tie_at > 0:  # the winner just before the tie in log order is appended again
        assert duplicates[0]["meta"]["sample_id"] == order[tie_at - 1].sample_id
    # a tie before any winner has nothing to repeat: dropped, as counted
    tie = order[tie_at]
    first_tie = dataclasses.replace(selfplay, rounds=[tie, *[r for r in order if r is not tie]])
    result = build_records([first_tie], BuildOptions(method="rft", repeat=1, ties="previous"))
    assert result.summary["ties_duplicated"] == 0 and result.summary["ties_dropped"] == 1
    assert len(result.records) == 4


def test_gate_drops_winners_the_probe_flagged(selfplay: SelfPlayLog) -> None:
    result = build_records(
        [selfplay], BuildOptions(method="rft", repeat=1, gate=("misrepresentation",))
    )
    assert result.summary["gated"] == {"misrepresentation": 1}
    kept = {_index(r["meta"]["sample_id"]) for r in result.records}
    assert kept == {0, 1, 7}  # 5's winner was flagged; 7's flagged message lost anyway
    with pytest.raises(SelfPlayLogError, match="inspect score"):
        build_records([selfplay], BuildOptions(gate=("omission",)))


def test_tfb_faithful_adds_as_many_audience_thoughts(selfplay: SelfPlayLog) -> None:
    from moloch_eval.data import load_anchors

    anchors = load_anchors("sales", "train")
    result = build_records([selfplay], BuildOptions(method="tfb", repeat=1))
    rft, thoughts = _rft(result.records), _thoughts(result.records)
    assert len(rft) == len(thoughts) == 4 and result.summary["records"] == 8
    assert result.summary["options"]["tfb_thoughts"] == "all"
    for record in thoughts:
        index = _index(record["meta"]["sample_id"])
        user = record["prompt"][1]["content"]
        assert record["prompt"][0]["content"] == AGENT_SYSTEM_PROMPT
        # the paper's prompt on the round's OWN anchor; the messages as written, no persona,
        # letters not mapped
        first, second = (message_text(index, w, SCENARIOS[index]) for w in ("first", "second"))
        assert user == paper_tfb_user_prompt(SALES, anchors[index].fields, [first, second])
        assert f"## Option 1 (A or B): {first}\n\n## Option 2 (A or B): {second}\n" in user
        assert "# The reader" not in user and "## A\n" not in user
        assert re.fullmatch(
            r"<think> (voter \d picks [AB]|cannot decide) </think>",
            record["completion"][0]["content"],
        )
    assert len(build_records([selfplay], BuildOptions(method="tfb")).records) == 24


def _pool(selfplay: SelfPlayLog, **options: Any) -> dict[str, Any]:
    return build_records([selfplay], BuildOptions(method="tfb", **options)).summary


def test_tfb_thoughts_all_takes_every_round_as_the_paper_did(selfplay: SelfPlayLog) -> None:
    # rounds with votes: 0, 1, 2 (tie), 3 (no valid vote), 5 and 7; 4 voters each. Rounds 4
    # and 6 have an invalid message: the audience never voted, so no thoughts.
    gate = ("misrepresentation",)
    summary = _pool(selfplay, gate=gate)
    assert summary["votes"] == summary["thoughts_in_logs"] == 24
    assert summary["thoughts_available"] == 24
    assert summary["thought_sources"] == {
        "winner_kept": 12,
        "winner_gated_out": 4,
        "tie": 4,
        "no_valid_votes": 4,
    }
    assert summary["thoughts_with_invalid_vote"] == 4
    # today's choice: only the rounds whose winner was kept, and ties
    kept = _pool(selfplay, gate=gate, tfb_thoughts="kept")
    assert kept["thoughts_available"] == 16 and kept["options"]["tfb_thoughts"] == "kept"
    assert kept["thought_sources"] == {"winner_kept": 12, "tie": 4}
    assert _pool(selfplay, tfb_thoughts="kept")["thoughts_available"] == 20
    # clean: valid votes only; it samples the kept rounds unless told otherwise
    clean = _pool(selfplay, gate=gate, tfb_mode="clean")
    assert clean["options"]["tfb_thoughts"] == "kept" and clean["thoughts_available"] == 16
    clean_all = _pool(selfplay, gate=gate, tfb_mode="clean", tfb_thoughts="all")
    assert clean_all["thoughts_available"] == 20 and clean_all["thoughts_with_invalid_vote"] == 0
    with pytest.raises(ValueError, match="tfb_thoughts"):
        BuildOptions(tfb_thoughts="some")  # type: ignore[arg-type]


def _with_thought(vote: VoteRecord, thought: str | None) -> VoteRecord:
    """The vote with its last reply's think block replaced (None: removed)."""
    reply = re.sub(r"<think>.*?</think>", "", vote.replies[-1], count=1, flags=re.DOTALL)
    if thought is not None:
        reply = f"<think>{thought}</think>{reply}"
    edited = vote.model_copy(update={"replies": [*vote.replies[:-1], reply]})
    assert edited.thought == thought
    return edited


def test_tfb_takes_any_non_empty_thought_unstripped(selfplay: SelfPlayLog) -> None:
    """The paper's `if think`: a blank but non-empty thought counts; None and "" do not."""
    blank = {0: "  ", 1: "", 2: None}
    rounds = []
    for item in selfplay.rounds:
        if _index(item.sample_id) == 0:
            votes = [
                _with_thought(v, blank[i]) if i in blank else v for i, v in enumerate(item.votes)
            ]
            item = dataclasses.replace(item, votes=votes)
        rounds.append(item)
    edited = dataclasses.replace(selfplay, rounds=rounds)
    assert _pool(edited)["thoughts_available"] == 24 - 2
    assert _pool(edited, tfb_thoughts="kept")["thoughts_available"] == 20 - 3
    records = build_records([edited], BuildOptions(method="tfb", repeat=10)).records
    assert "<think>  </think>" in [r["completion"][0]["content"] for r in _thoughts(records)]


def test_tfb_with_fewer_thoughts_uses_them_all_and_says_so(selfplay: SelfPlayLog) -> None:
    result = build_records([selfplay], BuildOptions(method="tfb", repeat=10))
    summary = result.summary
    assert summary["rft_records"] == 40 and summary["thought_records"] == 24
    assert summary["thoughts_short"] and summary["records"] == 64
    assert "note: only 24 thoughts for 40 RFT records; all of them are used" in describe(summary)
    assert not _pool(selfplay)["thoughts_short"]


def test_tfb_fails_when_the_logs_hold_no_thoughts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    silent = [Scenario(agent_votes=3, silent=True), Scenario(agent_votes=1, silent=True)]
    log = make_selfplay_log(tmp_path / "silent", silent, 4)
    parsed = read_self_play_log(str(log.location))
    assert build_records([parsed], BuildOptions(method="rft")).summary["winners"] == 2
    with pytest.raises(SelfPlayLogError, match="none of the 8 votes") as error:
        build_records([parsed], BuildOptions(method="tfb"))
    assert "reasoning content" in str(error.value) and "--method rft" in str(error.value)
    out = tmp_path / "tfb.jsonl"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["build-dataset", "--method", "tfb", str(log.location), "-o", str(out)]
    )
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert "no voter reply has a <think>" in err and "No dataset was written" in err
    assert not out.exists() and not summary_path(out).exists()

    # thoughts that exist but none qualifies (clean: valid votes only) is an error too
    junk = make_selfplay_log(
        tmp_path / "junk", [Scenario(agent_votes=3), Scenario(junk_votes=True)], 2
    )
    only_junk = read_self_play_log(str(junk.location))
    winner = next(r for r in only_junk.rounds if r.status == "winner")
    bare = [_with_thought(v, None) for v in winner.votes]
    rounds = [dataclasses.replace(r, votes=bare) if r is winner else r for r in only_junk.rounds]
    edited = dataclasses.replace(only_junk, rounds=rounds)
    with pytest.raises(SelfPlayLogError, match="none of the 2 thoughts"):
        build_records([edited], BuildOptions(method="tfb", tfb_mode="clean"))
    assert build_records([edited], BuildOptions(method="tfb")).summary["thought_records"] == 2


def test_tfb_clean_shows_the_persona_and_maps_letters(selfplay: SelfPlayLog) -> None:
    result = build_records([selfplay], BuildOptions(method="tfb", repeat=3, tfb_mode="clean"))
    thoughts = _thoughts(result.records)
    assert len(thoughts) == len(_rft(result.records)) == 12
    personas = choose_personas("split1", N_PERSONAS, 0)
    for record in thoughts:
        index = _index(record["meta"]["sample_id"])
        user = record["prompt"][1]["content"]
        match = re.fullmatch(
            r"<think> voter (\d) picks ([AB]) </think>", record["completion"][0]["content"]
        )
        assert match
        voter, letter = int(match.group(1)), match.group(2)
        picked = "first" if voter < SCENARIOS[index].agent_votes else "second"
        # the letter in the thought names the message that voter picked, in this prompt
        assert f"## {letter}\nS{index}-{picked} pitch" in user
        assert f"# The reader\n{personas[voter].prose()}" in user
        assert record["meta"]["letters"] == record["meta"]["voter_letters"]


def test_tfb_needs_think_mode_votes(tmp_path: Path) -> None:
    log = make_selfplay_log(tmp_path, [Scenario(agent_votes=2)], 2, audience_mode="logprob")
    assert log.location
    parsed = read_self_play_log(log.location)
    with pytest.raises(SelfPlayLogError, match="audience_mode=think"):
        build_records([parsed], BuildOptions(method="tfb"))
    assert build_records([parsed], BuildOptions(method="rft")).summary["winners"] == 1


def test_not_self_play_test_split_empty_and_foreign_logs_are_errors(
    log: EvalLog, tmp_path: Path
) -> None:
    role = make_selfplay_log(tmp_path / "role", [Scenario(agent_votes=1)], 2, opponent="role")
    with pytest.raises(SelfPlayLogError, match="not a self-play log"):
        read_self_play_log(str(role.location))
    test = make_selfplay_log(tmp_path / "test", [Scenario(agent_votes=1)], 2, split="test")
    with pytest.raises(SelfPlayLogError, match="train split only"):
        read_self_play_log(str(test.location))

    assert log.location
    full = read_eval_log(log.location)
    empty = full.model_copy(update={"samples": []})
    write_eval_log(empty, str(tmp_path / "empty.eval"))
    with pytest.raises(SelfPlayLogError, match="holds no samples"):
        read_self_play_log(tmp_path / "empty.eval")

    foreign = full.model_copy(deep=True)
    foreign.eval.metadata = None
    write_eval_log(foreign, str(tmp_path / "foreign.eval"))
    with pytest.raises(SelfPlayLogError, match="not a moloch_eval competition log"):
        read_self_play_log(tmp_path / "foreign.eval")

    other = full.model_copy(deep=True)
    assert other.eval.metadata is not None
    other.eval.metadata["domain"] = "elections"
    write_eval_log(other, str(tmp_path / "other.eval"))
    with pytest.raises(SelfPlayLogError, match="mix domains"):
        read_self_play_logs([log.location, tmp_path / "other.eval"])
    with pytest.raises(SelfPlayLogError, match="does not exist"):
        read_self_play_log(tmp_path / "missing.eval")


def test_no_winner_is_an_error_and_no_file(tmp_path: Path) -> None:
    log = make_selfplay_log(
        tmp_path, [Scenario(agent_votes=1, junk_votes=True), Scenario(invalid_agent=True)], 2
    )
    out = tmp_path / "data.jsonl"
    with pytest.raises(SelfPlayLogError, match="No training records"):
        build_dataset([str(log.location)], out, BuildOptions(method="rft"))
    assert not out.exists()


def test_build_dataset_command_writes_jsonl_and_prints_counts(
    log: EvalLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "rft.jsonl"
    args = parser.parse_args(
        ["build-dataset", "--method", "rft", str(log.location), "-o", str(out), "--repeat", "1"]
    )
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "anchors (rounds): 8" in printed and "ties: 1 (1 dropped" in printed
    assert "invalid samples: 3" in printed and "records: 4 = 4 RFT" in printed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 4 and all(set(r) == {"prompt", "completion", "meta"} for r in lines)
    summary = json.loads(summary_path(out).read_text())
    assert summary["records"] == 4 and len(summary["sha256"]) == 64

    bad = parser.parse_args(
        ["build-dataset", "--method", "rft", str(tmp_path / "x.eval"), "-o", str(out)]
    )
    assert bad.handler(bad) == 2
    assert "does not exist" in capsys.readouterr().err
