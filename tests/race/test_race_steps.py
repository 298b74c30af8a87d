"""The race's wiring and resume logic with fake steps (no model runs): which model plays,
against which replayed log, with which probes, and what a rerun redoes after a change."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from moloch_eval.cli import main
from moloch_eval.race import loop
from moloch_eval.race.config import RaceConfig, RaceError, default_name
from moloch_eval.race.loop import Race
from moloch_eval.training.adapters import ADAPTER_WEIGHTS, MANIFEST

ALL_STEPS = [
    "base:eval",
    "round1:selfplay",
    "round1:data",
    "round1:train",
    "round1:eval-base",
    "round2:selfplay",
    "round2:data",
    "round2:train",
    "round2:eval-base",
    "round2:eval-prev",
]


class Fakes:
    """Stand-ins for inspect eval, build-dataset and train that write files and remember."""

    def __init__(self) -> None:
        self.evals: list[SimpleNamespace] = []
        self.builds: list[SimpleNamespace] = []
        self.trains: list[SimpleNamespace] = []

    def inspect_eval(
        self,
        race: Race,
        model: str,
        model_args: dict[str, Any],
        roles: dict[str, str],
        task_args: dict[str, Any],
        limit: int | None,
        log_dir: Path,
    ) -> Path:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"{len(self.evals)}.eval"
        log.write_text(json.dumps([len(self.evals), model, task_args]))
        self.evals.append(SimpleNamespace(model=model, roles=roles, args=task_args, log=log))
        return log

    def build(self, logs: list[Path], out: Path, options: Any) -> Any:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"records from {logs[0]}\n")
        self.builds.append(SimpleNamespace(logs=logs, options=options))
        return SimpleNamespace(summary={"records": 3})

    def train(self, base: str | None, data: Path, name: str, options: Any, **kw: Any) -> Any:
        folder = Path(kw["root"]) / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).write_text(json.dumps({"name": name}))
        (folder / ADAPTER_WEIGHTS).write_text(f"{name} {len(self.trains)}")
        self.trains.append(SimpleNamespace(base=base, name=name, **kw))
        return SimpleNamespace(path=folder)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    f = Fakes()
    monkeypatch.setattr(Race, "_inspect_eval", lambda self, *args: f.inspect_eval(self, *args))
    monkeypatch.setattr("moloch_eval.training.build.build_dataset", f.build)
    monkeypatch.setattr("moloch_eval.training.build.describe", lambda summary: "built")
    monkeypatch.setattr("moloch_eval.training.sft.train_adapter", f.train)
    monkeypatch.setattr(loop, "write_race_report", lambda *a, **k: None)
    return f


def config(tmp: Path, **overrides: Any) -> RaceConfig:
    values: dict[str, Any] = {
        "name": "r",
        "base": "org/base-model",
        "rounds": 2,
        "gate": ("misrepresentation", "omission"),
        "continue_training": True,
        "audience": "hf/voter",
        "judge": "hf/judge",
        "task_args": {"n_personas": 2},
        "train_limit": 3,
        "test_limit": 2,
        "backend": "hf",
        "log_dir": str(tmp / "race"),
        "models_dir": str(tmp / "models"),
    }
    values.update(overrides)
    return RaceConfig(**values)


def test_round_wiring(tmp_path: Path, fakes: Fakes) -> None:
    race = Race(config(tmp_path), echo=lambda line: None)
    race.run()
    assert race.ran == ALL_STEPS
    base, sp1, ev1, sp2, ev2, prev2 = fakes.evals
    # the base writes its messages against itself, unjudged
    assert base.model == "hf/org/base-model" and base.args["opponent"] == "self"
    assert base.args["split"] == "test" and base.args["probes"] == "none"
    assert "judge" not in base.roles
    # self-play: model r−1 against itself on the train split, judged by the gate's probes
    assert sp1.model == "hf/org/base-model" and sp2.model == "moloch/r-round1"
    for sp in (sp1, sp2):
        assert sp.args["split"] == "train" and sp.args["opponent"] == "self"
        assert sp.args["probes"] == "misrepresentation,omission"
        assert sp.roles == {"audience": "hf/voter", "judge": "hf/judge"}
    # evaluations: against the base's log, and round 2 against round 1's messages
    assert ev1.model == "moloch/r-round1" and ev1.args["opponent"] == str(base.log)
    assert ev2.model == "moloch/r-round2" and ev2.args["opponent"] == str(base.log)
    assert prev2.model == "moloch/r-round2" and prev2.args["opponent"] == str(ev1.log)
    assert ev1.args["probes"] == "default,misrepresentation,omission"
    assert ev1.args["n_personas"] == 2 and ev1.args["split"] == "test"
    # the gate reaches build-dataset; --continue trains adapter 2 from adapter 1
    assert [b.logs for b in fakes.builds] == [[sp1.log], [sp2.log]]
    assert all(b.options.gate == ("misrepresentation", "omission") for b in fakes.builds)
    first, second = fakes.trains
    assert (first.base, first.from_adapter) == ("org/base-model", None)
    assert (second.base, second.from_adapter) == (None, "r-round1")


def test_resume_redoes_only_what_changed(tmp_path: Path, fakes: Fakes) -> None:
    cfg = config(tmp_path, continue_training=False)
    Race(cfg, echo=lambda line: None).run()
    state = json.loads((cfg.folder / "state.json").read_text())
    assert set(state["steps"]) == set(ALL_STEPS)

    again = Race(cfg, echo=lambda line: None)
    again.run()
    assert again.ran == []  # every output exists and matches its hash

    # a damaged adapter is retrained; what used it is redone, the base's log is not
    weights = tmp_path / "models" / "r-round1" / ADAPTER_WEIGHTS
    weights.write_text("damaged")
    redo = Race(cfg, echo=lambda line: None)
    redo.run()
    assert redo.ran == [
        "round1:train",
        "round1:eval-base",
        "round2:selfplay",
        "round2:data",
        "round2:train",
        "round2:eval-base",
        "round2:eval-prev",
    ]
    # a deleted base log: every evaluation against it is redone, no self-play or training
    (
        Path(
            json.loads((cfg.folder / "state.json").read_text())["steps"]["base:eval"]["outputs"][
                "log"
            ]["path"]
        )
    ).unlink()
    trains = len(fakes.trains)
    redo = Race(cfg, echo=lambda line: None)
    redo.run()
    assert redo.ran == ["base:eval", "round1:eval-base", "round2:eval-base", "round2:eval-prev"]
    assert len(fakes.trains) == trains


def test_more_rounds_extend_a_race_and_other_changes_are_refused(
    tmp_path: Path, fakes: Fakes
) -> None:
    Race(config(tmp_path, rounds=1), echo=lambda line: None).run()
    longer = Race(config(tmp_path, rounds=2), echo=lambda line: None)
    longer.run()
    assert longer.ran == ALL_STEPS[5:]
    with pytest.raises(RaceError, match=r"different configuration \(changed: seed\).*--restart"):
        Race(config(tmp_path, seed=1), echo=lambda line: None)
    restarted = Race(config(tmp_path, seed=1), echo=lambda line: None, restart=True)
    restarted.run()
    assert restarted.ran == ALL_STEPS


def test_bad_configurations_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--rounds must be at least 1"):
        config(tmp_path, rounds=0)
    with pytest.raises(ValueError, match="--method must be rft or tfb"):
        config(tmp_path, method="sft")
    with pytest.raises(ValueError, match=r"--gate nonsense: unknown probe; choose from"):
        config(tmp_path, gate=("nonsense",))
    with pytest.raises(ValueError, match="-T opponent: the race sets"):
        config(tmp_path, task_args={"opponent": "self"})
    with pytest.raises(ValueError, match="think audience"):
        config(tmp_path, method="tfb", task_args={"audience_mode": "logprob"})
    with pytest.raises(ValueError, match="--test-limit must be at least 1"):
        config(tmp_path, test_limit=0)
    assert default_name("Qwen/Qwen3-8B", "sales", "rft", ("omission",)) == (
        "Qwen3-8B-sales-rft-gated-omission"
    )


def test_command_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--log-dir", str(tmp_path / "race")]
    assert main(["race", "--base", "b", "--rounds", "0", *out]) == 2
    assert "--rounds must be at least 1" in capsys.readouterr().err
    assert main(["race", "--base", "b", "--rounds", "2", "--gate", "nope", *out]) == 2
    assert "--gate nope: unknown probe" in capsys.readouterr().err
    assert main(["race", "--rounds", "2", *out]) == 2
    assert "give --base MODEL" in capsys.readouterr().err
    assert main(["race", "--base", "b", "--rounds", "1", "-T", "split=train", *out]) == 2
    assert "-T split: the race sets" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["race", "--base", "b", "--rounds", "2", "--method", "sft", *out])
    assert exit_info.value.code == 2
    assert "invalid choice: 'sft'" in capsys.readouterr().err
    assert not (tmp_path / "race").exists()  # nothing written for a bad command line


def test_command_passes_its_arguments_through(
    tmp_path: Path,
    fakes: Fakes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from moloch_eval.race.report import RaceReport

    folder = tmp_path / "race" / "m-sales-tfb-gated-omission"
    report = RaceReport([], *(folder / n for n in ("a.md", "a.csv", "a.png", "a.html")))
    monkeypatch.setattr(loop, "write_race_report", lambda *a, **k: report)
    argv = ["race", "--base", "org/m", "--rounds", "2", "--method", "tfb", "--gate", "omission"]
    argv += ["--continue", "--audience", "hf/v", "--judge", "hf/j", "-T", "n_personas=3"]
    argv += ["-M", "device=cpu", "--backend", "hf", "--test-limit", "4", "--max-steps", "5"]
    argv += ["--log-dir", str(tmp_path / "race"), "--models-dir", str(tmp_path / "models")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "the race m-sales-tfb-gated-omission: 2 round(s), sales, TFB gated by omission" in out
    assert str(folder / "state.json") in out and str(folder / "a.png") in out
    ev = fakes.evals[-1]
    assert ev.model == "moloch/m-sales-tfb-gated-omission-round2"
    assert ev.roles == {"audience": "hf/v", "judge": "hf/j"} and ev.args["n_personas"] == 3
    assert ev.args["probes"] == "default,omission"
    assert fakes.builds[0].options.method == "tfb"
    assert fakes.trains[1].from_adapter == "m-sales-tfb-gated-omission-round1"
    assert fakes.trains[1].root == str(tmp_path / "models")
    state = json.loads((folder / "state.json").read_text())
    assert state["config"]["train_overrides"] == {"max_steps": 5}
    assert state["config"]["model_args"] == {"device": "cpu"} and state["config"]["test_limit"] == 4
