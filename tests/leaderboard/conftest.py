"""One folder of real (scripted, offline) logs shared by the leaderboard tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from inspect_ai import Task, eval, task_with
from inspect_ai.dataset import Sample
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log
from inspect_ai.model import ChatMessage, GenerateConfig, Model
from inspect_ai.scorer import match

from moloch_eval.tasks import elections, sales
from tests.leaderboard.scripted_logs import (
    BASE,
    N_ANCHORS,
    N_PERSONAS,
    TUNED,
    Script,
    competitor,
    judge,
    voter,
)
from tests.scripted import scripted

TASKS = {"sales": sales, "elections": elections}
BASE_MODEL = "mockllm/base"
OTHER_BASE = "mockllm/other-base"
MODELS = {"rft": "mockllm/qwen-rft", "tfb": "mockllm/qwen-tfb"}


@dataclass
class Logs:
    folder: Path
    base: dict[str, EvalLog]
    tuned: dict[tuple[str, str], EvalLog]
    other_base: EvalLog
    failed: EvalLog
    cancelled: Path
    started: Path
    train: Path
    garbage: Path
    foreign: EvalLog


def _task(domain: str, model: str, script: Script, audience: str = "voter", **args: object) -> Task:
    """A competition of scripted models on the first anchors (each task carries its models)."""
    roles: dict[str, Model] = {"audience": voter(audience), "judge": judge()}
    if args.get("opponent") == "role":
        roles["opponent"] = competitor(OTHER_BASE.split("/")[1], domain, BASE[domain])
    task = TASKS[domain](n_personas=N_PERSONAS, **args)
    return task_with(task, model=competitor(model.split("/")[1], domain, script), model_roles=roles)


def _eval(tasks: list[Task], folder: Path) -> list[EvalLog]:
    return eval(tasks, limit=N_ANCHORS, log_dir=str(folder), display="plain", max_tasks=8)


@pytest.fixture(autouse=True)
def no_adapters(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Methods come from model names here, never from adapters found in the working folder."""
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(tmp_path_factory.mktemp("no_adapters")))


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    folder = tmp_path_factory.mktemp("leaderboard_logs")
    base = dict(
        zip(
            BASE,
            _eval([_task(d, BASE_MODEL, BASE[d], opponent="self") for d in BASE], folder),
            strict=True,
        )
    )
    for log in base.values():
        assert log.status == "success", log.error

    def broken(messages: list[ChatMessage], config: GenerateConfig) -> str:
        raise RuntimeError("scripted crash")

    keys = list(TUNED)
    tasks = [
        _task(
            d,
            MODELS[m],
            TUNED[m, d],
            "voter2" if (m, d) == ("tfb", "sales") else "voter",
            opponent=base[d].location,
        )
        for m, d in keys
    ]
    tasks.append(_task("sales", MODELS["rft"], TUNED["rft", "sales"], opponent="role"))
    tasks.append(
        task_with(
            _task("sales", MODELS["rft"], BASE["sales"], opponent=base["sales"].location),
            model=scripted("broken-rft", broken),
        )
    )
    tasks.append(
        Task(
            dataset=[Sample(input="Say hi", target="hi")],
            scorer=match(),
            name="hello",
            model="mockllm/model",
        )
    )
    *runs, other, failed, foreign = _eval(tasks, folder)
    tuned = dict(zip(keys, runs, strict=True))
    for log in runs:
        assert log.status == "success", log.error
    assert other.status == "success" and failed.status == "error"

    # a cancelled run with 4 of its 6 samples, a run that never finished, a train-split run
    partial = read_eval_log(tuned["rft", "elections"].location)
    partial.status = "cancelled"
    partial.samples = (partial.samples or [])[:4]
    assert partial.results
    partial.results.completed_samples = 4
    cancelled = folder / "2020-01-01T00-00-00-00-00_elections_cancelled.eval"
    write_eval_log(partial, str(cancelled))
    partial.status = "started"
    started = folder / "2020-01-01T00-00-00-00-00_elections_started.eval"
    write_eval_log(partial, str(started))
    train = read_eval_log(tuned["tfb", "elections"].location)
    train.eval.metadata = {**(train.eval.metadata or {}), "split": "train"}
    train_log = folder / "2020-01-01T00-00-00-00-00_elections_train.eval"
    write_eval_log(train, str(train_log))

    garbage = folder / "2020-01-01T00-00-00-00-00_sales_garbage.eval"
    garbage.write_bytes(b"this is not a zip archive")

    return Logs(folder, base, tuned, other, failed, cancelled, started, train_log, garbage, foreign)
