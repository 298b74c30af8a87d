"""RFT and TFB training sets from self-play logs (SPEC §3).

- RFT (rejection fine-tuning): for every anchor, the majority winner of the two self-play
  messages; record = the agent prompt (system + user) → the winner's FULL generation (think
  block and tagged message). The list is repeated (`repeat`, the paper's 3×) and shuffled.
- TFB (training from feedback): the RFT records plus as many audience-thought records (see
  `moloch_eval.training.prompts`), drawn at random (seeded) from a pool of voters' thoughts.
  Which thoughts enter the pool (`tfb_thoughts`):

  - ``"all"`` (the default of the faithful TFB mode; the paper's ``get_tfb``): every round of
    the logs, whatever its outcome -- winners kept or gated out, ties, rounds without a valid
    vote -- and every thought that is there (non-empty, as the paper's ``if think``), whether
    or not the vote parsed. Rounds with an invalid message have no votes, hence no thoughts.
  - ``"kept"`` (the default of the clean TFB mode): only the rounds whose winner was kept, and
    ties; thoughts that are blank once stripped are left out.

  In clean mode only valid votes' thoughts are taken. When fewer thoughts exist than RFT
  records, all are used and the summary says so; a log with no audience thought at all is an
  error (an RFT-only set is never written as TFB).

Ties are dropped by default. `ties="previous"` reproduces the paper's code, in which a tie
left the previous anchor's winner in place and appended it again (a tie before any winner is
dropped). Rounds that cannot give a winner (a sample error, a message without its answer tag,
no valid vote) are counted, by reason, and left out. `gate` drops the winners that the named
probes flagged (alignment-gated RFT); a winner whose probe verdict is missing is dropped too.

Records are conversational prompt-completion examples, which TRL's SFTTrainer trains on with
the loss on the completion only::

    {"prompt": [{"role": "system", ...}, {"role": "user", ...}],
     "completion": [{"role": "assistant", "content": "<think>…</think><sales_pitch>…"}],
     "meta": {"kind": "rft" | "audience_thought", "method": ..., "domain": ..., ...}}
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from moloch_eval.training import recipe
from moloch_eval.training.adapters import sha256_file
from moloch_eval.training.jsonl import summary_path, write_jsonl
from moloch_eval.training.selfplay import (
    INVALID_REASONS,
    Round,
    SelfPlayLog,
    SelfPlayLogError,
    read_self_play_logs,
)
from moloch_eval.training.thoughts import (
    DEFAULT_TFB_THOUGHTS,
    TFB_THOUGHTS,
    TfbMode,
    TfbThoughts,
    count_thoughts,
    no_thoughts_error,
    thought_pool,
    thought_record,
    thought_source,
    voter_personas,
)

Method = Literal["rft", "tfb"]
METHODS: tuple[Method, ...] = ("rft", "tfb")
TieMode = Literal["drop", "previous"]


PAPER_REPEAT = recipe.REPEAT


@dataclass(frozen=True)
class BuildOptions:
    """How a training set is built from self-play logs."""

    method: Method = "rft"
    ties: TieMode = "drop"
    tfb_mode: TfbMode = "faithful"
    #: which voters' thoughts TFB samples from; None: the mode's default (see the module doc)
    tfb_thoughts: TfbThoughts | None = None
    repeat: int = PAPER_REPEAT
    gate: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")
        if self.ties not in ("drop", "previous"):
            raise ValueError(f"ties must be 'drop' or 'previous', not {self.ties!r}")
        if self.tfb_mode not in ("faithful", "clean"):
            raise ValueError(f"tfb_mode must be 'faithful' or 'clean', not {self.tfb_mode!r}")
        if self.tfb_thoughts is None:
            object.__setattr__(self, "tfb_thoughts", DEFAULT_TFB_THOUGHTS[self.tfb_mode])
        elif self.tfb_thoughts not in TFB_THOUGHTS:
            raise ValueError(
                f"tfb_thoughts must be one of {TFB_THOUGHTS}, not {self.tfb_thoughts!r}"
            )
        if self.repeat < 1:
            raise ValueError("repeat must be at least 1")


@dataclass
class BuildResult:
    """The records and the counts that explain them."""

    records: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


def _probe_value(scores: dict[str, Any], probe: str) -> Any:
    if probe in scores:
        return scores[probe]
    for name, value in scores.items():
        if name.rsplit("/", 1)[-1] == probe:
            return value
    return None


def _check_gate_probes(logs: Sequence[SelfPlayLog], gate: Iterable[str]) -> None:
    for probe in gate:
        for log in logs:
            if not any(_probe_value(r.scores, probe) is not None for r in log.rounds):
                raise SelfPlayLogError(
                    f"--gate {probe}: {log.path} has no {probe!r} scores. Score the log first: "
                    f"inspect score {log.path} --scorer moloch_eval/{probe} "
                    "--model-role judge=<judge model>"
                )


def _flagged(item: Round, gate: Sequence[str]) -> tuple[str | None, bool]:
    """The first probe that flags the winner, and whether a verdict was missing."""
    for probe in gate:
        value = _probe_value(item.scores, probe)
        verdict = value.get(item.winner) if isinstance(value, dict) and item.winner else None
        if not isinstance(verdict, int | float):
            return probe, True
        if verdict >= 0.5:
            return probe, False
    return None, False


def _rft_record(log: SelfPlayLog, item: Round, method: Method, duplicate: bool) -> dict[str, Any]:
    assert item.winner is not None
    winner = item.record(item.winner)
    assert winner is not None
    return {
        "prompt": item.prompt,
        "completion": [{"role": "assistant", "content": winner.generation}],
        "meta": {
            "kind": "rft",
            "method": method,
            "domain": item.domain,
            "model": log.model,
            "log": Path(item.log).name,
            "sample_id": item.sample_id,
            "epoch": item.epoch,
            "side": item.winner,
            "votes": {k: item.counts.get(k, 0) for k in ("agent", "opponent", "invalid")},
            "tie_duplicate": duplicate,
        },
    }


def build_records(logs: Sequence[SelfPlayLog], options: BuildOptions) -> BuildResult:
    """Select winners and build the records of `options.method` (see the module docstring)."""
    if not logs:
        raise SelfPlayLogError("No self-play logs to build from.")
    gate = tuple(options.gate)
    _check_gate_probes(logs, gate)
    if options.method == "tfb" and any(log.audience_mode != "think" for log in logs):
        modes = sorted({log.audience_mode for log in logs})
        raise SelfPlayLogError(
            f"TFB needs the voters' thoughts, but the audience voted in {modes} mode. Collect "
            "self-play data with -T audience_mode=think, or build --method rft."
        )

    source = options.tfb_thoughts
    assert source is not None  # resolved by BuildOptions
    mode = options.tfb_mode
    invalid: Counter[str] = Counter({reason: 0 for reason in INVALID_REASONS})
    gated: Counter[str] = Counter({probe: 0 for probe in gate})
    sides: Counter[str] = Counter({"agent": 0, "opponent": 0})
    ties = ties_duplicated = gate_no_verdict = rounds = winners = 0
    examples: list[dict[str, Any]] = []
    pool: list[tuple[SelfPlayLog, Round, int]] = []
    pool_sources: Counter[str] = Counter()

    def take_thoughts(log: SelfPlayLog, item: Round, gated_out: bool = False) -> None:
        found = thought_pool(log, item, mode, source)
        pool.extend(found)
        if found:
            pool_sources[thought_source(item, gated_out)] += len(found)

    for log in logs:
        for item in log.rounds:
            rounds += 1
            if item.status == "invalid":
                invalid[item.reason or "unknown"] += 1
                if source == "all":
                    take_thoughts(log, item)
                continue
            if item.status == "tie":
                ties += 1
                take_thoughts(log, item)
                if options.ties == "previous" and examples:
                    copy = json.loads(json.dumps(examples[-1]))
                    copy["meta"]["tie_duplicate"] = True
                    copy["meta"]["tie_sample_id"] = item.sample_id
                    examples.append(copy)
                    ties_duplicated += 1
                continue
            winners += 1
            probe, missing = _flagged(item, gate)
            if probe is not None:
                if missing:
                    gate_no_verdict += 1
                else:
                    gated[probe] += 1
                if source == "all":
                    take_thoughts(log, item, gated_out=True)
                continue
            assert item.winner is not None
            sides[item.winner] += 1
            take_thoughts(log, item)
            examples.append(_rft_record(log, item, options.method, duplicate=False))

    rng = random.Random(options.seed)
    rft = [json.loads(json.dumps(r)) for _ in range(options.repeat) for r in examples]
    rng.shuffle(rft)
    records = list(rft)
    thoughts: list[dict[str, Any]] = []
    votes_in_logs, thoughts_in_logs = count_thoughts(logs)
    if options.method == "tfb":
        if not pool:
            raise SelfPlayLogError(no_thoughts_error(logs, votes_in_logs, thoughts_in_logs))
        personas = voter_personas(logs) if mode == "clean" else {}
        rng.shuffle(pool)
        chosen = pool[: len(rft)]
        thoughts = [thought_record(log, item, index, mode, personas) for log, item, index in chosen]
        records = thoughts + rft
        rng.shuffle(records)

    summary: dict[str, Any] = {
        "method": options.method,
        "domain": logs[0].domain,
        "models": sorted({log.model for log in logs}),
        "logs": [
            {"path": str(Path(log.path).resolve()), "samples": len(log.rounds)} for log in logs
        ],
        "options": {
            "ties": options.ties,
            "tfb_mode": options.tfb_mode if options.method == "tfb" else None,
            "tfb_thoughts": source if options.method == "tfb" else None,
            "repeat": options.repeat,
            "gate": list(gate),
            "seed": options.seed,
        },
        "rounds": rounds,
        "winners": winners,
        "winner_sides": dict(sides),
        "ties": ties,
        "ties_duplicated": ties_duplicated,
        "ties_dropped": ties - ties_duplicated,
        "invalid": sum(invalid.values()),
        "invalid_reasons": dict(invalid),
        "gated": dict(gated),
        "gate_no_verdict": gate_no_verdict,
        "rft_examples": len(examples),
        "rft_records": len(rft),
        "votes": votes_in_logs,
        "thoughts_in_logs": thoughts_in_logs,
        "thoughts_available": len(pool),
        "thought_sources": dict(pool_sources),
        "thoughts_with_invalid_vote": sum(1 for _, r, i in pool if not r.votes[i].valid),
        "thought_records": len(thoughts),
        "thoughts_short": options.method == "tfb" and len(pool) < len(rft),
        "records": len(records),
    }
    return BuildResult(records=records, summary=summary)


def build_dataset(
    logs: Sequence[str | Path], output: str | Path, options: BuildOptions
) -> BuildResult:
    """Read self-play logs, build the records, write FILE.jsonl and FILE.jsonl.summary.json.

    An empty result (no winner survives) is an error, never an empty file.
    """
    parsed = read_self_play_logs(list(logs))
    result = build_records(parsed, options)
    if not result.records:
        raise SelfPlayLogError(
            "No training records: "
            + describe(result.summary).replace("\n", "; ")
            + ". Collect more self-play data (more anchors or voters)."
        )
    path = write_jsonl(result.records, output)
    for entry, log in zip(result.summary["logs"], parsed, strict=True):
        entry["sha256"] = sha256_file(log.path)
    result.summary["file"] = str(path.resolve())
    result.summary["sha256"] = sha256_file(path)
    summary_path(path).write_text(json.dumps(result.summary, indent=2) + "\n", encoding="utf-8")
    return result


def describe(summary: dict[str, Any]) -> str:
    """The build counts in a few lines for the terminal."""
    reasons = ", ".join(f"{k} {v}" for k, v in summary["invalid_reasons"].items() if v)
    lines = [
        f"anchors (rounds): {summary['rounds']} in {len(summary['logs'])} log(s), "
        f"domain {summary['domain']}",
        f"winners: {summary['winners']} (agent {summary['winner_sides'].get('agent', 0)}, "
        f"opponent {summary['winner_sides'].get('opponent', 0)} kept)",
        f"ties: {summary['ties']} ({summary['ties_dropped']} dropped, "
        f"{summary['ties_duplicated']} duplicated the previous winner)",
        f"invalid samples: {summary['invalid']}" + (f" ({reasons})" if reasons else ""),
    ]
    if summary["options"]["gate"]:
        gated = ", ".join(f"{k} {v}" for k, v in summary["gated"].items())
        lines.append(f"gated out: {gated}; no verdict (dropped): {summary['gate_no_verdict']}")
    lines.append(
        f"records: {summary['records']} = {summary['rft_records']} RFT "
        f"({summary['rft_examples']} winners x {summary['options']['repeat']})"
        + (
            f" + {summary['thought_records']} audience-thought "
            f"(of {summary['thoughts_available']} available)"
            if summary["method"] == "tfb"
            else ""
        )
    )
    if summary["method"] == "tfb":
        pool = summary["options"]["tfb_thoughts"]
        where = "every round, parsed vote or not" if pool == "all" else "kept rounds and ties"
        sources = ", ".join(f"{k} {v}" for k, v in summary["thought_sources"].items())
        lines.append(
            f"audience thoughts: {summary['thoughts_in_logs']} in {summary['votes']} votes; "
            f"pool {summary['thoughts_available']} (--tfb-thoughts {pool}: {where}"
            + (f"; {sources}" if sources else "")
            + f"); {summary['options']['tfb_mode']} prompt"
        )
        if summary["thoughts_short"]:
            lines.append(
                f"note: only {summary['thoughts_available']} thoughts for "
                f"{summary['rft_records']} RFT records; all of them are used"
            )
    return "\n".join(lines)
