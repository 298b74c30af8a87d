"""`moloch-eval demo`: the whole offline loop on the embedded tiny model."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

pytest.importorskip("trl")

from moloch_eval.demo import DemoConfig, DemoError, register, run_demo
from moloch_eval.records import competition_of
from moloch_eval.training.adapters import resolve_adapter


def test_demo_command_defaults() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["demo"])
    assert (args.domain, args.train_anchors, args.test_anchors) == ("sales", 8, 4)
    assert args.personas == 5 and args.steps == 6 and callable(args.handler)
    assert args.rounds == 1 and not args.restart  # 1: the single loop, as before
    assert parser.parse_args(["demo", "--rounds", "2"]).rounds == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "--rounds", "0"])


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    config = DemoConfig(
        train_anchors=3,
        test_anchors=2,
        personas=2,
        agent_max_tokens=48,
        max_steps=2,
        batch_size=2,
        log_dir=str(tmp_path / "logs"),
        models_dir=str(tmp_path / "models"),
    )
    lines: list[str] = []
    try:
        result = run_demo(config, echo=lines.append)
    except DemoError as ex:
        # the tiny model has to write a tagged message for there to be anything to train on
        assert "answer tag" in str(ex) and "--train-anchors" in str(ex)
        pytest.skip(f"the embedded tiny model wrote no trainable self-play pair: {ex}")
    text = "\n".join(lines)
    assert "MEANINGLESS" in text and "REMINDER: the tiny model's text is meaningless" in text
    assert "== 5/5" in text and "share" in text
    assert result["summary"]["records"] >= 3
    adapter = resolve_adapter(config.adapter_name, tmp_path / "models")
    assert adapter.manifest["training"]["steps"] == 2
    tuned = result["tuned"]
    assert tuned.status == "success" and tuned.eval.model == f"moloch/{config.adapter_name}"
    for sample in tuned.samples:
        record = competition_of(sample)
        assert record.opponent is not None and record.opponent.source == "replayed"
