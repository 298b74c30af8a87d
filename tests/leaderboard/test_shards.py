"""Logs of one run split by sample ranges are merged into the row of the whole run.

A small competition (and an EM eval) runs against the fake OpenAI-compatible server once whole
and once as two `limit=(start, end)` shards into one folder; the server's replies depend only
on the prompt, so the shards' samples are the whole run's. The merged rows must equal the
whole run's (share and its CI, the probes' seeded-bootstrap CIs, the rates, n); where sample
ids overlap the newest log wins; a log of another configuration is not merged; an object
store (fsspec's `memory://`) is read like a folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log

from moloch_eval.cli import main
from moloch_eval.leaderboard.collect import collect
from moloch_eval.leaderboard.em import collect_em
from moloch_eval.leaderboard.merge import configuration
from moloch_eval.leaderboard.table import to_frame, to_markdown
from moloch_eval.tasks import sales
from moloch_eval.tasks.em import em_first_plot
from moloch_eval.testing import EMResponder, FakeOpenAIServer
from tests.leaderboard.merged_rows import PERSONAS, ROLES, numbers, only_row, responder

N = 8  # anchors of the run
OLD = "2000-01-01T00:00:00+00:00"


@dataclass
class Runs:
    whole: Path  # one log of all N anchors
    shards: Path  # two logs: anchors 1-4 and 5-8
    whole_log: EvalLog
    shard_logs: list[EvalLog]


def _competition(server: FakeOpenAIServer, folder: Path, limit: Any) -> EvalLog:
    [log] = eval(
        sales(n_personas=PERSONAS),
        model=server.get_model("agent"),
        model_roles={role: server.get_model(name) for role, name in ROLES.items()},
        limit=limit,
        log_dir=str(folder),
        display="none",
    )
    assert log.status == "success", log.error
    return log


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(responder()) as running:
        yield running


@pytest.fixture(scope="module")
def runs(server: FakeOpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    whole, shards = tmp_path_factory.mktemp("whole"), tmp_path_factory.mktemp("shards")
    whole_log = _competition(server, whole, N)
    shard_logs = [_competition(server, shards, (0, 4)), _competition(server, shards, (4, 8))]
    return Runs(whole, shards, whole_log, shard_logs)


def _copy(log: EvalLog, folder: Path, name: str, share: float | None = None) -> Path:
    """A copy of `log` created in 2000 (older than every run here); `share`: every sample's
    audience share set to it, so its samples can be told from the real ones."""
    assert log.location
    copy = read_eval_log(log.location)
    copy.eval.created = OLD
    for sample in copy.samples or []:
        if share is not None:
            score = (sample.scores or {})["audience_share"]
            assert isinstance(score.value, dict)
            score.value = {**score.value, "share": share}
    path = folder / name
    write_eval_log(copy, str(path))
    return path


def test_shards_give_the_row_of_the_whole_run(runs: Runs) -> None:
    whole, merged = only_row(collect(runs.whole)), only_row(collect(runs.shards))
    assert whole.n_samples == merged.n_samples == N
    assert merged.probes and merged.misalignment  # CIs of the seeded bootstrap, compared below
    assert numbers(merged) == numbers(whole)
    assert merged.n_logs == 2 and whole.n_logs == 1 and whole.logs == []
    newest = max(runs.shard_logs, key=lambda log: (log.eval.created, log.stats.completed_at))
    assert merged.log == newest.location
    assert sorted(merged.logs) == sorted(str(log.location) for log in runs.shard_logs)
    assert merged.notes[0].startswith("merged from 2 logs")
    # the run's own metrics (written by the scorers over all N samples) agree too
    assert runs.whole_log.results is not None
    share = next(s for s in runs.whole_log.results.scores if s.name == "audience_share")
    assert merged.share.mean == pytest.approx(share.metrics["share"].value)


def test_merged_rows_say_so_in_csv_markdown_and_notes(runs: Runs) -> None:
    board = collect(runs.shards)
    frame = to_frame(board)
    assert frame.loc[0, "n_logs"] == 2
    assert sorted(str(frame.loc[0, "logs"]).split("; ")) == sorted(
        str(log.location) for log in runs.shard_logs
    )
    assert f"| {N} (2 logs) " in to_markdown(board)
    assert any("merged from several logs" in note for note in board.notes)
    assert board.skipped == []
    single = to_frame(collect(runs.whole))
    assert single.loc[0, "n_logs"] == 1 and single.loc[0, "logs"] == single.loc[0, "log"]


def test_newest_log_wins_where_samples_overlap(runs: Runs, tmp_path: Path) -> None:
    whole = only_row(collect(runs.whole))
    first, second = runs.shard_logs
    # an older run of all anchors (shares set to 1) and a newer shard of anchors 1-4
    folder = tmp_path / "overlap"
    folder.mkdir()
    _copy(runs.whole_log, folder, "old_whole.eval", share=1.0)
    assert first.location
    shutil.copy(first.location, folder / "new_first.eval")
    row = only_row(collect(folder))
    assert row.n_samples == N and row.n_logs == 2
    # anchors 1-4 from the new shard (its real shares), 5-8 from the old run (share 1)
    first_half = only_row(collect(_only(first, tmp_path / "first")))
    assert row.share.mean == pytest.approx((first_half.share.mean * 4 + 1.0 * 4) / N)
    assert row.share.mean != pytest.approx(whole.share.mean)

    # a re-run of one shard replaces just that shard
    rerun = tmp_path / "rerun"
    rerun.mkdir()
    _copy(first, rerun, "old_first.eval", share=1.0)
    for log in runs.shard_logs:
        assert log.location
        shutil.copy(log.location, rerun / Path(log.location).name)
    board = collect(rerun)
    assert numbers(only_row(board)) == numbers(whole)
    [skipped] = board.skipped
    assert skipped.log.endswith("old_first.eval")
    assert skipped.reason == (
        f"superseded by the newer log {Path(str(first.location)).name} of the same configuration"
    )

    # a full re-run supersedes an old (sharded) run
    full = tmp_path / "full"
    full.mkdir()
    _copy(first, full, "old_first.eval", share=1.0)
    _copy(second, full, "old_second.eval", share=1.0)
    assert runs.whole_log.location
    shutil.copy(runs.whole_log.location, full / "new_whole.eval")
    board = collect(full)
    assert numbers(only_row(board)) == numbers(whole) and only_row(board).n_logs == 1
    assert sorted(Path(s.log).name for s in board.skipped) == ["old_first.eval", "old_second.eval"]
    assert all(
        s.reason.startswith("superseded by the newer log new_whole.eval") for s in board.skipped
    )


def _only(log: EvalLog, folder: Path) -> Path:
    folder.mkdir()
    assert log.location
    shutil.copy(log.location, folder / Path(log.location).name)
    return folder


def test_logs_of_another_configuration_are_not_merged(runs: Runs, tmp_path: Path) -> None:
    first, second = runs.shard_logs
    assert first.location and second.location
    shutil.copy(first.location, tmp_path / "first.eval")
    other = read_eval_log(second.location)
    other.eval.task_args = {**other.eval.task_args, "agent_temperature": 0.5}
    other.eval.created = OLD
    write_eval_log(other, str(tmp_path / "other.eval"))
    board = collect(tmp_path)
    row = only_row(board)  # same model, base and conditions: the newer one is kept
    assert row.n_samples == 4 and row.n_logs == 1 and row.log.endswith("first.eval")
    [skipped] = board.skipped
    assert skipped.log.endswith("other.eval") and skipped.reason.startswith("superseded")


def test_configuration_ignores_where_samples_and_shards_come_from(runs: Runs) -> None:
    first, second = runs.shard_logs
    assert configuration(first) == configuration(second)  # limits differ
    base = configuration(first)

    def changed(change: Any) -> str:
        log = first.model_copy(deep=True)
        change(log.eval)
        return configuration(log)

    same = [
        lambda e: setattr(e.config, "max_samples", 3),
        lambda e: setattr(e.config, "sample_id", ["x"]),
        lambda e: setattr(e, "model_base_url", "http://elsewhere:1/v1"),
        lambda e: setattr(e.model_generate_config, "max_connections", 99),
        lambda e: setattr(e, "revision", None),
        lambda e: setattr(e, "packages", {"inspect_ai": "0"}),
        lambda e: e.task_args.update(cache=True, model_events="all"),
        lambda e: setattr(e.model_roles["audience"], "base_url", "http://b:2/v1"),
        lambda e: setattr(e, "created", OLD),
    ]
    assert all(changed(c) == base for c in same)
    replay = first.model_copy(deep=True)
    replay.eval.task_args = {**replay.eval.task_args, "opponent": "/a/base.eval"}
    moved = replay.model_copy(deep=True)
    moved.eval.task_args = {**moved.eval.task_args, "opponent": "/b/elsewhere/base.eval"}
    assert configuration(replay) == configuration(moved)
    different = [
        lambda e: e.task_args.update(seed=1),
        lambda e: setattr(e.config, "epochs", 2),
        lambda e: setattr(e, "model", "openai-api/fake/other"),
        lambda e: setattr(e.model_generate_config, "temperature", 0.1),
        lambda e: setattr(e.model_roles["audience"], "model", "openai-api/fake/voter2"),
        lambda e: setattr(e.config, "message_limit", 5),
    ]
    assert all(changed(c) != base for c in different)


def test_shards_in_an_object_store_are_read_and_merged(runs: Runs, tmp_path: Path) -> None:
    """fsspec URLs: Inspect lists and reads them, the leaderboard merges them."""
    store = "memory://moloch-test/run"
    for i, log in enumerate(runs.shard_logs):
        write_eval_log(log, f"{store}/shard{i}.eval")
    board = collect(store)
    whole = only_row(collect(runs.whole))
    row = only_row(board)
    assert numbers(row) == numbers(whole) and row.n_logs == 2
    assert all(log.startswith("memory://") for log in row.logs)
    out = tmp_path / "report"
    assert main(["leaderboard", store, "-o", str(out), "--no-figures"]) == 0
    assert (out / "leaderboard.csv").is_file()


def test_eval_writes_its_log_to_an_object_store(server: FakeOpenAIServer, runs: Runs) -> None:
    store = "memory://moloch-test/written"
    [log] = eval(
        sales(n_personas=PERSONAS),
        model=server.get_model("agent"),
        model_roles={role: server.get_model(name) for role, name in ROLES.items()},
        limit=(0, 4),
        log_dir=store,
        display="none",
    )
    assert log.status == "success" and str(log.location).startswith("memory://")
    assert only_row(collect(store)).n_samples == 4


# -- EM ------------------------------------------------------------------------------------------


def _em(server: FakeOpenAIServer, task: Task, folder: Path, limit: Any) -> EvalLog:
    [log] = eval(
        task,
        model=server.get_model("bad"),
        model_roles={"judge": server.get_model("judge")},
        limit=limit,
        log_dir=str(folder),
        display="none",
    )
    assert log.status == "success", log.error
    return log


def test_em_shards_give_the_rows_of_the_whole_run(tmp_path: Path) -> None:
    whole, shards = tmp_path / "whole", tmp_path / "shards"
    with FakeOpenAIServer(EMResponder(misaligned_rate={"bad": 0.5})) as server:
        full = _em(server, em_first_plot(samples_per_question=2), whole, None)
        assert full.samples
        n = len(full.samples)
        half = n // 2 + 1  # the shards cut a question's samples apart
        parts = [
            _em(server, em_first_plot(samples_per_question=2), shards, (0, half)),
            _em(server, em_first_plot(samples_per_question=2), shards, (half, n)),
        ]
    [one] = collect_em(whole, 200, 0).rows
    merged = collect_em(shards, 200, 0)
    [row] = merged.rows
    assert row.summary == one.summary and row.summary["n"] == n
    assert 0 < (row.value(row.rate) or 0) < 1
    assert row.n_logs == 2 and sorted(row.logs) == sorted(str(p.location) for p in parts)
    assert one.n_logs == 1 and merged.skipped == []
