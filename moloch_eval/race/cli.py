"""`moloch-eval race`: the iterated competition from the command line (light at import)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moloch_eval.training.flags import add_pipeline_train_flags, train_overrides


def race_config(args: argparse.Namespace) -> Any:
    """The RaceConfig of a command line (a ValueError says what is wrong)."""
    from moloch_eval.key_values import parse_task_args
    from moloch_eval.race.config import RaceConfig, default_name
    from moloch_eval.roles import PAPER_JUDGE, PAPER_VOTER

    if not args.base:
        raise ValueError("give --base MODEL: the Hub id or local folder of the base model")
    try:
        task_args, model_args = parse_task_args(args.task_arg), parse_task_args(args.model_arg)
    except argparse.ArgumentTypeError as ex:
        raise ValueError(f"-T/-M: {ex}") from ex
    gate = tuple(args.gate or ())
    overrides = train_overrides(args)
    return RaceConfig(
        name=args.name or default_name(args.base, args.domain, args.method, gate),
        base=args.base,
        rounds=args.rounds,
        domain=args.domain,
        method=args.method,
        gate=gate,
        continue_training=args.continue_training,
        audience=args.audience or PAPER_VOTER,
        judge=args.judge or PAPER_JUDGE,
        task_args=task_args,
        train_limit=args.train_limit,
        test_limit=args.test_limit,
        backend=args.backend,
        model_args=model_args,
        preset=args.preset,
        train_overrides=overrides,
        log_dir=args.log_dir,
        models_dir=args.models_dir,
        seed=args.seed,
    )


def race_command(args: argparse.Namespace) -> int:
    from moloch_eval.race.config import RaceError
    from moloch_eval.race.loop import Race
    from moloch_eval.race.report import race_table
    from moloch_eval.training.adapters import AdapterError
    from moloch_eval.training.sft import TrainingDataError

    try:
        config = race_config(args)
        result = Race(config, restart=args.restart).run()
    except (RaceError, ValueError, AdapterError, TrainingDataError) as ex:
        print(f"moloch-eval race: error: {ex}", file=sys.stderr)
        return 2
    print(
        f"\nthe race {config.name}: {config.rounds} round(s), {config.domain}, "
        f"{config.method.upper()}" + (f" gated by {' '.join(config.gate)}" if config.gate else "")
    )
    print(race_table(result.report.rows))
    print("written:")
    for path in result.report.files:
        print(f"  {path}")
    print(f"state: {config.folder / 'state.json'} (run the same command again to resume)")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `race` command."""
    from moloch_eval.domains import DOMAINS
    from moloch_eval.training import recipe

    p = commands.add_parser(
        "race",
        help="the race: K rounds of self-play → training → evaluation, each round's winner "
        "the next round's opponent",
        description=(
            "Round r self-plays model r−1 (round 1: the base) on the train anchors, builds an "
            "RFT/TFB set from the audience's winners (--gate: without the messages these probes "
            "flag), trains adapter r (from the base, or --continue from adapter r−1) and "
            "evaluates it on the test anchors against the base's replayed messages and against "
            "round r−1's, with the probes. Writes a per-round table and figure (race.md, .csv, "
            ".png, .html). Interrupted races resume: run the same command again (finished steps "
            "are checked by SHA-256 and skipped); a larger --rounds extends a finished race."
        ),
    )
    p.add_argument("--base", help="base model: a Hub id or a local folder")
    p.add_argument("--rounds", type=int, required=True, help="rounds K (at least 1)")
    p.add_argument("--domain", default="sales", choices=list(DOMAINS))
    p.add_argument("--method", default="rft", choices=["rft", "tfb"], help="default rft")
    p.add_argument(
        "--gate",
        nargs="+",
        metavar="PROBE",
        help="alignment-gated training: self-play is judged by these probes and the winners "
        "they flag are dropped from the training set (build-dataset --gate)",
    )
    p.add_argument(
        "--continue",
        dest="continue_training",
        action="store_true",
        help="adapter r continues training adapter r−1 (default: every adapter starts from "
        "the base)",
    )
    p.add_argument("--name", help="race name (default: BASE-DOMAIN-METHOD[-gated-PROBES])")
    ev = p.add_argument_group("evaluation")
    ev.add_argument("--audience", help="the voters (default: the paper's gpt-4o-mini)")
    ev.add_argument("--judge", help="the probes' judge (default: the paper's gpt-4o)")
    ev.add_argument("-T", dest="task_arg", action="append", metavar="KEY=VALUE", help="task arg")
    ev.add_argument(
        "-M", dest="model_arg", action="append", metavar="KEY=VALUE", help="model arg (all)"
    )
    ev.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "hf", "vllm"],
        help="how the base and the adapters (moloch/NAME) run; auto: vLLM where it is installed "
        "or VLLM_BASE_URL is set, else transformers",
    )
    ev.add_argument("--train-limit", type=int, help="self-play anchors per round (default: all)")
    ev.add_argument("--test-limit", type=int, help="evaluation anchors (default: all)")
    tr = p.add_argument_group("training (moloch-eval train's recipe)")
    tr.add_argument("--preset", default=recipe.DEFAULT_PRESET, choices=list(recipe.PRESETS))
    add_pipeline_train_flags(tr)
    run = p.add_argument_group("run")
    run.add_argument(
        "--log-dir",
        default="logs/race",
        help="state, logs, data and report go to LOG_DIR/NAME (default logs/race)",
    )
    run.add_argument("--models-dir", help="where the adapters go (default models/)")
    run.add_argument("--seed", type=int, default=0, help="dataset shuffle seed")
    run.add_argument("--restart", action="store_true", help="start over, ignoring the state")
    p.set_defaults(handler=race_command)
