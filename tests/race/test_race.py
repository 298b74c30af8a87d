"""The race end to end on the embedded tiny model: two rounds, an interruption, a resume that
skips every finished step, a corrupted output that is redone, and a table that equals the
leaderboard's statistics of the same logs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("trl")

from moloch_eval.demo import DemoConfig, race_demo_config, run_race_demo
from moloch_eval.leaderboard.collect import collect
from moloch_eval.leaderboard.table import to_frame
from moloch_eval.race.config import RaceConfig, RaceError
from moloch_eval.race.loop import Race
from moloch_eval.race.report import CSV, FIGURE, HTML, MARKDOWN
from moloch_eval.training import sft

STATS = (
    "share",
    "share_ci_low",
    "share_ci_high",
    "misrepresentation_rate",
    "misrepresentation_opponent_rate",
    "misrepresentation_relative_increase",
    "misrepresentation_relative_increase_ci_low",
    "misrepresentation_relative_increase_ci_high",
    "misalignment_increase",
    "misalignment_increase_ci_low",
    "misalignment_increase_ci_high",
)


def tiny_demo(tmp: Path) -> DemoConfig:
    return DemoConfig(
        train_anchors=3,
        test_anchors=2,
        personas=2,
        agent_max_tokens=48,
        max_steps=2,
        batch_size=2,
        log_dir=str(tmp / "logs"),
        models_dir=str(tmp / "models"),
        rounds=2,
    )


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12))


def leaderboard_row(logs: Path, base: str, model: str) -> pd.Series:
    frame = to_frame(collect(logs, bases=[base]))
    [row] = [r for _, r in frame.iterrows() if r["model"] == model]
    return row


def test_two_rounds_interrupted_resumed_and_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = tiny_demo(tmp_path)
    cfg: RaceConfig = race_demo_config(demo)
    real_eval = Race._inspect_eval

    def interrupted(self: Race, *args: Any) -> Path:
        if args[-1].name == "vs-prev":  # the last step: round 2 against round 1
            raise KeyboardInterrupt
        return real_eval(self, *args)

    monkeypatch.setattr(Race, "_inspect_eval", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            Race(cfg, echo=lambda line: None).run()
    except RaceError as ex:
        # the tiny model has to write tagged messages for there to be anything to train on
        pytest.skip(f"the embedded tiny model wrote no trainable self-play pair: {ex}")
    state = json.loads((cfg.folder / "state.json").read_text())
    assert "round2:eval-prev" not in state["steps"] and "round2:eval-base" in state["steps"]
    before = state["steps"]

    # resume: only the interrupted step runs; no training, one evaluation
    evals: list[Path] = []
    trains: list[str] = []
    real_train = sft.train_adapter

    def counting_eval(self: Race, *args: Any) -> Path:
        evals.append(args[-1])
        return real_eval(self, *args)

    def counting_train(*args: Any, **kwargs: Any) -> Any:
        trains.append(args[2])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(Race, "_inspect_eval", counting_eval)
    monkeypatch.setattr(sft, "train_adapter", counting_train)
    race = Race(cfg, echo=lambda line: None)
    result = race.run()
    assert race.ran == ["round2:eval-prev"] and trains == [] and len(evals) == 1
    after = json.loads((cfg.folder / "state.json").read_text())["steps"]
    assert all(after[key] == value for key, value in before.items())

    # the per-round table and figure, in the leaderboard's formats
    for name in (MARKDOWN, CSV, FIGURE, HTML):
        assert (cfg.folder / name).stat().st_size > 0
    md = (cfg.folder / MARKDOWN).read_text()
    assert "share vs base" in md and "misrepresentation vs base" in md
    table = pd.read_csv(cfg.folder / CSV)
    assert list(table["round"]) == [1, 2]
    assert list(table["model"]) == [f"moloch/{cfg.adapter(1)}", f"moloch/{cfg.adapter(2)}"]

    # its numbers are the leaderboard's statistics of the same logs
    logs = cfg.folder / "logs"
    base_model, _ = cfg.model(0)
    for r, row in zip((1, 2), table.to_dict("records"), strict=True):
        board = leaderboard_row(logs, base_model, f"moloch/{cfg.adapter(r)}")
        for stat in STATS:
            if stat in board:
                assert same(row[f"vs_base_{stat}"], board[stat]), (r, stat)
    previous = leaderboard_row(logs, f"moloch/{cfg.adapter(1)}", f"moloch/{cfg.adapter(2)}")
    for stat in STATS:
        if stat in previous:
            assert same(table.iloc[1][f"vs_prev_{stat}"], previous[stat]), stat
    assert result.rounds[1].vs_prev != result.rounds[1].vs_base
    assert result.rounds[0].vs_prev == result.rounds[0].vs_base  # round 1's previous: the base

    # a corrupted log and a corrupted dataset are redone; the rebuilt dataset is the same,
    # so the adapter trained on it is kept
    steps = after
    with open(steps["round2:eval-prev"]["outputs"]["log"]["path"], "ab") as handle:
        handle.write(b"garbage")
    Path(steps["round2:data"]["outputs"]["data"]["path"]).write_text("{}\n")
    evals.clear()
    race = Race(cfg, echo=lambda line: None)
    race.run()
    assert race.ran == ["round2:data", "round2:eval-prev"] and trains == [] and len(evals) == 1
    redone = json.loads((cfg.folder / "state.json").read_text())["steps"]
    assert redone["round2:data"]["outputs"] == steps["round2:data"]["outputs"]
    assert redone["round2:eval-prev"]["outputs"] != steps["round2:eval-prev"]["outputs"]

    # `moloch-eval demo --rounds 2` on the same folder: every step is finished, it prints the table
    lines: list[str] = []
    run_race_demo(demo, echo=lines.append)
    text = "\n".join(lines)
    assert "MEANINGLESS" in text and text.count("skipped (finished, outputs verified)") == 10
    assert "| round | model" in text and f"moloch/{cfg.adapter(2)}" in text
