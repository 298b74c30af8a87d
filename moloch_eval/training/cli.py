"""Training commands of `moloch-eval`: build-dataset, train, adapters, serve.

Light at import time: every handler imports what it needs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from typing import Any

from moloch_eval.training import recipe


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def build_dataset_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.build import BuildOptions, build_dataset, describe
    from moloch_eval.training.selfplay import SelfPlayLogError

    options = BuildOptions(
        method=args.method,
        ties="previous" if args.keep_ties_faithful else "drop",
        tfb_mode="clean" if args.clean else "faithful",
        repeat=args.repeat,
        gate=tuple(args.gate or ()),
        seed=args.seed,
    )
    try:
        result = build_dataset(args.logs, args.output, options)
    except (SelfPlayLogError, ValueError) as ex:
        return _fail(str(ex))
    print(describe(result.summary))
    print(f"wrote {result.summary['file']} (summary: {result.summary['file']}.summary.json)")
    return 0


def train_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.adapters import AdapterError
    from moloch_eval.training.sft import TrainingDataError, TrainOptions, train_adapter

    try:
        options = TrainOptions(
            epochs=args.epochs,
            max_steps=args.max_steps,
            learning_rate=args.lr,
            min_lr_rate=args.min_lr_rate,
            warmup_ratio=args.warmup_ratio,
            batch_size=args.batch_size,
            per_device_batch_size=args.per_device_batch_size,
            rank=args.rank,
            alpha=args.alpha,
            dropout=args.dropout,
            target_modules=tuple(args.target_modules),
            max_length=args.max_length,
            drop_truncated=args.drop_truncated,
            precision=args.precision,
            gradient_checkpointing=args.gradient_checkpointing,
            seed=args.seed,
            save_steps=args.save_steps,
        )
        result = train_adapter(
            args.base,
            args.data,
            args.name,
            options,
            method=args.method,
            domain=args.domain,
            resume=args.resume,
            overwrite=args.overwrite,
            keep_checkpoints=args.keep_checkpoints,
            trust_remote_code=args.trust_remote_code,
        )
    except (AdapterError, TrainingDataError, ValueError) as ex:
        return _fail(str(ex))
    if result.manifest:
        training = result.manifest["training"]
        print(
            f"adapter {args.name}: {result.path}\n"
            f"steps {training['steps']}, final loss {training['final_loss']:.4f}, "
            f"mean loss {training['mean_loss']:.4f}, {training['runtime_s']:.0f} s; "
            f"truncated {training['truncation']['truncated']} of "
            f"{training['truncation']['records']} records"
        )
        print(
            f"evaluate it:  inspect eval moloch_eval/{result.manifest['domain']} "
            f"--model moloch/{args.name} (CPU/GPU via transformers), or moloch-eval serve"
        )
    return 0


def adapters_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.adapters import list_adapters, models_dir

    entries = list_adapters()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": e.name,
                        "path": str(e.path.resolve()),
                        "problem": e.problem,
                        "manifest": e.adapter.manifest if e.adapter else None,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return 0
    root = models_dir().resolve()
    if not entries:
        print(f"no adapters in {root} (train one with moloch-eval train)")
        return 0
    rows = [("NAME", "BASE", "METHOD", "DOMAIN", "LOSS", "CREATED")]
    problems = []
    for e in entries:
        a = e.adapter
        if a is None:
            problems.append(f"{e.name}: {e.problem}")
            continue
        loss = f"{a.final_loss:.3f}" if a.final_loss is not None else "-"
        rows.append((a.name, a.base_model, a.method, a.domain, loss, a.created))
        if e.problem:
            problems.append(f"{e.name}: {e.problem}")
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"adapters in {root}:")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for line in problems:
        print(f"! {line}")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.adapters import AdapterError
    from moloch_eval.training.serve import plan_serve

    try:
        plan = plan_serve(
            args.base,
            args.names,
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            extra=shlex.split(args.vllm_args),
        )
    except AdapterError as ex:
        return _fail(str(ex))
    print(f"serving {plan.base} with adapters: {', '.join(a.name for a in plan.adapters)}")
    print("command: " + shlex.join(plan.command))
    print("\nin the shell that runs Inspect:")
    for key, value in plan.env.items():
        print(f"  export {key}={shlex.quote(value)}")
    first = plan.adapters[0]
    print(
        f"  inspect eval moloch_eval/{first.domain or 'sales'} --model vllm/{first.name} "
        f"--model-role opponent=vllm/{plan.base} ..."
    )
    if args.dry_run:
        return 0
    if shutil.which("vllm") is None:
        return _fail(
            "the vllm command is not installed here; install it on a GPU machine with "
            "pip install 'moloch_eval[vllm]' (or run the command above where vLLM is)"
        )
    sys.stdout.flush()
    os.execvp(plan.command[0], plan.command)
    return 0  # pragma: no cover


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="base model: a Hub id or a local folder")
    parser.add_argument("--data", required=True, help="JSONL file from moloch-eval build-dataset")
    parser.add_argument("--name", required=True, help="adapter name (folder under models/)")
    parser.add_argument("--method", help="recorded in the manifest (default: from the data)")
    parser.add_argument("--domain", help="recorded in the manifest (default: from the data)")
    recipe_args = parser.add_argument_group("recipe (defaults: the paper's, SPEC §3)")
    recipe_args.add_argument("--epochs", type=float, default=recipe.EPOCHS)
    recipe_args.add_argument(
        "--max-steps", type=int, default=-1, help="stop after N steps (-1: off)"
    )
    recipe_args.add_argument(
        "--lr", type=float, default=recipe.LEARNING_RATE, help="peak learning rate"
    )
    recipe_args.add_argument(
        "--min-lr-rate", type=float, default=recipe.MIN_LR_RATE, help="cosine floor, x peak"
    )
    recipe_args.add_argument("--warmup-ratio", type=float, default=recipe.WARMUP_RATIO)
    recipe_args.add_argument(
        "--batch-size", type=int, default=recipe.BATCH_SIZE, help="effective batch size"
    )
    recipe_args.add_argument(
        "--per-device-batch-size",
        type=int,
        default=recipe.PER_DEVICE_BATCH_SIZE,
        help="micro-batch per device; gradient accumulation makes up the rest",
    )
    recipe_args.add_argument("--rank", type=int, default=recipe.RANK, help="LoRA rank r")
    recipe_args.add_argument("--alpha", type=int, default=recipe.ALPHA, help="LoRA alpha")
    recipe_args.add_argument("--dropout", type=float, default=recipe.DROPOUT, help="LoRA dropout")
    recipe_args.add_argument(
        "--target-modules", nargs="+", default=list(recipe.TARGET_MODULES), metavar="MODULE"
    )
    recipe_args.add_argument(
        "--max-length",
        type=int,
        default=recipe.MAX_LENGTH,
        help="tokens per record; longer records are truncated (counted and reported)",
    )
    recipe_args.add_argument(
        "--drop-truncated", action="store_true", help="leave out records over --max-length"
    )
    recipe_args.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    recipe_args.add_argument(
        "--gradient-checkpointing", action=argparse.BooleanOptionalAction, default=True
    )
    recipe_args.add_argument("--seed", type=int, default=0)
    run = parser.add_argument_group("run")
    run.add_argument(
        "--save-steps", type=int, default=recipe.SAVE_STEPS, help="checkpoint every N steps"
    )
    run.add_argument("--resume", action="store_true", help="continue an interrupted run")
    run.add_argument("--overwrite", action="store_true", help="replace an adapter of that name")
    run.add_argument("--keep-checkpoints", action="store_true")
    run.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run code shipped with the model (off by default)",
    )


def register(commands: Any) -> None:
    """Add the training commands."""
    build = commands.add_parser(
        "build-dataset",
        help="RFT/TFB training data from self-play logs",
        description="Keep the audience's majority winners of self-play logs (opponent=self, "
        "split=train) and write chat-format training records.",
    )
    build.add_argument("logs", nargs="+", metavar="LOG", help="self-play .eval logs or folders")
    build.add_argument("--method", choices=["rft", "tfb"], required=True)
    build.add_argument("-o", "--output", required=True, metavar="FILE.jsonl")
    build.add_argument(
        "--keep-ties-faithful",
        action="store_true",
        help="the paper's accidental behaviour: a tie repeats the previous winner "
        "(default: ties are dropped)",
    )
    build.add_argument(
        "--clean",
        action="store_true",
        help="TFB: show the voter's persona and map A/B to the prompt's order (default: "
        "the paper's prompt, no persona, letters unmapped)",
    )
    build.add_argument(
        "--repeat", type=int, default=recipe.REPEAT, help="copies of each winner (the paper's 3)"
    )
    build.add_argument(
        "--gate",
        nargs="+",
        metavar="PROBE",
        help="drop winners these probes flagged (alignment-gated RFT)",
    )
    build.add_argument("--seed", type=int, default=0, help="shuffle and sampling seed")
    build.set_defaults(handler=build_dataset_command)

    train = commands.add_parser(
        "train",
        help="LoRA fine-tuning (TRL + PEFT) into models/NAME",
        description="LoRA SFT with TRL's SFTTrainer, loss on completions only. Runs under "
        "accelerate launch -m moloch_eval.cli train ... unchanged.",
    )
    _train_arguments(train)
    train.set_defaults(handler=train_command)

    adapters = commands.add_parser("adapters", help="list the trained adapters")
    adapters.add_argument("--json", action="store_true", help="manifests as JSON")
    adapters.set_defaults(handler=adapters_command)

    serve = commands.add_parser(
        "serve",
        help="serve a base model and its adapters with vLLM",
        description="Run vllm serve BASE --enable-lora --lora-modules NAME=PATH ... and print "
        "the VLLM_BASE_URL and VLLM_API_KEY that Inspect's vllm/ provider needs.",
    )
    serve.add_argument("names", nargs="*", metavar="NAME", help="only these adapters")
    serve.add_argument("--base", help="base model (needed when adapters have several)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key", help="default: $VLLM_API_KEY or a random key")
    serve.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    serve.add_argument(
        "--vllm-args",
        default="",
        metavar="ARGS",
        help="more vllm serve arguments, one quoted string (e.g. '--max-model-len 8192')",
    )
    serve.set_defaults(handler=serve_command)
