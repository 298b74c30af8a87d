"""Read a folder of competition logs into leaderboard rows, and say what was skipped and why.

Headers are read first; samples only of logs that finished successfully. Nothing is re-run.

- One row per complete test-split log: the evaluated model against its opponent in one domain.
- The *base* of a row is its opponent's model: the evaluated model itself for `opponent=self`,
  the model bound to the `opponent` role, or the evaluated model of the replayed log (read
  from that log, found by path or by file name in the folder, else from the messages).
- Every opponent is a base (so Qwen and Llama families each face their own base). A model
  that faced several keeps the row against the base most other models faced; `--base`
  (repeatable) restricts the leaderboard to the given bases. The rest is skipped (listed).
- Two logs of the same (domain, model, base, conditions) are not pooled: the newer one is
  kept and the older one is listed as superseded.
- Conditions (audience model and mode, persona set, judge model, mode and prompts, faithful
  prompts, anchor split and cleaning) are compared with the domain's majority (ties go to the
  base's own row); a row that differs is kept and marked not comparable, never mixed silently.
- Method: "base" for the base itself; else the `method` of the project's adapter manifest
  (`$MOLOCH_EVAL_MODELS_DIR/<name>/manifest.json`, default `models/`) when the model's last
  name part is such an adapter; else "RFT"/"TFB" when the model name has an `rft`/`tfb` part
  (e.g. `vllm/qwen3-8b-rft`, `moloch/llama-tfb-sales`); else "—".
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, EvalSample, list_eval_logs, read_eval_log

from moloch_eval.domains import DOMAINS
from moloch_eval.leaderboard.stats import (
    ShareStats,
    Verdicts,
    mean_relative_increase,
    probe_stats,
    share_stats,
)
from moloch_eval.probes import PROBES
from moloch_eval.records import competition_of
from moloch_eval.roles import PAPER_JUDGE, PAPER_VOTER
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES

#: the paper's order: sales, elections, social_media
DOMAIN_ORDER = tuple(DOMAINS)
NO_JUDGE = "—"
#: where the project's adapters live (as the training module places them)
MODELS_DIR_ENV = "MOLOCH_EVAL_MODELS_DIR"
_METHOD = re.compile(r"(?:^|[-_./:])(rft|tfb)(?=$|[-_./:])", re.IGNORECASE)


@dataclass(frozen=True)
class Conditions:
    """What a row's numbers depend on besides the two models."""

    audience_model: str
    audience_mode: str
    persona_set: str
    persona_ids: tuple[str, ...]
    judge_model: str
    judge_mode: str
    faithful: bool
    #: the judge's wording: "paper" or "project" (logs from before the choice: "project")
    judge_prompts: str = "project"
    #: which anchors: "<anchor_split>/<raw|clean>" (older logs: "published/clean")
    anchors: str = "published/clean"

    @property
    def personas(self) -> str:
        """The persona set as shown in the table, e.g. "split1 (20)"."""
        return f"{self.persona_set} ({len(self.persona_ids)})"

    def differences(self, reference: Conditions) -> dict[str, str]:
        """Differences from a reference by field, e.g. {"audience_model": "audience model X
        (reference: Y)"}; the persona set is one field, "personas"."""
        out: dict[str, str] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(reference, f.name)
            if mine == theirs or f.name == "persona_set":
                continue
            name, label = f.name, f.name.replace("_", " ")
            if f.name == "persona_ids":
                name, label, mine, theirs = (
                    "personas",
                    "persona set",
                    self.personas,
                    reference.personas,
                )
            out[name] = f"{label} {mine} (reference: {theirs})"
        return out


@dataclass
class Skipped:
    """A log that is not in the leaderboard, and why."""

    log: str
    reason: str


@dataclass
class Row:
    """The evaluated model against its base in one domain, from one complete log."""

    domain: str
    model: str
    base: str
    opponent: str
    conditions: Conditions
    n_samples: int
    share: ShareStats
    invalid_vote_rate: float
    position_a_rate: float
    invalid_message_rate: float
    opponent_invalid_message_rate: float
    #: per probe: `paired_rates` statistics plus invalid_judgement_rate and judgements
    probes: dict[str, dict[str, float]]
    #: mean over the row's probes of the relative increase, with its CI (may be empty)
    misalignment: dict[str, float]
    invalid_judgement_rate: float
    log: str
    created: str
    #: the log's completion time (microseconds): orders two logs created in one second
    completed: str = ""
    method: str = "—"
    notes: list[str] = field(default_factory=list)
    #: why the row is not comparable, by condition field (empty when it is)
    not_comparable: dict[str, str] = field(default_factory=dict)

    @property
    def comparable(self) -> bool:
        return not self.not_comparable

    @property
    def is_base(self) -> bool:
        return self.method == "base"


@dataclass
class Leaderboard:
    """Rows of complete logs against their bases, what was skipped, and notes for the reader."""

    log_dir: str
    bases: list[str]
    rows: list[Row]
    skipped: list[Skipped]
    notes: list[str] = field(default_factory=list)
    resamples: int = DEFAULT_RESAMPLES
    seed: int = 0


def adapter_manifest(model: str) -> dict[str, Any] | None:
    """The manifest of the project's adapter named like the model, if any.

    Adapters live in `$MOLOCH_EVAL_MODELS_DIR/<NAME>/manifest.json` (default `models/`); the
    adapter name is the last part of the model name (e.g. `moloch/qwen3-8b-sales` → NAME
    `qwen3-8b-sales`).
    """
    root = Path(os.environ.get(MODELS_DIR_ENV) or "models").expanduser()
    path = root / model.rsplit("/", 1)[-1] / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def manifest_method(model: str) -> str | None:
    """The method in the manifest of the project's adapter named like the model, if any."""
    method = (adapter_manifest(model) or {}).get("method")
    return str(method).upper() if method else None


def manifest_lineage(model: str) -> str:
    """The lineage of the model's adapter manifest in one line (`lineage_text`); "" without."""
    from moloch_eval.training.adapters import lineage_text

    return lineage_text(adapter_manifest(model) or {})


def method_of(model: str, base: str | None) -> str:
    """The method of a row: "base" for the base itself, else the adapter manifest's method,
    else "RFT"/"TFB" from an `rft`/`tfb` part of the model name, else "—"."""
    if base is not None and same_model(model, base):
        return "base"
    from_manifest = manifest_method(model)
    if from_manifest:
        return from_manifest
    found = _METHOD.findall(model)
    return found[-1].upper() if found else "—"


def same_model(a: str, b: str) -> bool:
    """Equal names, or equal once a provider prefix is dropped from one of them."""
    return a == b or a.split("/", 1)[-1] == b or b.split("/", 1)[-1] == a


def _local(location: str) -> str:
    return location.removeprefix("file://")


def _first_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def _role_name(log: EvalLog, role: str) -> str | None:
    roles = log.eval.model_roles or {}
    bound = roles.get(role)
    if bound is None:
        return None
    if isinstance(bound, list):
        return ", ".join(m.model for m in bound)
    return bound.model


def _status_problem(log: EvalLog) -> str | None:
    """Why a log is not complete, or None when it finished successfully."""
    if log.status == "success":
        return None
    results = log.results
    progress = (
        f" after {results.completed_samples} of {results.total_samples} samples"
        if results is not None
        else ""
    )
    if log.status == "error":
        detail = _first_line(log.error.message if log.error else None)
        return f"failed{progress}" + (f": {detail}" if detail else "")
    if log.status == "cancelled":
        return f"cancelled{progress} (partial)"
    return f"incomplete (status '{log.status}': still running, or stopped before it finished)"


def _not_competition(log: EvalLog) -> str | None:
    meta = log.eval.metadata or {}
    domain = meta.get("domain")
    if domain not in DOMAINS or "opponent" not in meta or "personas" not in meta:
        return f"not a moloch_eval competition log (task {log.eval.task})"
    if log.eval.task.split("/")[-1] != domain:
        return f"not a moloch_eval competition log (task {log.eval.task})"
    return None


@dataclass
class _Anchor:
    """Per-anchor values of one log (epochs pooled)."""

    shares: list[float] = field(default_factory=list)
    valid_votes: float = 0.0
    invalid_votes: float = 0.0
    position_a_votes: float = 0.0
    agent_valid: list[float] = field(default_factory=list)
    opponent_valid: list[float] = field(default_factory=list)
    verdicts: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    judgements: Counter[str] = field(default_factory=Counter)
    invalid_judgements: Counter[str] = field(default_factory=Counter)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _anchors(samples: Iterable[EvalSample]) -> tuple[dict[str, _Anchor], int, Counter[str]]:
    """Per-anchor values by sample id, errored or unscored samples, opponent record models."""
    anchors: dict[str, _Anchor] = {}
    left_out = 0
    opponents: Counter[str] = Counter()
    for sample in samples:
        scores = sample.scores or {}
        share_score = scores.get("audience_share")
        if sample.error is not None or share_score is None:
            left_out += 1
            continue
        anchor = anchors.setdefault(str(sample.id), _Anchor())
        value = share_score.value if isinstance(share_score.value, dict) else {}
        share = _number(value.get("share"))
        if share is not None:
            anchor.shares.append(share)
        anchor.valid_votes += _number(value.get("valid_votes")) or 0.0
        anchor.invalid_votes += _number(value.get("invalid_votes")) or 0.0
        anchor.position_a_votes += _number(value.get("position_a_votes")) or 0.0
        anchor.agent_valid.append(_number(value.get("agent_valid")) or 0.0)
        anchor.opponent_valid.append(_number(value.get("opponent_valid")) or 0.0)
        for name, score in scores.items():
            if name not in PROBES or not isinstance(score.value, dict):
                continue
            sides = anchor.verdicts.setdefault(name, {"agent": [], "opponent": []})
            for side, verdicts in sides.items():
                verdict = _number(score.value.get(side))
                if verdict is not None:
                    verdicts.append(verdict)
            anchor.judgements[name] += int(_number(score.value.get("judgements")) or 0)
            anchor.invalid_judgements[name] += int(
                _number(score.value.get("invalid_judgements")) or 0
            )
        record = competition_of(sample).opponent
        if record is not None:
            opponents[record.model] += 1
    return anchors, left_out, opponents


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _base_of(
    log: EvalLog, opponents: Counter[str], models_by_file: dict[str, str]
) -> tuple[str, str]:
    """(base model, opponent description) of a competition log."""
    opponent = str((log.eval.metadata or {}).get("opponent"))
    recorded = opponents.most_common(1)[0][0] if opponents else "unknown"
    if opponent == "self":
        return log.eval.model, "self"
    if opponent == "role":
        return _role_name(log, "opponent") or recorded, "role"
    path = Path(_local(opponent))
    if path.name not in models_by_file and path.is_file():
        with contextlib.suppress(Exception):
            models_by_file[path.name] = read_eval_log(str(path), header_only=True).eval.model
    return models_by_file.get(path.name, recorded), f"replay of {path.name}"


def _conditions(log: EvalLog) -> Conditions:
    meta = log.eval.metadata or {}
    probes = meta.get("probes") or []
    judge = (_role_name(log, "judge") or PAPER_JUDGE) if probes else NO_JUDGE
    return Conditions(
        audience_model=_role_name(log, "audience") or PAPER_VOTER,
        audience_mode=str(meta.get("audience_mode", "think")),
        persona_set=str(meta.get("audience", "?")),
        persona_ids=tuple(str(p) for p in meta.get("personas") or ()),
        judge_model=judge,
        judge_mode=str(meta.get("judge_mode", "think")) if probes else NO_JUDGE,
        faithful=bool(meta.get("faithful", True)),
        judge_prompts=_judge_prompts(meta) if probes else NO_JUDGE,
        anchors=(
            f"{meta.get('anchor_split', 'published')}/"
            f"{'clean' if meta.get('clean_anchors', True) else 'raw'}"
        ),
    )


def _judge_prompts(meta: dict[str, Any]) -> str:
    setting = (meta.get("protocol") or {}).get("judge_prompts") or {}
    return str(setting.get("value", "project"))


def build_row(
    log: EvalLog,
    models_by_file: dict[str, str],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Row | str:
    """The row of one complete competition log (samples read), or why it has none."""
    meta = log.eval.metadata or {}
    anchors, left_out, opponents = _anchors(log.samples or [])
    if not anchors:
        return "no scored samples"
    ids = sorted(anchors)
    items = [anchors[i] for i in ids]
    shares = [s for a in items if (s := _mean(a.shares)) is not None]
    valid = sum(a.valid_votes for a in items)
    invalid = sum(a.invalid_votes for a in items)

    probe_names = [p for p in PROBES if any(p in a.verdicts for a in items)]
    probes: dict[str, dict[str, float]] = {}
    paired: list[tuple[Verdicts, Verdicts]] = []
    made = bad = 0
    for name in probe_names:
        mine = [_mean(a.verdicts.get(name, {}).get("agent", [])) for a in items]
        theirs = [_mean(a.verdicts.get(name, {}).get("opponent", [])) for a in items]
        paired.append((mine, theirs))
        stats = probe_stats(mine, theirs, resamples, seed)
        judgements = sum(a.judgements[name] for a in items)
        invalid_judgements = sum(a.invalid_judgements[name] for a in items)
        stats["judgements"] = judgements
        stats["invalid_judgement_rate"] = _ratio(invalid_judgements, judgements)
        probes[name] = stats
        made, bad = made + judgements, bad + invalid_judgements

    base, opponent = _base_of(log, opponents, models_by_file)
    notes = []
    if left_out:
        notes.append(f"{left_out} errored or unscored sample(s) left out")
    if len(shares) < len(items):
        notes.append(f"{len(items) - len(shares)} pair(s) without a share")
    return Row(
        domain=str(meta["domain"]),
        model=log.eval.model,
        base=base,
        opponent=opponent,
        conditions=_conditions(log),
        n_samples=len(items),
        share=share_stats(shares),
        invalid_vote_rate=_ratio(invalid, valid + invalid),
        position_a_rate=_ratio(sum(a.position_a_votes for a in items), valid),
        invalid_message_rate=1 - sum(_mean(a.agent_valid) or 0.0 for a in items) / len(items),
        opponent_invalid_message_rate=1
        - sum(_mean(a.opponent_valid) or 0.0 for a in items) / len(items),
        probes=probes,
        misalignment=mean_relative_increase(paired, resamples, seed),
        invalid_judgement_rate=_ratio(bad, made),
        log=_local(log.location),
        created=log.eval.created,
        completed=recency(log)[1],
        notes=notes,
    )


def recency(log: EvalLog) -> tuple[str, str]:
    """Sort key for "the newest log": created (to the second), then the completion time (to the
    microsecond), so two logs created in the same second are still ordered."""
    return log.eval.created, log.stats.completed_at or ""


def read_rows(
    log_dir: str | Path, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> tuple[list[Row], list[Skipped]]:
    """Rows of every complete competition log under `log_dir` (recursively), and the rest."""
    skipped: list[Skipped] = []
    headers: list[EvalLog] = []
    for info in list_eval_logs(str(log_dir), recursive=True, descending=False):
        name = _local(info.name)
        try:
            headers.append(read_eval_log(info.name, header_only=True))
        except Exception as ex:
            skipped.append(
                Skipped(name, f"unreadable ({type(ex).__name__}: {_first_line(str(ex))})")
            )
    models_by_file = {Path(_local(h.location)).name: h.eval.model for h in headers}

    rows: list[Row] = []
    for header in headers:
        name = _local(header.location)
        reason = _not_competition(header) or _status_problem(header)
        if reason is None and (header.eval.metadata or {}).get("split") != "test":
            reason = "train split (self-play data collection), not an evaluation"
        if reason is not None:
            skipped.append(Skipped(name, reason))
            continue
        try:
            log = read_eval_log(header.location)
        except Exception as ex:
            skipped.append(
                Skipped(name, f"unreadable ({type(ex).__name__}: {_first_line(str(ex))})")
            )
            continue
        row = build_row(log, models_by_file, resamples, seed)
        if isinstance(row, str):
            skipped.append(Skipped(name, row))
        else:
            rows.append(row)
    return canonical_bases(rows), skipped


def canonical_bases(rows: Sequence[Row]) -> list[Row]:
    """Name each base as the evaluated models are named where that is unambiguous.

    A base known only from its messages carries the provider's own name (e.g. "Qwen/Qwen3-8B"
    where the log says "vllm/Qwen/Qwen3-8B"); it is renamed when exactly one evaluated model
    of the folder matches it (see `same_model`).
    """
    known = {r.model for r in rows}
    for row in rows:
        if row.base not in known:
            matches = [m for m in known if same_model(m, row.base)]
            if len(matches) == 1:
                row.base = matches[0]
    return list(rows)


def choose_bases(
    rows: Sequence[Row], bases: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """The bases, most preferred first, and notes for the reader.

    Given bases are matched to the rows' opponents (a provider prefix may be left out) and
    only they count. Otherwise every opponent is a base, ranked by how many rows of other
    models face it (then by name): a model that faced several keeps its row against the
    highest-ranked one.
    """
    opponents = Counter(r.base for r in rows)
    tuned = Counter(r.base for r in rows if not same_model(r.model, r.base))
    ranked = sorted(opponents, key=lambda b: (-tuned[b], -opponents[b], b))
    if not bases:
        return ranked, []
    chosen: list[str] = []
    notes: list[str] = []
    for wanted in bases:
        matches = [b for b in ranked if same_model(b, wanted)]
        if not matches:
            known = ", ".join(ranked) or "none"
            notes.append(f"no complete log has the base {wanted} as opponent (opponents: {known})")
        chosen += [b for b in matches if b not in chosen]
    return chosen, notes


def _key(row: Row) -> tuple[str, str, str, Conditions]:
    return row.domain, row.model, row.base, row.conditions


def select(rows: Sequence[Row], bases: Sequence[str]) -> tuple[list[Row], list[Skipped], list[str]]:
    """One base per (domain, model) (the most preferred), the newest log per (domain, model,
    base, conditions); the rest skipped with reasons. Returns rows, skipped, notes."""
    preference = {b: i for i, b in enumerate(bases)}
    skipped: list[Skipped] = []
    notes: list[str] = []
    candidates = []
    for row in rows:
        if row.base in preference:
            candidates.append(row)
        else:
            chosen = ", ".join(bases) or "none"
            skipped.append(Skipped(row.log, f"opponent {row.base} is not a chosen base ({chosen})"))
    best: dict[tuple[str, str], str] = {}
    for row in sorted(candidates, key=lambda r: preference[r.base]):
        best.setdefault((row.domain, row.model), row.base)
    newest: dict[tuple[str, str, str, Conditions], Row] = {}
    for row in sorted(candidates, key=lambda r: (r.created, r.completed), reverse=True):
        preferred = best[row.domain, row.model]
        if row.base != preferred:
            skipped.append(
                Skipped(
                    row.log,
                    f"{row.model} also faced {preferred} in {row.domain}, which ranks first; "
                    f"this log's opponent is {row.base} (choose with --base)",
                )
            )
            continue
        kept = newest.setdefault(_key(row), row)
        if kept is not row:
            skipped.append(
                Skipped(
                    row.log,
                    f"superseded by the newer log {Path(kept.log).name} of the same model, "
                    "domain, base and conditions",
                )
            )
    if any("also faced" in s.reason for s in skipped):
        notes.append(
            "some models faced several bases; each keeps its row against the base faced by "
            "the most other models (choose with --base, which may be repeated)"
        )
    kept_rows = list(newest.values())
    for row in kept_rows:
        row.method = method_of(row.model, row.base)
    return sort_rows(kept_rows), skipped, notes


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    """Domain order of the paper, then by base: the base's own row first, then tuned models."""

    def key(row: Row) -> tuple[int, str, str, int, str, str]:
        domain = DOMAIN_ORDER.index(row.domain) if row.domain in DOMAIN_ORDER else 99
        return domain, row.domain, row.base, 0 if row.is_base else 1, row.model, row.created

    return sorted(rows, key=key)


def mark_comparability(rows: Sequence[Row]) -> None:
    """Mark rows whose conditions differ from their domain's reference.

    The reference is the most common conditions among the domain's rows; a tie goes to the
    base's own row, then to the first row in table order.
    """
    for domain in dict.fromkeys(r.domain for r in rows):
        group = [r for r in rows if r.domain == domain]
        counts = Counter(r.conditions for r in group)
        top = max(counts.values())
        candidates = [r.conditions for r in group if counts[r.conditions] == top]
        base_conditions = [r.conditions for r in group if r.is_base]
        reference = next((c for c in base_conditions if c in candidates), candidates[0])
        for row in group:
            row.not_comparable = row.conditions.differences(reference)


def collect(
    log_dir: str | Path,
    bases: Sequence[str] | str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Leaderboard:
    """The leaderboard of a log folder: rows against their bases, skipped logs with reasons."""
    wanted = [bases] if isinstance(bases, str) else list(bases or [])
    rows, skipped = read_rows(log_dir, resamples, seed)
    chosen, notes = choose_bases(rows, wanted)
    kept, dropped, more = select(rows, chosen)
    notes += more
    mark_comparability(kept)
    marked = [r for r in kept if not r.comparable]
    if marked:
        notes.append(
            f"{len(marked)} row(s) marked not comparable (conditions differ from their "
            "domain's reference); they are left out of the figures"
        )
    return Leaderboard(
        log_dir=str(log_dir),
        bases=[b for b in chosen if any(r.base == b for r in kept)] or chosen,
        rows=kept,
        skipped=skipped + dropped,
        notes=notes,
        resamples=resamples,
        seed=seed,
    )
