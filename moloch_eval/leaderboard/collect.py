"""A folder of competition logs → the leaderboard: the rows against their bases, one log per
kind, comparability marks, and what was skipped and why (nothing is re-run).

One log → one row is `leaderboard.read` (one row per complete test-split log: the evaluated
model against its opponent, the *base*, in one domain); the records are `leaderboard.rows`, a
row's method `leaderboard.method`. Their public names are importable from here as well.

- Every opponent is a base (so Qwen and Llama families each face their own base). A model
  that faced several keeps the row against the base most other models faced; `--base`
  (repeatable) restricts the leaderboard to the given bases. The rest is skipped (listed).
- Logs of one configuration (the same task, arguments, models and result-affecting eval
  settings; `leaderboard.merge`), such as the sample-range shards of one run written into one
  folder, are merged into one row over the union of their samples, the newest log winning
  where sample ids overlap; a log left with no sample of its own is superseded. Otherwise two
  logs of the same (domain, model, base, conditions) are not pooled: the newer one is kept
  and the older one is listed as superseded.
- Conditions (audience model and mode, persona set, judge model, mode and prompts, faithful
  prompts, anchor split and cleaning) are compared with the domain's majority (ties go to the
  base's own row); a row that differs is kept and marked not comparable, never mixed silently.
- Method: "base" for the base itself; else the `method` of the project's adapter manifest
  (`$MOLOCH_EVAL_MODELS_DIR/<name>/manifest.json`, default `models/`) when the model's last
  name part is such an adapter; else "RFT"/"TFB" when the model name has an `rft`/`tfb` part
  (e.g. `vllm/qwen3-8b-rft`, `moloch/llama-tfb-sales`); else "—".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from moloch_eval.domains import DOMAINS
from moloch_eval.leaderboard.logs import recency
from moloch_eval.leaderboard.method import (
    MODELS_DIR_ENV,
    adapter_manifest,
    manifest_lineage,
    manifest_method,
    method_of,
    same_model,
)
from moloch_eval.leaderboard.read import NO_JUDGE, build_row, canonical_bases, read_rows
from moloch_eval.leaderboard.rows import Conditions, Leaderboard, Row, Skipped
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES

__all__ = [
    "DOMAIN_ORDER",
    "MODELS_DIR_ENV",
    "NO_JUDGE",
    "Conditions",
    "Leaderboard",
    "Row",
    "Skipped",
    "adapter_manifest",
    "build_row",
    "canonical_bases",
    "choose_bases",
    "collect",
    "manifest_lineage",
    "manifest_method",
    "mark_comparability",
    "method_of",
    "read_rows",
    "recency",
    "same_model",
    "select",
    "sort_rows",
]

#: the paper's order: sales, elections, social_media
DOMAIN_ORDER = tuple(DOMAINS)


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
    merged = [r for r in kept if r.n_logs > 1]
    if merged:
        notes.append(
            f"{len(merged)} row(s) merged from several logs of one configuration (sample "
            "ranges of one run; newest log wins where sample ids overlap): "
            + ", ".join(f"{r.domain} {r.model} ({r.n_logs} logs)" for r in merged)
        )
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
