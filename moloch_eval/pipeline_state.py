"""Step state of a resumable multi-step pipeline (``state.json``), checked by content hashes.

A pipeline (e.g. `moloch-eval race`) runs steps whose outputs are files. After each step it
records the step's inputs (identifiers of what it was computed from, typically the SHA-256 of
upstream outputs) and the SHA-256 of every output file. On a rerun a step is skipped only when

- its recorded inputs equal the inputs it would be run with now (an upstream step that was
  redone with a different result makes it stale), and
- every recorded output file still exists and hashes to the recorded value (a deleted,
  truncated or edited output is redone).

A state file records the pipeline's configuration; a different configuration is refused (use
another name, or ``restart``), so that a resumed run never mixes two experiments. The file is
written atomically after every step.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moloch_eval.training.adapters import sha256_file

STATE_VERSION = 1


class StateError(RuntimeError):
    """A state file that cannot be resumed; the message says what to do."""


@dataclass(frozen=True)
class StepRecord:
    """A finished step: its inputs, its output files (path, SHA-256) and free-form info."""

    inputs: dict[str, str]
    outputs: dict[str, str]
    hashes: dict[str, str]
    info: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        return Path(self.outputs[name])

    def to_json(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "outputs": {k: {"path": p, "sha256": self.hashes[k]} for k, p in self.outputs.items()},
            "info": self.info,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        outputs = data.get("outputs") or {}
        return cls(
            inputs={str(k): str(v) for k, v in (data.get("inputs") or {}).items()},
            outputs={k: str(v["path"]) for k, v in outputs.items()},
            hashes={k: str(v["sha256"]) for k, v in outputs.items()},
            info=dict(data.get("info") or {}),
        )


class PipelineState:
    """The state file of one pipeline run: which steps are finished, with what."""

    def __init__(
        self,
        path: str | Path,
        config: Mapping[str, Any],
        restart: bool = False,
        hasher: Callable[[Path], str] = sha256_file,
    ) -> None:
        self.path = Path(path)
        self.config = json.loads(json.dumps(dict(config), default=str))
        self.hasher = hasher
        self.steps: dict[str, StepRecord] = {}
        if not restart and self.path.is_file():
            self._load()
        self.save()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as ex:
            raise StateError(
                f"{self.path} cannot be read ({ex}); fix or delete it, or pass --restart to "
                "start over."
            ) from ex
        if data.get("version") != STATE_VERSION:
            raise StateError(
                f"{self.path} has state version {data.get('version')!r}, this package writes "
                f"{STATE_VERSION}; pass --restart to start over."
            )
        if data.get("config") != self.config:
            changed = sorted(
                k
                for k in set(data.get("config") or {}) | set(self.config)
                if (data.get("config") or {}).get(k) != self.config.get(k)
            )
            raise StateError(
                f"{self.path} records a different configuration (changed: "
                f"{', '.join(changed)}); resume with the same arguments, choose another --name, "
                "or pass --restart to start over."
            )
        self.steps = {k: StepRecord.from_json(v) for k, v in (data.get("steps") or {}).items()}

    def save(self) -> None:
        """Write the state atomically (a temporary file, then a rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION,
            "config": self.config,
            "steps": {k: v.to_json() for k, v in self.steps.items()},
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def check(self, key: str, inputs: Mapping[str, str]) -> tuple[StepRecord | None, str]:
        """The record of a finished step whose inputs and outputs still hold, else None and
        why it must (re)run: "not run yet", "inputs changed" or which output changed."""
        record = self.steps.get(key)
        if record is None:
            return None, "not run yet"
        if record.inputs != dict(inputs):
            changed = sorted(
                k for k in set(record.inputs) | set(inputs) if record.inputs.get(k) != inputs.get(k)
            )
            return None, f"its inputs changed ({', '.join(changed)})"
        for name, path in record.outputs.items():
            file = Path(path)
            if not file.is_file():
                return None, f"its output {name} ({file}) is missing"
            if self.hasher(file) != record.hashes[name]:
                return None, f"its output {name} ({file}) changed (SHA-256 mismatch)"
        return record, "finished, outputs verified"

    def record(
        self,
        key: str,
        inputs: Mapping[str, str],
        outputs: Mapping[str, str | Path],
        **info: Any,
    ) -> StepRecord:
        """Mark a step finished: hash its output files and save the state."""
        paths = {name: str(Path(p)) for name, p in outputs.items()}
        hashes = {name: self.hasher(Path(p)) for name, p in paths.items()}
        info.setdefault("finished", datetime.datetime.now(datetime.UTC).isoformat())
        step = StepRecord(dict(inputs), paths, hashes, info)
        self.steps[key] = step
        self.save()
        return step
