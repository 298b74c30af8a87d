"""The race's steps, each an ordinary command whose outputs are files, resumable by hashes.

    base:eval        the base on the test anchors against itself (its messages are replayed)
    round<r>:selfplay   model r−1 against itself on the train anchors (gate probes judged)
    round<r>:data       build-dataset --method M [--gate ...] from that log
    round<r>:train      adapter r, from the base or continuing adapter r−1
    round<r>:eval-base  adapter r on the test anchors against the base's replayed messages
    round<r>:eval-prev  adapter r against adapter r−1's replayed messages (r ≥ 2; round 1's
                        previous model is the base, so it is eval-base)

The state (``<log dir>/<name>/state.json``, `moloch_eval.pipeline_state`) records each step's
inputs (the SHA-256 of what it was computed from) and the SHA-256 of its outputs; a rerun
skips a step only when both still hold, so a corrupted output, or an output of a redone
upstream step, is computed again.
"""

from __future__ import annotations

import contextvars
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moloch_eval.pipeline_state import PipelineState, StateError, StepRecord
from moloch_eval.race.config import RaceConfig, RaceError, inspect_command
from moloch_eval.race.report import RaceReport, RoundLogs, write_race_report

Echo = Callable[[str], None]
#: a step's work: its output files by name, and what to record beside them
StepOutputs = tuple[dict[str, Path], dict[str, Any]]


@dataclass
class RaceResult:
    """What the race computed: the base log, the logs of every round and the report."""

    base_log: Path
    rounds: list[RoundLogs]
    report: RaceReport
    #: the steps run in this session (the rest were finished already)
    ran: list[str] = field(default_factory=list)


class Race:
    """Runs the steps of one race, skipping those whose state says they are finished."""

    def __init__(self, config: RaceConfig, echo: Echo = print, restart: bool = False):
        self.config = config
        self.echo = echo
        try:
            self.state = PipelineState(config.folder / "state.json", config.identity(), restart)
        except StateError as ex:
            raise RaceError(str(ex)) from ex
        self.ran: list[str] = []
        self._weights: dict[int, str] = {}

    # -- machinery ------------------------------------------------------------------------

    def _step(
        self, key: str, what: str, inputs: dict[str, str], work: Callable[[], StepOutputs]
    ) -> StepRecord:
        record, why = self.state.check(key, inputs)
        if record is not None:
            self.echo(f"[{key}] {what}: skipped ({why})")
            return record
        self.echo(f"\n== [{key}] {what} ({why}) ==")
        outputs, info = work()
        self.ran.append(key)
        return self.state.record(key, inputs, outputs, **info)

    def _model_id(self, round_: int) -> str:
        """What a step depends on when it uses model `round_`: the adapter weights' hash."""
        return "base" if round_ == 0 else self._weights[round_]

    def _inspect_eval(
        self,
        model: str,
        model_args: dict[str, Any],
        roles: dict[str, str],
        task_args: dict[str, Any],
        limit: int | None,
        log_dir: Path,
    ) -> Path:
        """One `inspect eval` of the domain's task; the path of its (successful) log."""
        from inspect_ai import eval as inspect_eval

        task = f"moloch_eval/{self.config.domain}"
        self.echo(
            "by hand: " + inspect_command(task, model, model_args, roles, task_args, limit, log_dir)
        )
        # in a copy of the context: an eval leaves Inspect's model-role context behind
        [log] = contextvars.copy_context().run(
            lambda: inspect_eval(
                task,
                model=model,
                model_args=model_args,
                model_roles=roles,
                task_args=task_args,
                limit=limit,
                log_dir=str(log_dir),
            )
        )
        if log.status != "success" or not log.location:
            why = log.error.message.strip().splitlines()[0] if log.error else "no log"
            raise RaceError(
                f"{task} with {model} did not finish ({log.status}): {why} (log: "
                f"{log.location}). Fix the cause and run the same command again: finished "
                "steps are kept."
            )
        return Path(log.location.removeprefix("file://"))

    def _eval_step(
        self,
        key: str,
        what: str,
        round_: int,
        inputs: dict[str, str],
        task_args: dict[str, Any],
        judged: bool,
        limit: int | None,
        log_dir: Path,
    ) -> StepRecord:
        c = self.config
        model, model_args = c.model(round_)
        roles = {"audience": c.audience, **({"judge": c.judge} if judged else {})}

        def work() -> StepOutputs:
            log = self._inspect_eval(model, model_args, roles, task_args, limit, log_dir)
            self.echo(f"log: {log}")
            return {"log": log}, {"model": model}

        return self._step(key, what, inputs, work)

    # -- the steps --------------------------------------------------------------------------

    def base_eval(self) -> StepRecord:
        c = self.config
        return self._eval_step(
            "base:eval",
            f"the base on {c.test_limit or 'all'} test anchors (replayed against each adapter)",
            0,
            {"model": "base"},
            {**c.task_args, "split": "test", "opponent": "self", "probes": "none"},
            judged=False,
            limit=c.test_limit,
            log_dir=c.folder / "logs" / "base",
        )

    def selfplay(self, round_: int) -> StepRecord:
        c = self.config
        probes = ",".join(c.gate) or "none"
        return self._eval_step(
            f"round{round_}:selfplay",
            f"self-play of {'the base' if round_ == 1 else c.adapter(round_ - 1)} on "
            f"{c.train_limit or 'all'} train anchors" + (f", judged by {probes}" if c.gate else ""),
            round_ - 1,
            {"model": self._model_id(round_ - 1)},
            {**c.task_args, "split": "train", "opponent": "self", "probes": probes},
            judged=bool(c.gate),
            limit=c.train_limit,
            log_dir=c.folder / "logs" / f"round{round_}" / "selfplay",
        )

    def dataset(self, round_: int, selfplay: StepRecord) -> StepRecord:
        from moloch_eval.training.build import BuildOptions, build_dataset, describe
        from moloch_eval.training.selfplay import SelfPlayLogError

        c = self.config
        log, out = selfplay.path("log"), c.folder / "data" / f"round{round_}.jsonl"

        def work() -> StepOutputs:
            gate = ["--gate", *c.gate] if c.gate else []
            self.echo(
                "by hand: "
                + shlex.join(
                    [
                        "moloch-eval",
                        "build-dataset",
                        "--method",
                        c.method,
                        *gate,
                        "--seed",
                        str(c.seed),
                        str(log),
                        "-o",
                        str(out),
                    ]
                )
            )
            options = BuildOptions(method=c.method, gate=c.gate, seed=c.seed)  # type: ignore[arg-type]
            try:
                built = build_dataset([log], out, options)
            except SelfPlayLogError as ex:
                raise RaceError(
                    f"round {round_}: {ex}\nThe self-play log gave nothing to train on; collect "
                    "more self-play data (more train anchors, --train-limit, or voters)."
                ) from ex
            self.echo(describe(built.summary))
            return {"data": out}, {"records": built.summary["records"]}

        return self._step(
            f"round{round_}:data",
            f"{c.method.upper()} training set",
            {"selfplay": selfplay.hashes["log"]},
            work,
        )

    def train(self, round_: int, data: StepRecord) -> StepRecord:
        from moloch_eval.training.adapters import ADAPTER_WEIGHTS, MANIFEST
        from moloch_eval.training.sft import TrainOptions, train_adapter

        c = self.config
        name = c.adapter(round_)
        parent = c.adapter(round_ - 1) if c.continue_training and round_ > 1 else None
        inputs = {
            "data": data.hashes["data"],
            "parent": self._model_id(round_ - 1) if parent else "base",
        }

        def work() -> StepOutputs:
            options = TrainOptions.from_preset(c.preset, **c.train_overrides)
            start = ["--from-adapter", parent] if parent else ["--base", c.base]
            flags = [f"--{k.replace('_', '-')}={v}" for k, v in c.train_overrides.items()]
            where = f"MOLOCH_EVAL_MODELS_DIR={c.models_dir} " if c.models_dir else ""
            self.echo(
                f"by hand: {where}"
                + shlex.join(
                    [
                        "moloch-eval",
                        "train",
                        *start,
                        "--data",
                        str(data.path("data")),
                        "--name",
                        name,
                        "--preset",
                        c.preset,
                        *flags,
                        "--overwrite",
                    ]
                )
            )
            result = train_adapter(
                None if parent else c.base,
                data.path("data"),
                name,
                options,
                from_adapter=parent,
                method=c.method,
                domain=c.domain,
                root=c.models_dir,
                overwrite=True,
                echo=self.echo,
            )
            self.echo(f"adapter: {result.path}")
            return (
                {"manifest": result.path / MANIFEST, "weights": result.path / ADAPTER_WEIGHTS},
                {"adapter": name},
            )

        what = f"adapter {name}, " + (f"continuing {parent}" if parent else "from the base")
        record = self._step(f"round{round_}:train", what, inputs, work)
        self._weights[round_] = record.hashes["weights"]
        return record

    def evaluate(self, round_: int, against: str, opponent: StepRecord) -> StepRecord:
        """Adapter `round_` on the test anchors against the replayed messages of `opponent`'s
        log: the base's (against="base") or the previous adapter's (against="prev")."""
        c = self.config
        who = "the base" if against == "base" else c.adapter(round_ - 1)
        return self._eval_step(
            f"round{round_}:eval-{against}",
            f"{c.adapter(round_)} against {who}'s replayed messages, with the probes",
            round_,
            {"model": self._model_id(round_), "opponent": opponent.hashes["log"]},
            {
                **c.task_args,
                "split": "test",
                "opponent": str(opponent.path("log")),
                "probes": c.eval_probes(),
            },
            judged=True,
            limit=c.test_limit,
            log_dir=c.folder / "logs" / f"round{round_}" / f"vs-{against}",
        )

    # -- the whole race ---------------------------------------------------------------------

    def run(self) -> RaceResult:
        """Every round, then the per-round table and figure (md, csv, png, html)."""
        c = self.config
        base = self.base_eval()
        rounds: list[RoundLogs] = []
        previous = base
        for r in range(1, c.rounds + 1):
            data = self.dataset(r, self.selfplay(r))
            self.train(r, data)
            vs_base = self.evaluate(r, "base", base)
            vs_prev = vs_base if r == 1 else self.evaluate(r, "prev", previous)
            model, _ = c.model(r)
            rounds.append(RoundLogs(r, model, vs_base.path("log"), vs_prev.path("log")))
            previous = vs_base  # adapter r's own messages on the test anchors
        report = write_race_report(c, rounds, c.folder)
        return RaceResult(base.path("log"), rounds, report, list(self.ran))
