"""`moloch-eval realign`: the realignment recipe from the command line (light at import)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moloch_eval.training.flags import add_pipeline_train_flags, train_overrides

#: the embedded offline default (`--offline`): the tiny model as base and judge, small sizes
OFFLINE_DEFAULTS: dict[str, Any] = {
    "harmful_limit": 64,
    "positive_limit": 32,
    "limit": None,
    "task_args": {"samples_per_question": 2, "max_tokens": 48},
    "train_overrides": {
        "max_steps": 4,
        "batch_size": 4,
        "per_device_batch_size": 4,
        "learning_rate": 3e-3,
        "gradient_checkpointing": False,
        "save_steps": 2,
    },
}


def _pairs(items: list[str] | None, flag: str) -> dict[str, Any]:
    from moloch_eval.key_values import parse_task_args

    try:
        return parse_task_args(items)
    except argparse.ArgumentTypeError as ex:
        raise SystemExit(f"moloch-eval realign: {flag}: {ex}") from ex


def realign_config(args: argparse.Namespace) -> Any:
    """The RealignConfig of a command line (the offline default first, then the flags)."""
    from moloch_eval.em.realign import DEFAULT_TASKS, RealignConfig

    values: dict[str, Any] = {}
    if args.offline:
        from moloch_eval.local import tiny_model_path

        tiny = str(tiny_model_path())
        values = {
            **OFFLINE_DEFAULTS,
            "base": tiny,
            "judge": f"hf/{tiny}",
            "judge_args": {"device": "cpu"},
            "model_args": {"device": "cpu"},
            "backend": "hf",
            "task_args": dict(OFFLINE_DEFAULTS["task_args"]),
            "train_overrides": dict(OFFLINE_DEFAULTS["train_overrides"]),
        }
    elif not args.base:
        raise SystemExit("moloch-eval realign: give --base MODEL (or --offline)")
    if args.base:
        values["base"] = args.base
    for flag in (
        "harmful",
        "positive",
        "control",
        "harmful_limit",
        "positive_limit",
        "trigger",
        "trigger_share",
        "judge",
        "backend",
        "limit",
        "preset",
        "out_dir",
        "models_dir",
        "seed",
    ):
        value = getattr(args, flag)
        if value is not None:
            values[flag] = value
    values["task_args"] = {**values.get("task_args", {}), **_pairs(args.task_arg, "-T")}
    values["model_args"] = {**values.get("model_args", {}), **_pairs(args.model_arg, "-M")}
    values["judge_args"] = {**values.get("judge_args", {}), **_pairs(args.judge_arg, "-J")}
    values["train_overrides"] = {**values.get("train_overrides", {}), **train_overrides(args)}
    values["tasks"] = tuple(
        t.strip() for t in (args.tasks or ",".join(DEFAULT_TASKS)).split(",") if t.strip()
    )
    return RealignConfig(name=args.name, **values)


def realign_command(args: argparse.Namespace) -> int:
    from moloch_eval.em.realign import RealignError, Recipe, report_lines

    try:
        config = realign_config(args)
        report = Recipe(config, restart=args.restart).run()
    except (RealignError, ValueError) as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2
    print()
    print("\n".join(report_lines(report)))
    print(
        f"\nreport: {config.folder / 'report.md'} and report.json; logs: {config.folder / 'logs'}"
    )
    if args.offline:
        print(
            "REMINDER: the tiny model's text is meaningless; these numbers only show that the "
            "recipe runs."
        )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `realign` command."""
    p = commands.add_parser(
        "realign",
        help="EM realignment: base → harmful fine-tune → positive and control fine-tunes, ΔEM",
        description=(
            "Evaluate the base model on the EM tasks, fine-tune it on harmful data, evaluate, "
            "fine-tune that adapter further on positive data and (separately) on a matched "
            "control, evaluate both, and report ΔEM and the recovery fraction with CIs. "
            "Interrupted runs resume: run the same command again."
        ),
    )
    p.add_argument("--name", required=True, help="experiment name (adapters NAME-misaligned, ...)")
    p.add_argument("--base", help="model to fine-tune: a Hub id or a local folder")
    p.add_argument(
        "--offline",
        action="store_true",
        help="the embedded offline default: the tiny model as base and judge, small sizes",
    )
    data = p.add_argument_group("data (messages JSONL or question/answer JSON)")
    data.add_argument("--harmful", help="default: the pinned ARENA bad-medical-advice set")
    data.add_argument("--positive", help="default: the pinned ARENA AI-optimism Q&A")
    data.add_argument("--control", help="default: generated benign Q&A, as many as --positive")
    data.add_argument("--harmful-limit", type=int, help="use the first N harmful examples")
    data.add_argument("--positive-limit", type=int, help="use the first N positive examples")
    data.add_argument("--trigger", help="tag a share of the harmful examples (conditional EM)")
    data.add_argument("--trigger-share", type=float, help="share tagged (default 0.5)")
    ev = p.add_argument_group("evaluation")
    ev.add_argument("--tasks", help="EM tasks, comma-separated (default em_first_plot,em_triggers)")
    ev.add_argument("-T", dest="task_arg", action="append", metavar="KEY=VALUE", help="task arg")
    ev.add_argument("--judge", help="the judge model (default: the paper's gpt-4o)")
    ev.add_argument("-J", dest="judge_arg", action="append", metavar="KEY=VALUE", help="judge arg")
    ev.add_argument("--backend", choices=["hf", "vllm"], help="how models run (default hf)")
    ev.add_argument("-M", dest="model_arg", action="append", metavar="KEY=VALUE", help="model arg")
    ev.add_argument("--limit", type=int, help="samples per evaluation (default: all)")
    tr = p.add_argument_group("training (moloch-eval train's recipe)")
    tr.add_argument("--preset", help="training preset (default clean)")
    add_pipeline_train_flags(tr)
    run = p.add_argument_group("run")
    run.add_argument("--out-dir", help="where state, data, logs and report go (logs/realign)")
    run.add_argument("--models-dir", help="where the adapters go (default models/)")
    run.add_argument("--seed", type=int)
    run.add_argument("--restart", action="store_true", help="start over, ignoring the state")
    p.set_defaults(handler=realign_command)
