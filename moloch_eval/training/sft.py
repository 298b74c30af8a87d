"""LoRA supervised fine-tuning with TRL's SFTTrainer and PEFT (SPEC §3's recipe by default):
`train_adapter` (`moloch-eval train`) and the manifest it writes.

The data are the conversational prompt-completion records of `moloch_eval.training.build`
(or chat records ``{"messages": [...]}``, whose last assistant message becomes the
completion; read by `moloch_eval.training.data`). TRL computes the loss on the completion
tokens only (`moloch_eval.training.trainer`).

The hyperparameters start from a named preset of `moloch_eval.training.recipe` (``clean``, the
default, or ``paper``: what the paper's train.py ran) and explicit values override it
(`moloch_eval.training.options`); the manifest records the preset and the overrides.
Sequences longer than `max_length` (4096 in ``clean``, TRL's default 1024 in ``paper``) are
kept and lose their end, where the tagged message is, as TRL truncates them; every such
record is counted and the truncation rate is reported (and stored in the manifest) under
either preset. `drop_truncated` leaves them out instead.

The run writes checkpoints to ``<models dir>/NAME/checkpoints/``; `resume=True` continues an
interrupted run from the last complete one (a checkpoint cut off while being written, by a kill
at that moment, is removed; see `moloch_eval.training.checkpoints`). At the end the adapter and
``manifest.json`` are written to ``<models dir>/NAME/`` and the checkpoints are removed (unless
`keep_checkpoints`). It runs unchanged under ``accelerate launch`` (one process per device;
only the main process writes the adapter and the manifest): the per-device batch and the number
of processes set the gradient accumulation so that the effective batch stays `batch_size`.
(Data-parallel processes need GPUs: on a CPU, transformers runs each launched process alone, so
train with one process there.)

`train_adapter(..., from_adapter=NAME)` trains an existing adapter further into a new one
(same root base, so it is served like the others); `merge_adapter`
(`moloch_eval.training.merge`) merges one into its base as a model folder to train from.
Every manifest's ``lineage`` lists the steps from the root model to the adapter
(`moloch_eval.training.lineage`).

The names of those modules are importable from here too. Heavy libraries (torch,
transformers, peft, trl) are imported inside the functions.
"""

from __future__ import annotations

import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from moloch_eval.training.adapters import (
    ADAPTER_WEIGHTS,
    MANIFEST_FORMAT,
    Adapter,
    AdapterError,
    models_dir,
    resolve_adapter,
    sha256_file,
    verify_adapter,
    write_manifest,
)
from moloch_eval.training.checkpoints import (
    TRAINER_STATE,
    checkpoint_complete,
    is_main_process,
    last_checkpoint,
    prepare_output,
)
from moloch_eval.training.data import (
    TrainingData,
    TrainingDataError,
    load_training_data,
    sequence_lengths,
    truncation_report,
)
from moloch_eval.training.lineage import (
    LINEAGE_KINDS,
    MERGE_RECORD,
    lineage_of,
    lineage_step,
    merge_record,
    root_lineage,
)
from moloch_eval.training.merge import merge_adapter
from moloch_eval.training.options import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_TARGET_MODULES,
    TrainOptions,
    gradient_accumulation,
)
from moloch_eval.training.trainer import build_trainer, loss_history

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_TARGET_MODULES",
    "LINEAGE_KINDS",
    "MERGE_RECORD",
    "TRAINER_STATE",
    "TrainOptions",
    "TrainResult",
    "TrainingData",
    "TrainingDataError",
    "build_trainer",
    "checkpoint_complete",
    "gradient_accumulation",
    "last_checkpoint",
    "library_versions",
    "lineage_of",
    "lineage_step",
    "load_training_data",
    "merge_adapter",
    "merge_record",
    "parent_adapter",
    "prepare_output",
    "resolve_base",
    "root_lineage",
    "sequence_lengths",
    "train_adapter",
    "truncation_report",
]


@dataclass
class TrainResult:
    """Where the adapter went and what the run measured."""

    path: Path
    manifest: dict[str, Any]
    losses: list[tuple[int, float]] = field(default_factory=list)


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


def resolve_base(base: str) -> str:
    """A local base model folder becomes an absolute path (so the adapter finds it later)."""
    path = Path(base).expanduser()
    return str(path.resolve()) if path.exists() else base


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
    main = is_main_process()

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
    losses = loss_history(trainer.state.log_history)

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
