"""`moloch-eval shards`: the ranges, the refusals, the printed command lines, the exit status, and
a real two-shard run (subprocesses against the fake OpenAI-compatible server) whose logs the
leaderboard merges into the row of the whole run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import list_eval_logs, read_eval_log

from moloch_eval import shards as shards_module
from moloch_eval.cli import main
from moloch_eval.leaderboard.collect import collect
from moloch_eval.shards import ShardsError, plan_shards, sample_count, shard_ranges
from moloch_eval.tasks import sales
from moloch_eval.testing import FakeOpenAIServer
from tests.leaderboard.merged_rows import PERSONAS, ROLES, numbers, only_row, responder


def test_ranges_cover_the_samples_in_near_equal_contiguous_parts() -> None:
    assert shard_ranges(10, 3) == [(1, 4), (5, 7), (8, 10)]
    assert shard_ranges(8, 2) == [(1, 4), (5, 8)]
    assert shard_ranges(1024, 1) == [(1, 1024)]
    assert shard_ranges(2, 5) == [(1, 1), (2, 2)]  # no empty shard
    for samples, count in [(7, 3), (100, 7), (5, 5)]:
        ranges = shard_ranges(samples, count)
        covered = [i for a, b in ranges for i in range(a, b + 1)]
        assert covered == list(range(1, samples + 1))
        sizes = [b - a + 1 for a, b in ranges]
        assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ShardsError):
        shard_ranges(0, 2)


@pytest.mark.parametrize(
    "given", [["--limit", "5"], ["--limit=1-3"], ["--sample-id", "sales-test-0001"]]
)
def test_arguments_that_choose_samples_are_refused(
    given: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["shards", "2", "--samples", "8", "--", "moloch_eval/sales", "--model", "m", *given]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "already choose samples" in err and "leave it out" in err


def test_sample_count_of_the_package_tasks_uses_their_task_arguments() -> None:
    raw = sample_count(["moloch_eval/sales", "--model", "m", "-T", "n_personas=2"])
    assert raw == len(sales(n_personas=2).dataset)
    clean = sample_count(["moloch_eval/sales", "-T", "clean_anchors=true", "--task-arg=seed=1"])
    assert clean == len(sales(clean_anchors=True).dataset) and clean < raw
    for args in (["my_task.py", "--model", "m"], ["moloch_eval/nothing"], []):
        with pytest.raises(ShardsError, match=r"--samples|after --"):
            plan_shards(2, args)
    assert len(plan_shards(2, ["my_task.py@t"], samples=6)) == 2  # --samples: any task


def test_dry_run_prints_each_shards_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["moloch_eval/sales", "--model", "vllm/m", "-T", "n_personas=2"]
    store = ["--log-dir", "s3://bucket/run"]
    code = main(["shards", "3", "--jobs", "2", "--samples", "10", "--dry-run", "--", *args, *store])
    assert code == 0
    out = capsys.readouterr().out
    assert "3 shard(s) over samples 1-10, 2 at a time, into s3://bucket/run" in out
    base = "inspect eval moloch_eval/sales --model vllm/m -T n_personas=2 --log-dir s3://bucket/run"
    for k, limit in enumerate(["1-4", "5-7", "8-10"], 1):
        assert f"shard {k}/3: {base} --display plain --limit {limit}" in out
    # options may also come before N; a display given is kept
    assert (
        main(["shards", "--dry-run", "--samples", "4", "2", "--", *args, "--display", "none"]) == 0
    )
    out = capsys.readouterr().out
    assert "--display none --limit 3-4" in out and "plain" not in out


def test_output_is_prefixed_and_a_failed_shard_fails_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shards' processes replaced by a script: shard 2 fails, shard 1 succeeds."""
    script = (
        "import sys; limit = sys.argv[sys.argv.index('--limit') + 1]; "
        "print('working on', limit, flush=True); sys.exit(3 if limit == '3-4' else 0)"
    )
    monkeypatch.setattr(shards_module, "INSPECT", (sys.executable, "-c", script))
    code = main(["shards", "2", "--samples", "4", "--", "task.py", "--display", "none"])
    assert code == 1
    out = capsys.readouterr().out
    assert "[shard 1/2] working on 1-2" in out and "[shard 2/2] working on 3-4" in out
    assert "[shard 1/2] finished" in out and "[shard 2/2] failed (exit 3)" in out
    summary = out.split("re-run just these:", 1)[1]
    assert "shard 2/2: inspect eval task.py --display none --limit 3-4" in summary
    assert "shard 1/2" not in summary

    monkeypatch.setattr(shards_module, "INSPECT", (sys.executable, "-c", "pass"))
    assert main(["shards", "2", "--jobs", "1", "--samples", "4", "--", "task.py"]) == 0
    assert "all 2 shard(s) finished" in capsys.readouterr().out


def test_two_shards_end_to_end_give_the_whole_runs_row(tmp_path: Path) -> None:
    with FakeOpenAIServer(responder()) as fake:
        [whole] = eval(
            sales(n_personas=PERSONAS),
            model=fake.get_model("agent"),
            model_roles={role: fake.get_model(name) for role, name in ROLES.items()},
            limit=8,
            log_dir=str(tmp_path / "whole"),
            display="none",
        )
        assert whole.status == "success"
        command = [sys.executable, "-m", "moloch_eval.cli", "shards", "2", "--samples", "8"]
        command += ["--", "moloch_eval/sales", "--model", fake.model("agent")]
        for role, name in ROLES.items():
            command += ["--model-role", f"{role}={fake.model(name)}"]
        command += ["-T", f"n_personas={PERSONAS}", "--log-dir", str(tmp_path / "shards")]
        run = subprocess.run(
            command, env={**os.environ, **fake.env()}, capture_output=True, text=True, timeout=300
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[shard 1/2]" in run.stdout and "[shard 2/2]" in run.stdout
    assert "--limit 1-4" in run.stdout and "--limit 5-8" in run.stdout
    logs = [read_eval_log(i.name) for i in list_eval_logs(str(tmp_path / "shards"))]
    assert sorted(str(log.eval.config.limit) for log in logs) == ["(0, 4)", "(4, 8)"]
    assert all(log.status == "success" for log in logs)
    row = only_row(collect(tmp_path / "shards"))
    assert row.n_logs == 2 and row.n_samples == 8
    assert numbers(row) == numbers(only_row(collect(tmp_path / "whole")))
