"""The sweep recipe: its plan, a real resumable eval_set run, and the leaderboard it feeds."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from inspect_ai.log import list_eval_logs, read_eval_log

from moloch_eval.leaderboard.cli import parse_task_args, register
from moloch_eval.leaderboard.collect import collect
from moloch_eval.leaderboard.sweep import SweepPlan, run_sweep
from moloch_eval.records import competition_of
from tests.leaderboard.model_api import CALLS

DOMAINS = ("sales", "elections", "social_media")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moloch-eval")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_plan_runs_the_base_first_then_every_model_against_its_logs() -> None:
    plan = SweepPlan(
        models=("vllm/qwen3-8b-rft", "vllm/qwen3-8b-tfb"),
        base="vllm/qwen3-8b",
        log_dir="logs/sweep",
        audience="openai/gpt-4o-mini",
        judge="openai/gpt-4o",
        limit=3,
        task_args={"n_personas": 5},
    )
    assert plan.roles == {"audience": "openai/gpt-4o-mini", "judge": "openai/gpt-4o"}
    base = plan.base_runs()
    assert [(r.domain, r.model) for r in base] == [(d, "vllm/qwen3-8b") for d in DOMAINS]
    assert all(r.task_args == {"n_personas": 5, "opponent": "self"} for r in base)
    assert all(r.model_roles == {} for r in base)
    logs = {d: f"/x/{d}.eval" for d in DOMAINS}
    tuned = plan.tuned_runs(logs)
    assert [(r.model, r.domain, r.task_args["opponent"]) for r in tuned] == [
        (m, d, f"/x/{d}.eval") for m in plan.models for d in DOMAINS
    ]
    assert all(r.task_args["n_personas"] == 5 for r in tuned)
    first, *per_domain = plan.commands()
    assert first.startswith(
        "inspect eval-set moloch_eval/sales moloch_eval/elections moloch_eval/social_media "
        "--model vllm/qwen3-8b --model-role audience=openai/gpt-4o-mini "
        "--model-role judge=openai/gpt-4o -T n_personas=5 -T opponent=self --limit 3 "
        "--log-dir logs/sweep"
    )
    assert len(per_domain) == 3
    assert "--model vllm/qwen3-8b-rft,vllm/qwen3-8b-tfb" in per_domain[0]

    role = SweepPlan(models=("m/a",), base="m/b", log_dir="d", base_opponent="role")
    assert role.base_runs()[0].model_roles == {"opponent": "m/b"}
    assert role.base_runs()[0].task_args == {"opponent": "role"}
    assert role.roles["audience"].startswith("openai/gpt-4o-mini")  # the paper's voter


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"models": ()}, "at least one model"),
        ({"models": ("m/b",)}, "also in --models"),
        ({"task_args": {"opponent": "self"}}, "sets ['opponent'] itself"),
        ({"domains": ("sports",)}, "domains must be among"),
        ({"limit": 0}, "at least 1"),
    ],
)
def test_plan_refuses_what_it_cannot_run(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"models": ("m/a",), "base": "m/b", "log_dir": "d", **kwargs}
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SweepPlan(**args)  # type: ignore[arg-type]


def test_task_args_parse_as_json_else_text() -> None:
    assert parse_task_args(["n_personas=5", "audience=split2", "faithful=false"]) == {
        "n_personas": 5,
        "audience": "split2",
        "faithful": False,
    }
    with pytest.raises(argparse.ArgumentTypeError):
        parse_task_args(["oops"])


def test_dry_run_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    parser = _parser()
    args = parser.parse_args(
        ["sweep", "--models", "a/x-rft", "--base", "a/x", "--log-dir", "d", "--dry-run"]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "stage 1" in out and "inspect eval-set" in out and "a/x-rft" in out
    args = parser.parse_args(["sweep", "--models", "a/x", "--base", "a/x", "--dry-run"])
    assert args.handler(args) == 2


def test_sweep_runs_resumes_and_feeds_the_leaderboard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tests.leaderboard.model_api  # noqa: F401  (registers the sweeptest provider)

    log_dir = tmp_path / "logs"
    argv = [
        "sweep",
        "--models",
        "sweeptest/tuned-rft",
        "sweeptest/tuned-tfb",
        "--base",
        "sweeptest/base",
        "--log-dir",
        str(log_dir),
        "--audience",
        "sweeptest/voter",
        "--judge",
        "sweeptest/judge",
        "--limit",
        "2",
        "-T",
        "n_personas=2",
        "--display",
        "none",
    ]
    args = _parser().parse_args(argv)
    assert args.handler(args) == 0
    assert "moloch-eval leaderboard" in capsys.readouterr().out

    infos = list_eval_logs(str(log_dir))
    headers = [read_eval_log(i.name, header_only=True) for i in infos]
    assert len(headers) == 9 and all(h.status == "success" for h in headers)
    base_logs = {
        h.eval.metadata["domain"]: h.location.removeprefix("file://")  # type: ignore[index]
        for h in headers
        if h.eval.model == "sweeptest/base"
    }
    assert set(base_logs) == set(DOMAINS)
    for header in headers:
        meta = header.eval.metadata or {}
        roles = header.eval.model_roles or {}
        assert {k: v.model for k, v in roles.items() if not isinstance(v, list)} == {
            "audience": "sweeptest/voter",
            "judge": "sweeptest/judge",
        }
        if header.eval.model == "sweeptest/base":
            assert meta["opponent"] == "self"
            continue
        assert Path(meta["opponent"]).resolve() == Path(base_logs[meta["domain"]]).resolve()
        log = read_eval_log(header.location)
        for sample in log.samples or []:
            record = competition_of(sample)
            assert record.opponent and record.opponent.source == "replayed"
            assert record.opponent.message == "BASE message"
    files = sorted(p.name for p in log_dir.glob("*.eval"))

    # resumable: a second run reuses everything and calls no model
    calls = sum(CALLS.values())
    plan = SweepPlan(
        models=("sweeptest/tuned-rft", "sweeptest/tuned-tfb"),
        base="sweeptest/base",
        log_dir=str(log_dir),
        audience="sweeptest/voter",
        judge="sweeptest/judge",
        limit=2,
        task_args={"n_personas": 2},
    )
    result = run_sweep(plan, display="none")
    assert result.ok and sum(CALLS.values()) == calls
    assert sorted(p.name for p in log_dir.glob("*.eval")) == files

    # a missing eval is run again, and only that one
    gone = next(
        h
        for h in headers
        if h.eval.model == "sweeptest/tuned-tfb" and h.eval.metadata["domain"] == "elections"  # type: ignore[index]
    )
    Path(gone.location.removeprefix("file://")).unlink()
    before = CALLS.copy()
    result = run_sweep(plan, display="none")
    assert result.ok and len(list(log_dir.glob("*.eval"))) == 9
    assert CALLS["base"] == before["base"] and CALLS["tuned-rft"] == before["tuned-rft"]
    assert CALLS["tuned-tfb"] == before["tuned-tfb"] + 2  # two anchors, one message each

    board = collect(log_dir)
    assert board.bases == ["sweeptest/base"] and not board.skipped
    assert len(board.rows) == 9 and all(r.comparable for r in board.rows)
    for row in board.rows:
        if row.is_base:
            continue
        assert row.share.mean == 1.0 and row.method in ("RFT", "TFB")
        for stats in row.probes.values():
            assert stats["rate"] == 1.0 and stats["opponent_rate"] == 0.0
            assert "relative_increase" not in stats  # undefined when the base rate is 0
