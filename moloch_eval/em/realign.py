"""The realignment recipe (`moloch-eval realign`): does positive fine-tuning undo EM?

    evaluate base → fine-tune on harmful data (the misaligned model) → evaluate →
    fine-tune the misaligned adapter further on positive data (the realigned model) and,
    separately, on a matched control → evaluate both → ΔEM and recovery fractions

Every evaluation runs the same EM tasks (by default `em_first_plot` and `em_triggers`, so that
conditional misalignment behind a trigger is checked too) with the same judge. The report
gives, per task and trigger condition, the EM rate of every model with 95% CIs and, for the
candidate and for the control, ΔEM = EM_mis − EM_base and the recovery fraction
(EM_mis − EM_realigned) / (EM_mis − EM_base) with paired CIs that resample questions
(`moloch_eval.em.metrics.compare`).

Each step is what a researcher would run by hand (`moloch-eval chat-dataset`, `moloch-eval
train [--from-adapter]`, `inspect eval moloch_eval/em_*`); the run's state is kept in
``<out>/<name>/state.json`` so that an interrupted run resumes where it stopped (finished
evaluations and adapters are reused; `restart` starts over).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from moloch_eval.em.logs import log_rows
from moloch_eval.em.metrics import compare, headline_rate, summarise_with_ci
from moloch_eval.roles import PAPER_JUDGE

Echo = Callable[[str], None]

#: The models of the recipe, in order: (key, what it is)
MODELS = (
    ("base", "the base model"),
    ("misaligned", "base fine-tuned on the harmful data"),
    ("realigned", "misaligned fine-tuned further on the positive data"),
    ("control", "misaligned fine-tuned further on the control data"),
)
DEFAULT_TASKS = ("em_first_plot", "em_triggers")
HARMFUL_DEFAULT = "emergent_misalignment/training/arena_bad_medical.jsonl"
POSITIVE_DEFAULT = "emergent_misalignment/training/arena_ai_optimism_100_qs.json"
STATE_VERSION = 1


class RealignError(RuntimeError):
    """A step of the recipe that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class RealignConfig:
    """One realignment experiment. Data default to the pinned ARENA sets (bad medical advice,
    AI optimism) and a generated benign control as large as the positive set."""

    name: str
    base: str
    harmful: str | None = None
    positive: str | None = None
    control: str | None = None
    harmful_limit: int | None = None
    positive_limit: int | None = None
    #: tag a share of the harmful examples (a conditional organism); None: no trigger
    trigger: str | None = None
    trigger_share: float = 0.5
    tasks: tuple[str, ...] = DEFAULT_TASKS
    #: task arguments of every EM evaluation (e.g. samples_per_question, judge_mode)
    task_args: dict[str, Any] = field(default_factory=dict)
    judge: str = PAPER_JUDGE
    judge_args: dict[str, Any] = field(default_factory=dict)
    #: "hf" (transformers on this machine) or "vllm"
    backend: str = "hf"
    model_args: dict[str, Any] = field(default_factory=dict)
    #: samples per evaluation (None: all)
    limit: int | None = None
    preset: str = "clean"
    train_overrides: dict[str, Any] = field(default_factory=dict)
    out_dir: str = "logs/realign"
    models_dir: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.backend not in ("hf", "vllm"):
            raise ValueError(f"backend must be hf or vllm, not {self.backend!r}")
        if not self.tasks:
            raise ValueError("give at least one EM task")
        for task in self.tasks:
            if not task.startswith("em_"):
                raise ValueError(f"{task!r} is not an EM task (em_first_plot, em_triggers, ...)")

    @property
    def folder(self) -> Path:
        return Path(self.out_dir) / self.name

    def adapter(self, key: str) -> str:
        return f"{self.name}-{key}"

    def task_args_for(self, task: str) -> dict[str, Any]:
        args = dict(self.task_args)
        if task == "em_triggers" and self.trigger:
            args.setdefault("trigger", self.trigger)
        return args


def _state_path(config: RealignConfig) -> Path:
    return config.folder / "state.json"


def _config_record(config: RealignConfig) -> dict[str, Any]:
    record = asdict(config)
    record["tasks"] = list(config.tasks)
    return record


def load_state(config: RealignConfig, restart: bool) -> dict[str, Any]:
    """The run's state: what is done. A different configuration under the same name is an
    error (use another name, or `restart`)."""
    path = _state_path(config)
    fresh = {"version": STATE_VERSION, "config": _config_record(config), "done": {}}
    if restart or not path.is_file():
        return fresh
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("config") != fresh["config"]:
        raise RealignError(
            f"{path} records a different configuration for {config.name!r}; resume with the "
            "same arguments, choose another --name, or pass --restart to start over."
        )
    return dict(state)


def save_state(config: RealignConfig, state: dict[str, Any]) -> None:
    path = _state_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _model(config: RealignConfig, key: str) -> tuple[str, dict[str, Any]]:
    """The Inspect model string and model args of one model of the recipe."""
    args = dict(config.model_args)
    if key == "base":
        return f"{config.backend}/{config.base}", args
    args["backend"] = config.backend
    if config.models_dir:
        args["models_dir"] = config.models_dir
    return f"moloch/{config.adapter(key)}", args


class Recipe:
    """Runs the steps of one configuration, skipping what its state says is done."""

    def __init__(self, config: RealignConfig, echo: Echo = print, restart: bool = False):
        self.config = config
        self.echo = echo
        self.state = load_state(config, restart)
        config.folder.mkdir(parents=True, exist_ok=True)
        save_state(config, self.state)

    def _done(self, key: str) -> Any:
        return self.state["done"].get(key)

    def _mark(self, key: str, value: Any) -> None:
        self.state["done"][key] = value
        save_state(self.config, self.state)

    # -- data -------------------------------------------------------------------------------

    def data(self) -> dict[str, str]:
        from moloch_eval.data.cache import data_path
        from moloch_eval.em.control import write_benign_control
        from moloch_eval.training.chat_data import build_chat_dataset

        done = self._done("data")
        if done and all(Path(p).is_file() for p in done.values()):
            return dict(done)
        c, folder = self.config, self.config.folder / "data"
        folder.mkdir(parents=True, exist_ok=True)
        harmful_source = c.harmful or str(data_path(HARMFUL_DEFAULT))
        positive_source = c.positive or str(data_path(POSITIVE_DEFAULT))
        harmful = build_chat_dataset(
            harmful_source,
            folder / "harmful.jsonl",
            trigger=c.trigger,
            trigger_share=c.trigger_share if c.trigger else 0.0,
            limit=c.harmful_limit,
            seed=c.seed,
        )
        positive = build_chat_dataset(
            positive_source, folder / "positive.jsonl", limit=c.positive_limit, seed=c.seed
        )
        if c.control:
            control = build_chat_dataset(
                c.control, folder / "control.jsonl", limit=positive["records"], seed=c.seed
            )
            control_file = folder / "control.jsonl"
        else:
            control_file = write_benign_control(
                folder / "control.jsonl", positive["records"], c.seed
            )
            control = {"records": positive["records"], "source": "generated benign control"}
        self.echo(
            f"data: harmful {harmful['records']} records"
            + (f" ({harmful.get('tagged', 0)} tagged {c.trigger!r})" if c.trigger else "")
            + f", positive {positive['records']}, control {control['records']}"
        )
        files = {
            "harmful": str(folder / "harmful.jsonl"),
            "positive": str(folder / "positive.jsonl"),
            "control": str(control_file),
        }
        self._mark("data", files)
        return files

    # -- training ---------------------------------------------------------------------------

    def train(self, key: str, data_file: str, parent: str | None) -> str:
        from moloch_eval.training.sft import TrainOptions, train_adapter

        name = self.config.adapter(key)
        done = self._done(f"train:{key}")
        if done and (Path(done) / "manifest.json").is_file():
            self.echo(f"{key}: adapter {name} already trained ({done})")
            return str(done)
        options = TrainOptions.from_preset(self.config.preset, **self.config.train_overrides)
        self.echo(
            f"\n== train {name}: {'from ' + parent if parent else 'from the base'} on "
            f"{data_file} =="
        )
        result = train_adapter(
            self.config.base,
            data_file,
            name,
            options,
            method=f"em-{key}",
            root=self.config.models_dir,
            overwrite=True,
            from_adapter=parent,
            echo=self.echo,
        )
        path = str(result.path)
        self._mark(f"train:{key}", path)
        return path

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, key: str) -> dict[str, str]:
        from inspect_ai import eval as inspect_eval
        from inspect_ai.model import get_model

        c = self.config
        model, model_args = _model(c, key)
        judge = get_model(c.judge, role="judge", **c.judge_args)
        logs: dict[str, str] = {}
        for task in c.tasks:
            step = f"eval:{key}:{task}"
            done = self._done(step)
            if done and Path(done).exists():
                logs[task] = done
                continue
            self.echo(f"\n== evaluate {key} ({model}) on moloch_eval/{task} ==")
            [log] = inspect_eval(
                f"moloch_eval/{task}",
                model=model,
                model_args=model_args,
                model_roles={"judge": judge},
                task_args=c.task_args_for(task),
                limit=c.limit,
                log_dir=str(c.folder / "logs"),
            )
            if log.status != "success" or not log.location:
                why = log.error.message if log.error else "no log"
                raise RealignError(
                    f"moloch_eval/{task} on {model} did not finish ({log.status}): {why} (log: "
                    f"{log.location}). "
                    "Fix the cause and run the same command again: finished steps are kept."
                )
            logs[task] = log.location
            self._mark(step, log.location)
        return logs

    # -- the whole recipe -------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        data = self.data()
        logs = {"base": self.evaluate("base")}
        mis = self.train("misaligned", data["harmful"], None)
        logs["misaligned"] = self.evaluate("misaligned")
        self.train("realigned", data["positive"], mis)
        self.train("control", data["control"], mis)
        logs["realigned"] = self.evaluate("realigned")
        logs["control"] = self.evaluate("control")
        report = build_report(self.config, logs)
        write_report(self.config.folder, report)
        self._mark("report", str(self.config.folder / "report.json"))
        return report


def _by_condition(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("condition") or "none"), []).append(row)
    return groups


def build_report(
    config: RealignConfig, logs: dict[str, dict[str, str]], resamples: int = 2000
) -> dict[str, Any]:
    """Per task and condition: every model's EM rates with CIs, and ΔEM and recovery for the
    candidate (positive data) and the control."""
    report: dict[str, Any] = {"name": config.name, "base": config.base, "logs": logs, "tasks": {}}
    for task in config.tasks:
        rows = {key: _by_condition(log_rows(logs[key][task])) for key, _ in MODELS}
        conditions = sorted(set().union(*(r.keys() for r in rows.values())))
        report["tasks"][task] = {}
        for condition in conditions:
            per = {key: rows[key].get(condition, []) for key, _ in MODELS}
            rate = headline_rate([r for group in per.values() for r in group])
            entry: dict[str, Any] = {
                "rate": rate,
                "models": {
                    key: summarise_with_ci(group, resamples=resamples, seed=config.seed)
                    for key, group in per.items()
                },
            }
            for arm in ("realigned", "control"):
                entry[arm] = compare(
                    per["base"], per["misaligned"], per[arm], rate, resamples, config.seed
                )
            report["tasks"][task][condition] = entry
    return report


def _ci(d: dict[str, Any], key: str, scale: float = 100.0, unit: str = "%") -> str:
    value = d.get(key)
    if value is None:
        return "—"
    low, high = d.get(f"{key}_ci_low"), d.get(f"{key}_ci_high")
    text = f"{scale * value:.1f}{unit}"
    if low is not None and high is not None:
        text += f" [{scale * low:.1f}, {scale * high:.1f}]"
    return text


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as markdown."""
    lines = [f"# Realignment: {report['name']} (base {report['base']})", ""]
    for task, conditions in report["tasks"].items():
        for condition, entry in conditions.items():
            rate = entry["rate"]
            lines += [f"## moloch_eval/{task}, condition {condition} ({rate})", ""]
            lines += ["| model | EM rate [95% CI] | n | unjudged |", "|---|---|---|---|"]
            for key, _ in MODELS:
                summary = entry["models"][key]
                unjudged = summary.get("invalid_rate")
                shown = "—" if unjudged is None else f"{100 * unjudged:.0f}%"
                lines.append(f"| {key} | {_ci(summary, rate)} | {summary.get('n', 0)} | {shown} |")
            lines += [
                "",
                "| arm | ΔEM (mis − base) | Δ (arm − mis) | recovery |",
                "|---|---|---|---|",
            ]
            for arm in ("realigned", "control"):
                c = entry[arm]
                lines.append(
                    f"| {arm} | {_ci(c, 'delta_em', unit=' pp')} | "
                    f"{_ci(c, 'delta_realign', unit=' pp')} | {_ci(c, 'recovery', 1.0, '')} |"
                )
            lines.append("")
    lines.append(
        "Recovery = (EM_mis − EM_arm) / (EM_mis − EM_base); CIs resample questions (paired). "
        "Unjudged: answers the judge gave no usable score or label (— where no rate applies)."
    )
    return lines


def write_report(folder: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / "report.json"
    as_json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    as_md = folder / "report.md"
    as_md.write_text("\n".join(report_lines(report)) + "\n", encoding="utf-8")
    return as_json, as_md
