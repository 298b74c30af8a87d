"""`moloch-eval demo`: the paper's whole loop, offline, on the embedded tiny model.

1. self-play on a few TRAIN anchors (the tiny model against itself; the tiny model also votes,
   by log-probabilities),
2. an RFT training set from the log (the audience's majority winners),
3. a LoRA adapter trained for a few steps (TRL + PEFT on the CPU),
4. the base model on a few TEST anchors (its messages are kept for replay),
5. the adapter (``moloch/NAME``, transformers + PEFT) against the base's replayed messages,
   judged by the tiny model too (logprob judge): audience share and probe rates.

Each step is what a researcher runs by hand (the commands are printed). The tiny model's text is
meaningless: the numbers say nothing about any real model.

``--rounds N`` (N ≥ 2) runs the race instead (`moloch_eval.race`, ``moloch-eval race``) on the
tiny model with the same sizes, and prints its per-round table.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_NOTICE = (
    "moloch-eval demo: the paper's loop (self-play -> RFT data -> LoRA training -> evaluation\n"
    "against the base) on the {domain} competition, fully offline, with the embedded tiny model\n"
    "as agent, opponent, audience (logprob voting) and judge (logprob judging).\n"
    "The tiny model is built locally with random weights and taught only the answer format:\n"
    "its text is MEANINGLESS, and its shares and probe rates say nothing about any real model.\n"
    "The run shows that every component works on this machine. For real use see the README.\n"
)

Echo = Callable[[str], None]


class DemoError(RuntimeError):
    """A demo step that cannot go on; the message says why."""


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo run (small enough for a few minutes on a CPU)."""

    domain: str = "sales"
    train_anchors: int = 8
    test_anchors: int = 4
    personas: int = 5
    agent_max_tokens: int = 96
    max_steps: int = 6
    batch_size: int = 4
    learning_rate: float = 3e-3
    log_dir: str = "logs"
    models_dir: str | None = None
    name: str | None = None
    #: rounds of the race (`moloch_eval.race`); 1: the paper's single loop above
    rounds: int = 1

    @property
    def adapter_name(self) -> str:
        return self.name or f"tiny-{self.domain}-rft-demo"

    def train_settings(self) -> dict[str, Any]:
        """The LoRA hyperparameters the demo sets (the rest are the clean preset's), for the
        single loop's `TrainOptions` and the race's `train_overrides` alike."""
        return {
            "max_steps": self.max_steps,
            "batch_size": self.batch_size,
            "per_device_batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "gradient_checkpointing": False,
            "save_steps": max(1, self.max_steps // 2),
        }


def _task_args(config: DemoConfig, **extra: Any) -> dict[str, Any]:
    return {
        "audience_mode": "logprob",
        "judge_mode": "logprob",
        "n_personas": config.personas,
        "agent_max_tokens": config.agent_max_tokens,
        **extra,
    }


def _eval(
    task: str,
    model: str,
    roles: dict[str, str],
    model_args: dict[str, Any],
    task_args: dict[str, Any],
    limit: int,
    log_dir: str,
) -> Any:
    from inspect_ai import eval as inspect_eval

    [log] = inspect_eval(
        task,
        model=model,
        model_roles=roles,
        model_args=model_args,
        task_args=task_args,
        limit=limit,
        log_dir=log_dir,
    )
    if log.status != "success":
        raise DemoError(f"{task} did not finish ({log.status}): {log.error}")
    return log


def _metrics(log: Any) -> list[str]:
    lines = []
    for score in (log.results.scores if log.results else []) or []:
        if score.name != "audience_share" and "rate" not in score.metrics:
            lines.append(
                f"  {score.name:18s} no valid judgement: the judge put no probability on a "
                "one-token yes/no, so there is no rate"
            )
        for name, metric in score.metrics.items():
            if name.endswith(("_ci_low", "_ci_high")):
                continue
            low = score.metrics.get(f"{name}_ci_low")
            high = score.metrics.get(f"{name}_ci_high")
            ci = f"  [{low.value:.3f}, {high.value:.3f}]" if low and high else ""
            lines.append(f"  {score.name:18s} {name:30s} {metric.value:8.3f}{ci}")
    return lines


def run_demo(config: DemoConfig, echo: Echo = print) -> dict[str, Any]:
    """Run the five steps; returns the logs, the data file and the adapter's manifest."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import moloch_eval.providers  # noqa: F401  (the moloch/ provider; the entry point also has it)
    from moloch_eval.local import tiny_model_name, tiny_model_path
    from moloch_eval.training.build import BuildOptions, build_dataset, describe
    from moloch_eval.training.selfplay import SelfPlayLogError
    from moloch_eval.training.sft import TrainOptions, train_adapter

    domain, name = config.domain, config.adapter_name
    tiny = tiny_model_name()
    cpu = {"device": "cpu"}
    roles = {"audience": tiny, "judge": tiny}
    log_dir = config.log_dir
    where = {"models_dir": config.models_dir} if config.models_dir else {}
    env = f"MOLOCH_EVAL_MODELS_DIR={config.models_dir} " if config.models_dir else ""
    echo(DEMO_NOTICE.format(domain=domain))

    echo(f"== 1/5 self-play on {config.train_anchors} train anchors ({config.personas} voters) ==")
    selfplay = _eval(
        f"moloch_eval/{domain}",
        tiny,
        {"audience": tiny},
        cpu,
        _task_args(config, split="train", opponent="self", probes="none"),
        config.train_anchors,
        log_dir,
    )
    echo(f"\nlog: {selfplay.location}")
    echo(
        f"by hand: inspect eval moloch_eval/{domain} --model {tiny} --model-role audience={tiny} "
        f"-T split=train -T opponent=self -T audience_mode=logprob --limit {config.train_anchors}"
    )

    echo("\n== 2/5 RFT training set: the audience's majority winners ==")
    data_file = Path(log_dir) / f"{name}.jsonl"
    try:
        built = build_dataset([selfplay.location], data_file, BuildOptions(method="rft"))
    except SelfPlayLogError as ex:
        raise DemoError(
            f"{ex}\nThe tiny model wrote too few messages with their answer tag to train on; "
            "run the demo again with more anchors (--train-anchors)."
        ) from ex
    echo(describe(built.summary))
    echo(f"data: {data_file}")
    echo(f"by hand: moloch-eval build-dataset --method rft {selfplay.location} -o {data_file}")

    echo(f"\n== 3/5 LoRA training, {config.max_steps} steps on the CPU ==")
    base = str(tiny_model_path())
    options = TrainOptions(**config.train_settings())
    trained = train_adapter(
        base,
        data_file,
        name,
        options,
        domain=domain,
        method="rft",
        root=config.models_dir,
        overwrite=True,
        echo=echo,
    )
    curve = ", ".join(f"{step}: {loss:.3f}" for step, loss in trained.losses)
    echo(f"adapter: {trained.path}")
    echo(f"loss by step: {curve}")
    echo(
        f"by hand: {env}moloch-eval train --base {base} --data {data_file} --name {name} "
        f"--max-steps {config.max_steps} --batch-size {config.batch_size} "
        f"--per-device-batch-size {config.batch_size} --lr {config.learning_rate} "
        "--no-gradient-checkpointing --overwrite   (then: moloch-eval adapters)"
    )

    echo(f"\n== 4/5 the base model on {config.test_anchors} test anchors ==")
    base_log = _eval(
        f"moloch_eval/{domain}",
        tiny,
        {"audience": tiny},
        cpu,
        _task_args(config, opponent="self", probes="none"),
        config.test_anchors,
        log_dir,
    )
    echo(f"\nlog: {base_log.location}")

    echo("\n== 5/5 the adapter against the base's replayed messages ==")
    tuned = f"moloch/{name}"
    tuned_log = _eval(
        f"moloch_eval/{domain}",
        tuned,
        roles,
        {**cpu, "backend": "hf", **where},
        _task_args(config, opponent=base_log.location),
        config.test_anchors,
        log_dir,
    )
    echo(f"\nlog: {tuned_log.location}")
    echo(
        f"by hand: {env}inspect eval moloch_eval/{domain} --model {tuned} -M backend=hf "
        f"--model-role audience={tiny} --model-role judge={tiny} -T opponent={base_log.location} "
        f"-T audience_mode=logprob -T judge_mode=logprob --limit {config.test_anchors}"
    )
    echo("\nresults of the adapter (agent) against its base (opponent):")
    for line in _metrics(tuned_log):
        echo(line)
    echo(
        "\nREMINDER: the tiny model's text is meaningless; these numbers only show that the "
        "pipeline runs."
    )
    echo(f"open the logs with:  inspect view --log-dir {log_dir}")
    return {
        "selfplay": selfplay,
        "data": data_file,
        "summary": built.summary,
        "adapter": trained,
        "base": base_log,
        "tuned": tuned_log,
    }


RACE_NOTICE = (
    "moloch-eval demo --rounds {rounds}: the race (moloch-eval race) on the {domain} "
    "competition, fully offline\nwith the embedded tiny model: each round self-plays the "
    "previous round's model, trains an RFT\nadapter on the winners and evaluates it against "
    "the base and against the previous round.\nThe tiny model's text is MEANINGLESS: the "
    "table proves the loop runs, nothing about any model.\n"
)


def race_demo_config(config: DemoConfig) -> Any:
    """The RaceConfig of `demo --rounds N`: the tiny model everywhere, the demo's sizes."""
    from moloch_eval.local import tiny_model_name, tiny_model_path
    from moloch_eval.race.config import RaceConfig

    tiny = tiny_model_name()
    return RaceConfig(
        name=config.name or f"tiny-{config.domain}-rft-race",
        base=str(tiny_model_path()),
        rounds=config.rounds,
        domain=config.domain,
        method="rft",
        audience=tiny,
        judge=tiny,
        task_args=_task_args(config),
        train_limit=config.train_anchors,
        test_limit=config.test_anchors,
        backend="hf",
        model_args={"device": "cpu"},
        train_overrides=config.train_settings(),
        log_dir=str(Path(config.log_dir) / "race"),
        models_dir=config.models_dir,
    )


def run_race_demo(config: DemoConfig, echo: Echo = print, restart: bool = False) -> Any:
    """`demo --rounds N`: the race on the tiny model; prints the per-round table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import moloch_eval.providers  # noqa: F401  (the moloch/ provider)
    from moloch_eval.race.config import RaceError
    from moloch_eval.race.loop import Race
    from moloch_eval.race.report import race_table

    echo(RACE_NOTICE.format(rounds=config.rounds, domain=config.domain))
    race = race_demo_config(config)
    try:
        result = Race(race, echo=echo, restart=restart).run()
    except RaceError as ex:
        raise DemoError(f"{ex}\n(demo: more --train-anchors, or --restart)") from ex
    echo(f"\nthe race over {config.rounds} rounds (adapter r against the base and round r-1):")
    echo(race_table(result.report.rows))
    echo("written: " + ", ".join(str(p) for p in result.report.files))
    echo(
        "\nREMINDER: the tiny model's text is meaningless; these numbers only show that the "
        "race runs."
    )
    echo(f"open the logs with:  inspect view --log-dir {race.folder / 'logs'}")
    return result


def demo(config: DemoConfig, restart: bool = False) -> int:
    """The `demo` command: run the loop (or the race) and say where everything is."""
    try:
        if config.rounds > 1:
            run_race_demo(config, restart=restart)
        else:
            run_demo(config)
    except DemoError as ex:
        print(f"\ndemo stopped: {ex}")
        return 1
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = commands.add_parser(
        "demo", help="the whole loop offline on the tiny model (self-play, RFT, LoRA, eval)"
    )
    parser.add_argument("--domain", default="sales", choices=["sales", "elections", "social_media"])
    parser.add_argument("--train-anchors", type=int, default=8, help="self-play anchors")
    parser.add_argument("--test-anchors", type=int, default=4, help="evaluation anchors")
    parser.add_argument("--personas", type=int, default=5, help="voters per pair")
    parser.add_argument("--steps", type=int, default=6, help="LoRA training steps")
    parser.add_argument("--log-dir", default=os.environ.get("INSPECT_LOG_DIR", "logs"))
    parser.add_argument("--models-dir", help="where the adapter goes (default: models/)")
    parser.add_argument(
        "--rounds",
        type=_rounds,
        default=1,
        help="rounds of the race (moloch-eval race); 1 (default): the single loop",
    )
    parser.add_argument("--restart", action="store_true", help="--rounds N: start the race over")
    parser.set_defaults(
        handler=lambda args: demo(
            DemoConfig(
                domain=args.domain,
                train_anchors=args.train_anchors,
                test_anchors=args.test_anchors,
                personas=args.personas,
                max_steps=args.steps,
                log_dir=args.log_dir,
                models_dir=args.models_dir,
                rounds=args.rounds,
            ),
            restart=args.restart,
        )
    )


def _rounds(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"--rounds must be at least 1, not {value}")
    return value
