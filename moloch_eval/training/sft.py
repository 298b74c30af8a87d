"""LoRA supervised fine-tuning with TRL's SFTTrainer and PEFT (SPEC §3's recipe by default).

The data are the conversational prompt-completion records of `moloch_eval.training.build`
(or chat records ``{"messages": [...]}``, whose last assistant message becomes the
completion). TRL computes the loss on the completion tokens only.

The hyperparameters start from a named preset of `moloch_eval.training.recipe` (``clean``, the
default, or ``paper``: what the paper's train.py ran) and explicit values override it; the
manifest records the preset and the overrides. Sequences longer than `max_length` (4096 in
``clean``, TRL's default 1024 in ``paper``) are kept and lose their end, where the tagged
message is, as TRL truncates them; every such record is counted and the truncation rate is
reported (and stored in the manifest) under either preset. `drop_truncated` leaves them out
instead.

The run writes checkpoints to ``<models dir>/NAME/checkpoints/``; `resume=True` continues an
interrupted run from the last complete one (a checkpoint cut off while being written, by a kill
at that moment, is removed; see `last_checkpoint`). At the end the adapter and
``manifest.json`` are written to ``<models dir>/NAME/`` and the checkpoints are removed (unless
`keep_checkpoints`). It runs unchanged under ``accelerate launch`` (one process per device;
only the main process writes the adapter and the manifest): the per-device batch and the number
of processes set the gradient accumulation so that the effective batch stays `batch_size`.
(Data-parallel processes need GPUs: on a CPU, transformers runs each launched process alone, so
train with one process there.)

`train_adapter(..., from_adapter=NAME)` trains an existing adapter further into a new one
(same root base, so it is served like the others); `merge_adapter` merges one into its base as
a model folder to train from. Every manifest's ``lineage`` lists the steps from the root model
to the adapter (`lineage_step`).

Heavy libraries (torch, transformers, peft, trl) are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from moloch_eval.training import recipe
from moloch_eval.training.adapters import (
    ADAPTER_WEIGHTS,
    CHECKPOINTS,
    MANIFEST,
    MANIFEST_FORMAT,
    Adapter,
    AdapterError,
    check_name,
    models_dir,
    resolve_adapter,
    sha256_file,
    verify_adapter,
    write_manifest,
)
from moloch_eval.training.build import summary_path
from moloch_eval.training.progress import progress

DEFAULT_TARGET_MODULES = recipe.TARGET_MODULES
DEFAULT_MAX_LENGTH = recipe.MAX_LENGTH


class TrainingDataError(ValueError):
    """A data file that cannot be trained on; the message says what to do."""


@dataclass(frozen=True)
class TrainOptions:
    """Hyperparameters of one LoRA run; the defaults are the ``clean`` preset (SPEC §3).

    `TrainOptions.from_preset` starts from a named preset instead; `preset` names the one the
    values started from (recorded in the manifest with the values that differ from it).
    """

    epochs: float = recipe.EPOCHS
    max_steps: int = -1
    learning_rate: float = recipe.LEARNING_RATE
    lr_scheduler: str = "cosine_with_min_lr"
    min_lr_rate: float = recipe.MIN_LR_RATE
    warmup_ratio: float = recipe.WARMUP_RATIO
    #: effective batch = per_device_batch_size x processes x gradient accumulation
    batch_size: int = recipe.BATCH_SIZE
    per_device_batch_size: int = recipe.PER_DEVICE_BATCH_SIZE
    rank: int = recipe.RANK
    alpha: int = recipe.ALPHA
    dropout: float = recipe.DROPOUT
    target_modules: tuple[str, ...] = DEFAULT_TARGET_MODULES
    max_length: int = DEFAULT_MAX_LENGTH
    drop_truncated: bool = False
    #: "auto": bf16 where the device supports it, else fp32
    precision: str = "auto"
    gradient_checkpointing: bool = True
    seed: int = recipe.SEED
    #: passed to from_pretrained; None: the implementation transformers picks (sdpa)
    attn_implementation: str | None = None
    preset: str = recipe.DEFAULT_PRESET
    save_steps: int = recipe.SAVE_STEPS
    save_total_limit: int = 2
    logging_steps: int = 1
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be auto, bf16 or fp32, not {self.precision!r}")
        if self.batch_size < 1 or self.per_device_batch_size < 1:
            raise ValueError("batch sizes must be at least 1")
        if self.max_length < 8:
            raise ValueError("max_length is too small")
        if self.preset not in recipe.PRESETS:
            raise ValueError(f"preset must be one of {recipe.PRESETS}, not {self.preset!r}")

    @classmethod
    def from_preset(cls, preset: str = recipe.DEFAULT_PRESET, **overrides: Any) -> TrainOptions:
        """The preset's values, with every override that is not None in their place."""
        names = {f.name for f in dataclasses.fields(cls)} - {"preset"}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown training options: {unknown}")
        values = recipe.preset_values(preset)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "target_modules" in values:
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values, preset=preset)

    def overrides(self) -> dict[str, Any]:
        """The values that differ from those of `preset`."""
        values = recipe.preset_values(self.preset)
        own = asdict(self)
        return {
            name: list(own[name]) if isinstance(own[name], tuple) else own[name]
            for name, value in values.items()
            if own[name] != value
        }


@dataclass
class TrainResult:
    """Where the adapter went and what the run measured."""

    path: Path
    manifest: dict[str, Any]
    losses: list[tuple[int, float]] = field(default_factory=list)


@dataclass(frozen=True)
class TrainingData:
    """Validated records and what they say about themselves."""

    path: Path
    records: list[dict[str, Any]]
    method: str | None
    domain: str | None
    sha256: str
    summary: dict[str, Any] | None


_RECORD_FORMATS = (
    "Records must be {'prompt': [messages], 'completion': [assistant message]}, "
    "{'messages': [...]} or {'question': ..., 'answer': ...} (build them with moloch-eval "
    "build-dataset or moloch-eval chat-dataset)."
)


def _as_prompt_completion(record: dict[str, Any], line: int, path: Path) -> dict[str, Any]:
    def bad(why: str) -> TrainingDataError:
        return TrainingDataError(f"{path}:{line}: {why}. {_RECORD_FORMATS}")

    prompt, completion = record.get("prompt"), record.get("completion")
    if not isinstance(prompt, list) or not prompt:
        raise bad("no 'prompt' messages")
    if not isinstance(completion, list) or len(completion) != 1:
        raise bad("'completion' must be a list with one assistant message")
    for message in (*prompt, *completion):
        if not (isinstance(message, dict) and "role" in message and "content" in message):
            raise bad("every message needs a 'role' and a 'content'")
        if not isinstance(message["content"], str):
            raise bad("every message's 'content' must be a string")
    if completion[0]["role"] != "assistant" or not completion[0]["content"].strip():
        raise bad("the completion must be a non-empty assistant message")
    return {
        "prompt": [{"role": str(m["role"]), "content": m["content"]} for m in prompt],
        "completion": [{"role": "assistant", "content": completion[0]["content"]}],
    }


def _chat_record(messages: list[dict[str, str]]) -> dict[str, Any]:
    """A validated conversation as a prompt-completion record (the last message completes)."""
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def load_training_data(path: str | Path) -> TrainingData:
    """Read and validate a training file: JSONL of prompt-completion records (build-dataset),
    of ``{"messages": [...]}`` or of ``{"question", "answer"}`` records, or one JSON list of
    messages or question/answer records (e.g. the ARENA AI-optimism set).

    A bad record is a TrainingDataError naming its file and line (or list item).
    """
    from moloch_eval.training.chat_data import ChatDataError, as_messages, is_json_list

    file = Path(path)
    if not file.is_file():
        raise TrainingDataError(
            f"{file} does not exist; build it with moloch-eval build-dataset --method rft LOG... "
            f"-o {file} (or moloch-eval chat-dataset SOURCE -o {file})"
        )
    records: list[dict[str, Any]] = []
    methods: set[str] = set()
    domains: set[str] = set()
    if is_json_list(file):  # one JSON list: question/answer pairs or messages records
        from moloch_eval.training.chat_data import read_chat_records

        try:
            chats = read_chat_records(file)
        except ChatDataError as ex:
            raise TrainingDataError(str(ex)) from ex
        return TrainingData(
            path=file.resolve(),
            records=[_chat_record(m) for m in chats],
            method=None,
            domain=None,
            sha256=sha256_file(file),
            summary=None,
        )
    with open(file, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as ex:
                raise TrainingDataError(
                    f"{file}:{number}: not JSON ({ex}). One record per line. {_RECORD_FORMATS}"
                ) from ex
            if isinstance(raw, dict) and ("prompt" in raw or "completion" in raw):
                records.append(_as_prompt_completion(raw, number, file))
            else:
                try:
                    records.append(_chat_record(as_messages(raw, f"{file}:{number}")))
                except ChatDataError as ex:
                    raise TrainingDataError(str(ex)) from ex
            meta = raw.get("meta") or {}
            if not isinstance(meta, dict):
                meta = {}
            if meta.get("method"):
                methods.add(str(meta["method"]))
            if meta.get("domain"):
                domains.add(str(meta["domain"]))
    if not records:
        raise TrainingDataError(
            f"{file} holds no records; nothing to train on. Build a training set with "
            f"moloch-eval build-dataset --method rft LOG... -o {file} (or moloch-eval "
            f"chat-dataset SOURCE -o {file}), or give another --data file."
        )
    summary = None
    side = summary_path(file)
    if side.is_file():
        try:
            summary = json.loads(side.read_text(encoding="utf-8"))
        except ValueError:
            summary = None
    return TrainingData(
        path=file.resolve(),
        records=records,
        method=methods.pop() if len(methods) == 1 else ("mixed" if methods else None),
        domain=domains.pop() if len(domains) == 1 else ("mixed" if domains else None),
        sha256=sha256_file(file),
        summary=summary,
    )


def sequence_lengths(records: list[dict[str, Any]], tokenizer: Any) -> list[int]:
    """Token count of every record as TRL tokenizes it (prompt + completion, chat template)."""
    lengths = []
    for record in progress(
        records, desc="measuring lengths", unit="record", disable=len(records) < 500, leave=False
    ):
        encoded = tokenizer.apply_chat_template(
            record["prompt"] + record["completion"], tokenize=True, return_dict=True
        )
        lengths.append(len(encoded["input_ids"]))
    return lengths


def truncation_report(lengths: list[int], max_length: int) -> dict[str, Any]:
    """How many records exceed `max_length` (their end, with the tagged message, is cut)."""
    truncated = sum(n > max_length for n in lengths)
    return {
        "max_length": max_length,
        "records": len(lengths),
        "truncated": truncated,
        "rate": truncated / len(lengths) if lengths else 0.0,
        "longest": max(lengths) if lengths else 0,
        "mean_length": sum(lengths) / len(lengths) if lengths else 0.0,
    }


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape an adapter."""
    versions = {"python": platform.python_version()}
    for package in (
        "moloch_eval",
        "torch",
        "transformers",
        "peft",
        "trl",
        "accelerate",
        "datasets",
        "inspect_ai",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _precision(requested: str) -> str:
    import torch

    supported = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if requested == "bf16" and not supported:
        raise ValueError("bf16 was asked for but this device does not support it; use fp32")
    if requested == "auto":
        return "bf16" if supported else "fp32"
    return requested


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def gradient_accumulation(options: TrainOptions, world_size: int) -> int:
    """Accumulation steps so that per-device batch x processes x steps = batch_size."""
    per_step = options.per_device_batch_size * world_size
    if options.batch_size % per_step:
        raise ValueError(
            f"batch size {options.batch_size} is not a multiple of per-device batch "
            f"{options.per_device_batch_size} x {world_size} process(es); change "
            "--batch-size or --per-device-batch-size"
        )
    return options.batch_size // per_step


def resolve_base(base: str) -> str:
    """A local base model folder becomes an absolute path (so the adapter finds it later)."""
    path = Path(base).expanduser()
    return str(path.resolve()) if path.exists() else base


def prepare_output(
    name: str, root: str | Path | None, resume: bool, overwrite: bool
) -> tuple[Path, Path]:
    """The adapter folder and its checkpoints folder, refusing to clobber finished work."""
    folder = models_dir(root) / check_name(name)
    checkpoints = folder / CHECKPOINTS
    if (folder / MANIFEST).exists() and not overwrite:
        raise AdapterError(
            f"An adapter named {name!r} already exists at {folder.resolve()}. Choose another "
            "--name, or pass --overwrite to replace it."
        )
    if overwrite and folder.exists() and not resume and _is_main_process():
        shutil.rmtree(folder)
    elif checkpoints.is_dir() and any(checkpoints.iterdir()) and not resume:
        raise AdapterError(
            f"{folder.resolve()} holds an interrupted run's checkpoints. Pass --resume to "
            "continue it, or --overwrite to start over."
        )
    return folder, checkpoints


#: the file HF's Trainer writes last into a checkpoint, after the weights, the optimizer and
#: scheduler states and the RNG states (a checkpoint without it was cut off while written)
TRAINER_STATE = "trainer_state.json"
_CHECKPOINT_PREFIX = "checkpoint-"


def checkpoint_complete(checkpoint: Path) -> bool:
    """Whether HF's Trainer finished writing the checkpoint folder ``checkpoint-STEP``.

    Complete means its `TRAINER_STATE`, written last, parses and names that step: a run
    killed while writing a checkpoint leaves it without one, or with a cut-off one.
    """
    step = checkpoint.name.removeprefix(_CHECKPOINT_PREFIX)
    if not checkpoint.name.startswith(_CHECKPOINT_PREFIX) or not step.isdigit():
        return False
    try:
        state = json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("global_step") == int(step)


def last_checkpoint(checkpoints: Path) -> tuple[Path | None, list[Path]]:
    """The latest complete checkpoint under `checkpoints` (None if none), and the incomplete.

    transformers' own `get_last_checkpoint` takes the highest step whatever its state, so a
    run killed while writing a checkpoint could never be resumed (its cut-off trainer state
    does not parse) or, with the trainer state missing, would silently restart at step 0
    from that checkpoint's weights.
    """
    if not checkpoints.is_dir():
        return None, []
    folders = [
        path
        for path in checkpoints.iterdir()
        if path.is_dir()
        and path.name.startswith(_CHECKPOINT_PREFIX)
        and path.name.removeprefix(_CHECKPOINT_PREFIX).isdigit()
    ]
    folders.sort(key=lambda path: int(path.name.removeprefix(_CHECKPOINT_PREFIX)))
    complete = [path for path in folders if checkpoint_complete(path)]
    incomplete = [path for path in folders if path not in complete]
    return (complete[-1] if complete else None), incomplete


def _loss_history(log_history: list[dict[str, Any]]) -> list[tuple[int, float]]:
    return [
        (int(entry.get("step", 0)), float(entry["loss"]))
        for entry in log_history
        if "loss" in entry and isinstance(entry["loss"], int | float)
    ]


def build_trainer(
    base: str,
    data: TrainingData,
    options: TrainOptions,
    output_dir: Path,
    trust_remote_code: bool = False,
    records: list[dict[str, Any]] | None = None,
    callbacks: list[Any] | None = None,
    parent: Path | None = None,
) -> Any:
    """The SFTTrainer (PEFT LoRA) for `data`; exposed for tests that inspect the loss mask.

    With `parent` (an adapter folder), that adapter is loaded trainable on the base and
    trained further (its LoRA configuration is kept) instead of a new one.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    precision = _precision(options.precision)
    tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    attention = (
        {"attn_implementation": options.attn_implementation} if options.attn_implementation else {}
    )
    model: Any = AutoModelForCausalLM.from_pretrained(
        base,
        dtype=torch.bfloat16 if precision == "bf16" else torch.float32,
        trust_remote_code=trust_remote_code,
        **attention,
    )
    model.config.use_cache = False
    if parent is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(parent), is_trainable=True)
    peft_config = (
        None
        if parent is not None
        else LoraConfig(
            r=options.rank,
            lora_alpha=options.alpha,
            lora_dropout=options.dropout,
            bias="none",
            task_type="CAUSAL_LM",
            target_modules=list(options.target_modules),
        )
    )
    fields = {f.name for f in dataclasses.fields(SFTConfig)}
    version_dependent: dict[str, Any] = {
        # transformers 5 renamed gradient checkpointing and folded warmup_ratio into warmup_steps
        (
            "activation_checkpointing"
            if "activation_checkpointing" in fields
            else "gradient_checkpointing"
        ): options.gradient_checkpointing,
        ("warmup_ratio" if "warmup_ratio" in fields else "warmup_steps"): options.warmup_ratio,
    }
    args = SFTConfig(
        **version_dependent,
        output_dir=str(output_dir),
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        learning_rate=options.learning_rate,
        lr_scheduler_type=options.lr_scheduler,
        lr_scheduler_kwargs=(
            {"min_lr_rate": options.min_lr_rate}
            if options.lr_scheduler == "cosine_with_min_lr"
            else {}
        ),
        weight_decay=options.weight_decay,
        per_device_train_batch_size=options.per_device_batch_size,
        gradient_accumulation_steps=1,  # set below, once the number of processes is known
        bf16=precision == "bf16",
        fp16=False,
        max_length=options.max_length,
        completion_only_loss=True,
        logging_steps=options.logging_steps,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=options.save_total_limit,
        report_to="none",
        seed=options.seed,
        ddp_find_unused_parameters=False,
        dataset_num_proc=None,
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    # data-parallel processes (accelerate launch / torchrun on GPUs): keep the effective batch
    args.gradient_accumulation_steps = gradient_accumulation(options, args.world_size)
    dataset = Dataset.from_list(records if records is not None else data.records)
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks or []),
    )


#: the file `merge_adapter` writes into a merged model's folder
MERGE_RECORD = "moloch_merge.json"

#: the kinds of lineage step: the root model, a new LoRA adapter, an adapter trained further,
#: an adapter merged into its base (a model folder to train from)
LINEAGE_KINDS = ("base", "lora", "continued", "merged")


def lineage_step(
    kind: str,
    name: str,
    *,
    method: str | None = None,
    data: str | None = None,
    data_sha256: str | None = None,
    adapter_sha256: str | None = None,
) -> dict[str, Any]:
    """One step of a lineage; every step has the same keys (None where they do not apply)."""
    if kind not in LINEAGE_KINDS:
        raise ValueError(f"lineage kind must be one of {LINEAGE_KINDS}, not {kind!r}")
    return {
        "kind": kind,
        "name": name,
        "method": method,
        "data": data,
        "data_sha256": data_sha256,
        "adapter_sha256": adapter_sha256,
    }


def merge_record(base: str) -> dict[str, Any] | None:
    """What a merged model folder was merged from (its `MERGE_RECORD`), or None."""
    record = Path(base) / MERGE_RECORD
    if not record.is_file():
        return None
    try:
        merged = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError) as ex:
        raise AdapterError(
            f"{record} cannot be read ({ex}); merge the adapter again with moloch-eval merge "
            f"NAME -o NEW_DIR, or delete {record} to train on {base} as a plain base model"
        ) from ex
    return merged if isinstance(merged, dict) else None


def root_lineage(base: str) -> list[dict[str, Any]]:
    """The lineage of a base model: itself, or the lineage of the merge that produced it."""
    merged = merge_record(base)
    if merged is not None and isinstance(merged.get("lineage"), list) and merged["lineage"]:
        return list(merged["lineage"])
    return [lineage_step("base", base)]


def lineage_of(adapter: Adapter) -> list[dict[str, Any]]:
    """An adapter's lineage (rebuilt for manifests written before lineage was recorded)."""
    recorded = adapter.manifest.get("lineage")
    if isinstance(recorded, list) and recorded:
        return list(recorded)
    data = adapter.manifest.get("data") or {}
    return [
        *root_lineage(adapter.base_model),
        lineage_step(
            "lora",
            adapter.name,
            method=adapter.method,
            data=data.get("file"),
            data_sha256=data.get("sha256"),
            adapter_sha256=adapter.manifest.get("adapter_sha256"),
        ),
    ]


def parent_adapter(name_or_path: str, base: str | None, root: str | Path | None) -> Adapter:
    """The adapter to continue, verified; `base`, when given, must be its base."""
    parent = resolve_adapter(name_or_path, root)
    verify_adapter(parent)
    if base and resolve_base(base) != resolve_base(parent.base_model):
        raise AdapterError(
            f"--base {base} is not the base of adapter {parent.name} ({parent.base_model}); "
            "drop --base (the adapter's own base is used) or continue an adapter of that base."
        )
    return parent


def merge_adapter(
    name_or_path: str,
    output: str | Path,
    root: str | Path | None = None,
    trust_remote_code: bool = False,
    dtype: str = "auto",
) -> Path:
    """Merge an adapter into its base (PEFT merge_and_unload) and save model and tokenizer to
    `output`, with a `MERGE_RECORD` saying what it was merged from (base, adapter, its weights'
    SHA-256, the lineage ending in a "merged" step). Returns the folder.

    `dtype`: "auto" keeps the base's own (e.g. bf16 for the paper's models), or "float32",
    "bfloat16", "float16". The folder is written whole or not at all; it must be new or empty.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype != "auto" and dtype not in dtypes:
        raise ValueError(f"dtype must be auto or one of {sorted(dtypes)}, not {dtype!r}")
    adapter = resolve_adapter(name_or_path, root)
    verify_adapter(adapter)
    out = Path(output).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AdapterError(f"{out} is not empty; choose a new folder for the merged model")
    model = AutoModelForCausalLM.from_pretrained(
        adapter.base_model,
        dtype=dtypes.get(dtype, "auto"),
        trust_remote_code=trust_remote_code,
    )
    merged = PeftModel.from_pretrained(model, str(adapter.path)).merge_and_unload()
    weights_sha256 = sha256_file(adapter.path / ADAPTER_WEIGHTS)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    merged.save_pretrained(str(partial))
    tokenizer = AutoTokenizer.from_pretrained(
        adapter.base_model, trust_remote_code=trust_remote_code
    )
    tokenizer.save_pretrained(str(partial))
    record = {
        "base_model": adapter.base_model,
        "adapter": adapter.name,
        "adapter_path": str(adapter.path),
        "adapter_sha256": weights_sha256,
        "dtype": str(merged.dtype).removeprefix("torch."),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "lineage": [
            *lineage_of(adapter),
            lineage_step("merged", str(out), adapter_sha256=weights_sha256),
        ],
    }
    (partial / MERGE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if out.exists():
        out.rmdir()
    os.replace(partial, out)
    return out


def train_adapter(
    base: str | None,
    data_file: str | Path,
    name: str,
    options: TrainOptions | None = None,
    *,
    from_adapter: str | None = None,
    method: str | None = None,
    domain: str | None = None,
    root: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    keep_checkpoints: bool = False,
    trust_remote_code: bool = False,
    callbacks: list[Any] | None = None,
    echo: Any = print,
) -> TrainResult:
    """Train a LoRA adapter on `data_file` and save it as ``<models dir>/NAME``.

    `from_adapter` (a name under the models dir or a folder) continues training that adapter
    on its own base (`base` may then be None; given, it must be that base, else an
    AdapterError); the LoRA shape (rank, alpha, dropout, targets) is the parent's, the other
    options apply; the parent is left untouched and the new adapter's ``base_model`` is the
    parent's, so it is served and evaluated like any adapter of that base. `base` may be a
    folder written by `merge_adapter`: the manifest's ``base_merge`` says what it was merged
    from.

    The manifest's ``lineage`` runs from the root model to this adapter, one `lineage_step`
    each (kind "base", "lora", "continued" or "merged"; name; method; data file and SHA-256;
    adapter weights' SHA-256).
    """
    options = options or TrainOptions()
    data = load_training_data(data_file)
    parent = parent_adapter(from_adapter, base, root) if from_adapter else None
    if parent is not None:
        base = parent.base_model
    if not base:
        raise AdapterError("give the base model (--base MODEL) or an adapter (--from-adapter)")
    base = resolve_base(base)
    merged_from = merge_record(base)
    if parent is not None and parent.path.resolve() == (models_dir(root) / name).resolve():
        raise AdapterError(
            f"--name {name} is the adapter being continued; choose a new name (the parent is "
            "kept as it is)"
        )
    folder, checkpoints = prepare_output(name, root, resume, overwrite)
    main = _is_main_process()

    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(
        base, trust_remote_code=trust_remote_code
    )
    lengths = sequence_lengths(data.records, tokenizer)
    truncation = truncation_report(lengths, options.max_length)
    records = data.records
    if options.drop_truncated:
        records = [r for r, n in zip(data.records, lengths, strict=True) if n <= options.max_length]
        if not records:
            raise TrainingDataError(
                f"every record is longer than --max-length {options.max_length}; raise it"
            )
    truncation["dropped"] = options.drop_truncated
    if main:
        changed = options.overrides()
        echo(
            f"recipe: preset {options.preset}"
            + (
                f", overridden: {', '.join(f'{k}={v}' for k, v in changed.items())}"
                if changed
                else ""
            )
        )
        echo(
            f"data: {len(data.records)} records from {data.path} (method "
            f"{method or data.method}, domain {domain or data.domain}); longest "
            f"{truncation['longest']} tokens, max length {options.max_length}: "
            f"{truncation['truncated']} record(s) truncated ({truncation['rate']:.1%})"
            + (
                " and dropped"
                if options.drop_truncated and truncation["truncated"]
                else (" and kept, their end cut" if truncation["truncated"] else "")
            )
        )
        if truncation["truncated"] and not options.drop_truncated:
            echo(
                "warning: truncated records lose the end of their completion, where the tagged "
                "message is; raise --max-length or pass --drop-truncated"
            )

    # what this run creates (the adapter folder, or the models dir too): removed if it fails
    fresh = None if folder.exists() else (folder if folder.parent.is_dir() else folder.parent)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        trainer = build_trainer(
            base,
            data,
            options,
            checkpoints,
            trust_remote_code,
            records,
            callbacks,
            parent.path if parent is not None else None,
        )
        if len(trainer.train_dataset) == 0:  # TRL dropped every record (no completion left)
            raise TrainingDataError(
                f"No record of {data.path} keeps any of its completion within --max-length "
                f"{options.max_length} (the longest has {truncation['longest']} tokens): "
                "nothing to train on. Raise --max-length, or train on shorter records."
            )
    except BaseException:
        if fresh is not None and main:  # a new run that could not start leaves nothing
            shutil.rmtree(fresh, ignore_errors=True)
        raise
    latest, incomplete = last_checkpoint(checkpoints)
    last = str(latest) if latest is not None else None
    if resume and main:
        for broken in incomplete:  # unusable: resuming from it would fail or start over
            echo(f"removing {broken}: its run was killed while writing it (incomplete)")
            shutil.rmtree(broken, ignore_errors=True)
        echo(f"resuming from {last}" if last else "no checkpoint to resume from; starting anew")
    started = time.monotonic()
    output = trainer.train(resume_from_checkpoint=last if resume and last else None)
    runtime = time.monotonic() - started
    losses = _loss_history(trainer.state.log_history)

    manifest: dict[str, Any] = {}
    if trainer.is_world_process_zero():
        trainer.save_model(str(folder))
        manifest = {
            "format": MANIFEST_FORMAT,
            "name": name,
            "base_model": base,
            "method": method or data.method or "unknown",
            "domain": domain or data.domain or "unknown",
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "preset": {"name": options.preset, "overrides": options.overrides()},
            "adapter_file": ADAPTER_WEIGHTS,
            "adapter_sha256": sha256_file(folder / ADAPTER_WEIGHTS),
            "data": {
                "file": str(data.path),
                "sha256": data.sha256,
                "records": len(data.records),
                "trained_records": len(records),
                "build": data.summary,
            },
            "lora": (
                dict(parent.manifest.get("lora", {}))
                if parent is not None
                else {
                    "r": options.rank,
                    "alpha": options.alpha,
                    "dropout": options.dropout,
                    "target_modules": list(options.target_modules),
                }
            ),
            "parent": (
                {
                    "name": parent.name,
                    "path": str(parent.path),
                    "adapter_sha256": parent.manifest.get("adapter_sha256"),
                }
                if parent is not None
                else None
            ),
            # a base that is a merged model: what it was merged from (moloch-eval merge)
            "base_merge": (
                {k: v for k, v in merged_from.items() if k != "lineage"} if merged_from else None
            ),
            "hyperparameters": {
                **asdict(options),
                "target_modules": list(options.target_modules),
                "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
                "world_size": trainer.args.world_size,
                "precision": "bf16" if trainer.args.bf16 else "fp32",
                "attn_implementation": getattr(
                    trainer.model.config, "_attn_implementation", options.attn_implementation
                ),
                "trust_remote_code": trust_remote_code,
            },
            "training": {
                "steps": int(trainer.state.global_step),
                "epochs": float(trainer.state.epoch or 0.0),
                "final_loss": losses[-1][1] if losses else None,
                "mean_loss": float(output.training_loss),
                "loss_curve": losses,
                "runtime_s": round(runtime, 2),
                "resumed_from": str(last) if resume and last else None,
                "truncation": truncation,
                "device": str(trainer.args.device),
            },
            "versions": library_versions(),
        }
        if parent is not None:  # the LoRA shape is the parent's, whatever the options said
            lora = manifest["lora"]
            manifest["hyperparameters"].update(
                {
                    k: lora[key]
                    for k, key in (
                        ("rank", "r"),
                        ("alpha", "alpha"),
                        ("dropout", "dropout"),
                        ("target_modules", "target_modules"),
                    )
                    if key in lora
                }
            )
        manifest["lineage"] = [
            *(lineage_of(parent) if parent is not None else root_lineage(base)),
            lineage_step(
                "continued" if parent is not None else "lora",
                name,
                method=manifest["method"],
                data=str(data.path),
                data_sha256=data.sha256,
                adapter_sha256=manifest["adapter_sha256"],
            ),
        ]
        write_manifest(folder, manifest)
        if not keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    return TrainResult(path=folder.resolve(), manifest=manifest, losses=losses)
