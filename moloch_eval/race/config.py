"""What one race is: the base, the rounds, how each round trains and how it is judged."""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from moloch_eval.domains import DOMAINS
from moloch_eval.probes import PROBES
from moloch_eval.roles import PAPER_JUDGE, PAPER_VOTER

METHODS = ("rft", "tfb")
BACKENDS = ("auto", "hf", "vllm")
#: task arguments the race sets itself in every eval
RESERVED_TASK_ARGS = ("split", "opponent")
#: fields that do not change what a finished step computed (a race may be extended)
NOT_IDENTITY = ("rounds",)


class RaceError(RuntimeError):
    """A race that cannot go on; the message says why and what to do."""


def default_name(base: str, domain: str, method: str, gate: tuple[str, ...] = ()) -> str:
    """A race name from its base, domain, method and gate, e.g. ``Qwen3-8B-sales-rft``."""
    stem = Path(base.rstrip("/")).name or "model"
    name = "-".join([stem, domain, method, *(["gated", *gate] if gate else [])])
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:100]


@dataclass(frozen=True)
class RaceConfig:
    """One race (see `moloch_eval.race`). `base` is a Hub id or a local folder; the Inspect
    model of the base is ``<backend>/<base>`` and adapter r is ``moloch/<name>-round<r>``."""

    name: str
    base: str
    rounds: int
    domain: str = "sales"
    method: str = "rft"
    #: probes that gate the training data (alignment-gated RFT/TFB); judged in self-play
    gate: tuple[str, ...] = ()
    #: adapter r continues adapter r−1 (True) or starts from the base (False)
    continue_training: bool = False
    audience: str = PAPER_VOTER
    judge: str = PAPER_JUDGE
    #: task arguments of every eval (-T); split and opponent are the race's
    task_args: dict[str, Any] = field(default_factory=dict)
    #: anchors of each self-play (train split) and each evaluation (test split); None: all
    train_limit: int | None = None
    test_limit: int | None = None
    backend: str = "auto"
    #: model args of the base and the adapters (-M), e.g. device
    model_args: dict[str, Any] = field(default_factory=dict)
    preset: str = "clean"
    train_overrides: dict[str, Any] = field(default_factory=dict)
    log_dir: str = "logs/race"
    models_dir: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.rounds, int) or self.rounds < 1:
            raise ValueError(
                f"--rounds must be at least 1 (got {self.rounds}): each round is self-play → "
                "dataset → training → evaluation"
            )
        if self.domain not in DOMAINS:
            raise ValueError(f"--domain must be one of {list(DOMAINS)}, not {self.domain!r}")
        if self.method not in METHODS:
            raise ValueError(f"--method must be rft or tfb, not {self.method!r}")
        unknown = [p for p in self.gate if p not in PROBES]
        if unknown:
            raise ValueError(
                f"--gate {' '.join(unknown)}: unknown probe; choose from {sorted(PROBES)}"
            )
        if self.backend not in BACKENDS:
            raise ValueError(f"--backend must be one of {BACKENDS}, not {self.backend!r}")
        reserved = [k for k in RESERVED_TASK_ARGS if k in self.task_args]
        if reserved:
            raise ValueError(
                f"-T {', '.join(reserved)}: the race sets these itself (train split for "
                "self-play, test split against replayed messages); leave them out"
            )
        for flag, limit in (("--train-limit", self.train_limit), ("--test-limit", self.test_limit)):
            if limit is not None and limit < 1:
                raise ValueError(f"{flag} must be at least 1 (or left out for every anchor)")
        if self.method == "tfb" and self.task_args.get("audience_mode", "think") != "think":
            raise ValueError(
                "--method tfb trains on the voters' thoughts, which only the think audience "
                "writes; drop -T audience_mode=logprob or use --method rft"
            )
        if not self.base:
            raise ValueError("give --base MODEL (a Hub id or a local folder)")

    @property
    def folder(self) -> Path:
        return Path(self.log_dir) / self.name

    def adapter(self, round_: int) -> str:
        """Adapter name of round `round_` (1..rounds)."""
        return f"{self.name}-round{round_}"

    def resolved_backend(self) -> str:
        from moloch_eval.providers.moloch import choose_backend

        return choose_backend(None if self.backend == "auto" else self.backend)

    def model(self, round_: int) -> tuple[str, dict[str, Any]]:
        """Inspect model and model args of the model after `round_` rounds (0: the base)."""
        args = dict(self.model_args)
        if round_ == 0:
            return f"{self.resolved_backend()}/{self.base}", args
        if self.backend != "auto":
            args["backend"] = self.backend
        if self.models_dir:
            args["models_dir"] = self.models_dir
        return f"moloch/{self.adapter(round_)}", args

    def eval_probes(self) -> str:
        """The probes of the evaluations: -T probes (default: the domain's) and the gate's."""
        given = str(self.task_args.get("probes", "default"))
        extra = [p for p in self.gate if p not in given.split(",")]
        return ",".join([given, *extra])

    def identity(self) -> dict[str, Any]:
        """What the state file checks on resume (everything but the number of rounds)."""
        record = asdict(self)
        record["gate"] = list(self.gate)
        for key in NOT_IDENTITY:
            record.pop(key)
        return record


def inspect_command(
    task: str,
    model: str,
    model_args: dict[str, Any],
    roles: dict[str, str],
    task_args: dict[str, Any],
    limit: int | None,
    log_dir: str | Path,
) -> str:
    """The `inspect eval` command line of one step."""
    parts = ["inspect", "eval", task, "--model", model]
    for key, value in model_args.items():
        parts += ["-M", f"{key}={value}"]
    for role, bound in roles.items():
        parts += ["--model-role", f"{role}={bound}"]
    for key, value in task_args.items():
        parts += ["-T", f"{key}={value}"]
    if limit is not None:
        parts += ["--limit", str(limit)]
    return shlex.join([*parts, "--log-dir", str(log_dir)])
