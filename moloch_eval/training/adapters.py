"""The project's LoRA adapters: where they live, their manifests, and how they are checked.

An adapter is a folder ``<models dir>/<NAME>/`` (``models/`` under the working directory unless
``MOLOCH_EVAL_MODELS_DIR`` says otherwise) holding PEFT's ``adapter_config.json`` and
``adapter_model.safetensors`` and this project's ``manifest.json``. The manifest is written
last, so a folder without one is an unfinished (resumable) training run, never an adapter.

Nothing here imports torch, transformers or peft: listing and resolving adapters is cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai._util.error import PrerequisiteError

#: Environment variable overriding the root folder of adapters.
MODELS_DIR_ENV = "MOLOCH_EVAL_MODELS_DIR"
MANIFEST = "manifest.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
#: Subfolder of an adapter's folder holding the trainer's checkpoints while it trains.
CHECKPOINTS = "checkpoints"
MANIFEST_FORMAT = 1

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class AdapterError(PrerequisiteError):
    """An adapter that cannot be used as asked; the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.message)


def models_dir(root: str | Path | None = None) -> Path:
    """The adapters' root: `root` if given, else ``$MOLOCH_EVAL_MODELS_DIR``, else ``models``."""
    if root is not None:
        return Path(root).expanduser()
    return Path(os.environ.get(MODELS_DIR_ENV) or "models").expanduser()


def check_name(name: str) -> str:
    """An adapter name: letters, digits, '.', '_' and '-' (it is a folder and a vLLM name)."""
    if not _NAME.match(name) or name in (".", ".."):
        raise AdapterError(
            f"Invalid adapter name {name!r}: use letters, digits, '.', '_' and '-' only "
            "(e.g. qwen3-8b-sales-rft)."
        )
    return name


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Adapter:
    """A trained adapter found on disk."""

    name: str
    path: Path
    manifest: dict[str, Any]

    @property
    def base_model(self) -> str:
        return str(self.manifest.get("base_model", ""))

    @property
    def method(self) -> str:
        return str(self.manifest.get("method", ""))

    @property
    def domain(self) -> str:
        return str(self.manifest.get("domain", ""))

    @property
    def rank(self) -> int:
        return int(self.manifest.get("lora", {}).get("r", 0) or 0)

    @property
    def created(self) -> str:
        return str(self.manifest.get("created", ""))

    @property
    def final_loss(self) -> float | None:
        value = self.manifest.get("training", {}).get("final_loss")
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class AdapterEntry:
    """One folder under the models dir: a usable adapter, or what is wrong with it."""

    name: str
    path: Path
    adapter: Adapter | None
    problem: str | None = None


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an adapter folder (an AdapterError when missing or unreadable)."""
    path = folder / MANIFEST
    if not path.is_file():
        raise AdapterError(f"{folder} has no {MANIFEST}: it is not a finished adapter.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as ex:
        raise AdapterError(
            f"The manifest {path} cannot be read ({ex}). Retrain the adapter "
            f"(moloch-eval train ... --name {folder.name} --overwrite) or restore the folder."
        ) from ex
    if not isinstance(data, dict) or not data.get("base_model"):
        raise AdapterError(
            f"The manifest {path} names no base model. Retrain the adapter "
            f"(moloch-eval train ... --name {folder.name} --overwrite) or restore the folder."
        )
    return data


def lineage_text(manifest: dict[str, Any]) -> str:
    """A manifest's lineage in one line, e.g. ``Qwen3-8B → mis → realigned`` (each step's
    name, a path shortened to its last part; merges marked); "" when it has none."""
    steps = manifest.get("lineage")
    if not isinstance(steps, list):
        return ""
    names = []
    for step in steps:
        if not isinstance(step, dict) or not step.get("name"):
            continue
        name = str(step["name"])
        short = name.rstrip("/").rsplit("/", 1)[-1] or name
        names.append(f"{short} (merged)" if step.get("kind") == "merged" else short)
    return " → ".join(names)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest atomically (it marks the adapter as finished)."""
    path = folder / MANIFEST
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _load(folder: Path) -> Adapter:
    return Adapter(name=folder.name, path=folder.resolve(), manifest=read_manifest(folder))


def list_adapters(root: str | Path | None = None) -> list[AdapterEntry]:
    """Every folder of the models dir, sorted by name, with its adapter or its problem."""
    base = models_dir(root)
    if not base.is_dir():
        return []
    entries: list[AdapterEntry] = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        problem: str | None
        if not (folder / MANIFEST).exists():
            if (folder / CHECKPOINTS).is_dir():
                problem = "interrupted training run (resume it with moloch-eval train --resume)"
            else:
                problem = f"no {MANIFEST} (not an adapter of this project)"
            entries.append(AdapterEntry(folder.name, folder, None, problem))
            continue
        try:
            adapter = _load(folder)
            missing = [f for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if not (folder / f).is_file()]
            problem = f"incomplete: missing {', '.join(missing)}" if missing else None
            entries.append(AdapterEntry(folder.name, folder, adapter, problem))
        except AdapterError as ex:
            entries.append(AdapterEntry(folder.name, folder, None, str(ex)))
    return entries


def _known(root: str | Path | None) -> str:
    names = [e.name for e in list_adapters(root) if e.adapter is not None and e.problem is None]
    return ", ".join(names) if names else "none"


def resolve_adapter(name_or_path: str, root: str | Path | None = None) -> Adapter:
    """The adapter called `name_or_path` under the models dir, or at that path.

    Raises an AdapterError that lists the known adapters when there is no such adapter.
    """
    direct = Path(name_or_path).expanduser()
    if ("/" in name_or_path or name_or_path.startswith(".")) and (direct / MANIFEST).is_file():
        return _load(direct)
    base = models_dir(root)
    folder = base / name_or_path
    if not _NAME.match(name_or_path) and any(c in name_or_path for c in ("/", "\\", "..")):
        raise AdapterError(
            f"{name_or_path!r} is neither an adapter folder (there is no "
            f"{direct / MANIFEST}) nor an adapter name: names use letters, digits, '.', '_' "
            f"and '-' only, never '/', '\\' or '..'. Adapters in {base.resolve()}: "
            f"{_known(root)}; list them with moloch-eval adapters."
        )
    if not _NAME.match(name_or_path) or not folder.is_dir():
        raise AdapterError(
            f"No adapter named {name_or_path!r} in {base.resolve()} (known: {_known(root)}). "
            f"Train one with: moloch-eval train --base MODEL --data FILE.jsonl --name "
            f"{name_or_path if _NAME.match(name_or_path) else 'NAME'}; list them with "
            f"moloch-eval adapters; or point {MODELS_DIR_ENV} at the folder that holds it."
        )
    if not (folder / MANIFEST).is_file():
        hint = (
            "its training run was interrupted: finish it with moloch-eval train ... --resume"
            if (folder / CHECKPOINTS).is_dir()
            else "train it with moloch-eval train"
        )
        raise AdapterError(f"{folder} is not a finished adapter (no {MANIFEST}); {hint}.")
    return _load(folder)


def verify_adapter(adapter: Adapter, check_hash: bool = True) -> None:
    """Check that the adapter's files are present and intact (weights hash from the manifest).

    Raises an AdapterError saying what is wrong and what to do.
    """
    redo = (
        f"Retrain it (moloch-eval train --base {adapter.base_model} --data ... --name "
        f"{adapter.name} --overwrite) or restore {adapter.path} from a backup."
    )
    missing = [f for f in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if not (adapter.path / f).is_file()]
    if missing:
        raise AdapterError(
            f"Adapter {adapter.name!r} at {adapter.path} is incomplete: missing "
            f"{', '.join(missing)}. {redo}"
        )
    try:
        config = json.loads((adapter.path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        if not isinstance(config, dict) or "r" not in config:
            raise ValueError("no LoRA rank 'r'")
    except (OSError, ValueError) as ex:
        raise AdapterError(
            f"Adapter {adapter.name!r}: {ADAPTER_CONFIG} is damaged ({ex}). {redo}"
        ) from ex
    config_base = config.get("base_model_name_or_path")
    if config_base and str(config_base) != adapter.base_model:
        raise AdapterError(
            f"Adapter {adapter.name!r}: its {ADAPTER_CONFIG} names base model {config_base!r} "
            f"but its manifest names {adapter.base_model!r}; the folder was altered. {redo}"
        )
    expected = adapter.manifest.get("adapter_sha256")
    if check_hash and expected:
        actual = sha256_file(adapter.path / ADAPTER_WEIGHTS)
        if actual != expected:
            raise AdapterError(
                f"Adapter {adapter.name!r}: {ADAPTER_WEIGHTS} is corrupted (SHA-256 {actual}, "
                f"the manifest expects {expected}). {redo}"
            )
    _check_safetensors_header(adapter, redo)


def _check_safetensors_header(adapter: Adapter, redo: str) -> None:
    """The weights file must start with a valid safetensors header (cheap, no torch)."""
    path = adapter.path / ADAPTER_WEIGHTS
    try:
        with open(path, "rb") as handle:
            size_bytes = handle.read(8)
            if len(size_bytes) != 8:
                raise ValueError("file too short")
            size = int.from_bytes(size_bytes, "little")
            if size <= 0 or size > 100 * 2**20 or size + 8 > path.stat().st_size:
                raise ValueError("bad header length")
            header = json.loads(handle.read(size))
            if not isinstance(header, dict) or not any(k != "__metadata__" for k in header):
                raise ValueError("no tensors")
    except (OSError, ValueError) as ex:
        raise AdapterError(
            f"Adapter {adapter.name!r}: {ADAPTER_WEIGHTS} is not a valid safetensors file ({ex}). "
            f"{redo}"
        ) from ex


def check_base(adapter: Adapter, base: str | None) -> None:
    """An AdapterError when `base` is given and is not the adapter's base model."""
    if not base or base == adapter.base_model:
        return
    given, own = Path(base).expanduser(), Path(adapter.base_model).expanduser()
    if given.exists() and own.exists() and given.resolve() == own.resolve():
        return
    raise AdapterError(
        f"Adapter {adapter.name!r} was trained on {adapter.base_model!r}, not {base!r}: LoRA "
        f"weights only fit the base they were trained on. Evaluate it on its own base (drop "
        f"the base argument), or train an adapter for {base!r} with moloch-eval train --base "
        f"{base} ..."
    )
