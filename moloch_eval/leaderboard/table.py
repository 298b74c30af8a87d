"""The leaderboard as a DataFrame (all numbers, for CSV) and as readable Markdown tables.

The CSV has one row per (domain, model) with every statistic in its own column; the Markdown
(printed to the terminal too) has one table per domain with compact cells such as
`0.600 [0.43, 0.77]` and `0.67 vs 0.33 → +100% [+20%, +300%]`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from moloch_eval.leaderboard.rows import Leaderboard, Row
from moloch_eval.probes import PROBES

PROBE_STATS = ("rate", "opponent_rate", "difference", "relative_increase")

#: what each CSV column means (also shown in the Markdown and HTML reports)
COLUMN_NOTES: dict[str, str] = {
    "share": "mean audience share of the evaluated model over pairs with a share "
    "(0.5 = parity with the base); 95% CI = mean ± 1.96 × standard error over anchors",
    "share_minus_half": "share − 0.5: the performance gain over the base",
    "<probe>_rate / _opponent_rate": "share of valid judgements that flag the evaluated / the "
    "base's message (both judged in the same run)",
    "<probe>_relative_increase": "(rate − opponent_rate) / opponent_rate, 95% CI from a paired "
    "bootstrap over anchors ({resamples:,} resamples, seed {seed}); absent when the base rate "
    "is 0",
    "misalignment_increase": "mean of the row's probes' relative increases (Figure 4's y), "
    "paired-bootstrap CI",
    "invalid_vote_rate": "invalid votes among all votes cast",
    "invalid_judgement_rate": "unparseable judgements among all judgements (pooled over probes)",
    "comparable": "false when the audience model or mode, persona set, judge model or mode, "
    "or prompt mode differs from the domain's reference (its majority)",
    "log / n_logs / logs": "the row's log; a row merged from the logs of one configuration "
    "(e.g. the sample-range shards of one run): the newest of them, how many, and all of them",
}


def column_notes(board: Leaderboard) -> dict[str, str]:
    """COLUMN_NOTES with this leaderboard's bootstrap settings filled in."""
    return {
        k: v.format(resamples=board.resamples, seed=board.seed) for k, v in COLUMN_NOTES.items()
    }


def probes_of(rows: Sequence[Row]) -> list[str]:
    """Probe names present in the rows, in the project's probe order."""
    present = {p for r in rows for p in r.probes}
    return [p for p in PROBES if p in present]


def _get(stats: dict[str, float], key: str) -> float:
    return stats.get(key, math.nan)


def to_frame(board: Leaderboard) -> pd.DataFrame:
    """Every row with every statistic (NaN where undefined or not measured)."""
    probes = probes_of(board.rows)
    records: list[dict[str, Any]] = []
    for row in board.rows:
        c = row.conditions
        record: dict[str, Any] = {
            "domain": row.domain,
            "model": row.model,
            "method": row.method,
            "base": row.base,
            "opponent": row.opponent,
            "n_samples": row.n_samples,
            "n_shares": row.share.n,
            "share": row.share.mean,
            "share_ci_low": row.share.ci_low,
            "share_ci_high": row.share.ci_high,
            "share_stderr": row.share.stderr,
            "share_minus_half": row.share.gain,
            "invalid_vote_rate": row.invalid_vote_rate,
            "position_a_rate": row.position_a_rate,
            "invalid_message_rate": row.invalid_message_rate,
            "opponent_invalid_message_rate": row.opponent_invalid_message_rate,
        }
        for probe in probes:
            stats = row.probes.get(probe, {})
            for stat in PROBE_STATS:
                for suffix in ("", "_ci_low", "_ci_high"):
                    record[f"{probe}_{stat}{suffix}"] = _get(stats, stat + suffix)
            record[f"{probe}_invalid_judgement_rate"] = _get(stats, "invalid_judgement_rate")
        for suffix in ("", "_ci_low", "_ci_high"):
            record[f"misalignment_increase{suffix}"] = _get(
                row.misalignment, f"mean_relative_increase{suffix}"
            )
        record.update(
            {
                "invalid_judgement_rate": row.invalid_judgement_rate,
                "audience_model": c.audience_model,
                "audience_mode": c.audience_mode,
                "personas": c.personas,
                "judge_model": c.judge_model,
                "judge_mode": c.judge_mode,
                "judge_prompts": c.judge_prompts,
                "faithful": c.faithful,
                "anchors": c.anchors,
                "comparable": row.comparable,
                "not_comparable_because": "; ".join(row.not_comparable.values()),
                "notes": "; ".join(row.notes),
                "log": row.log,
                "n_logs": row.n_logs,
                "logs": "; ".join(row.logs or [row.log]),
            }
        )
        records.append(record)
    return pd.DataFrame.from_records(records)


def write_csv(board: Leaderboard, path: str | Path) -> Path:
    """The full table as CSV (one row per domain and model)."""
    out = Path(path)
    to_frame(board).to_csv(out, index=False)
    return out


# -- readable cells ---------------------------------------------------------------------------


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def fmt_n(n: int, logs: int) -> str:
    """A sample count, with the number of logs it was merged from: "64" or "64 (2 logs)"."""
    return f"{n} ({logs} logs)" if logs > 1 else str(n)


def fmt_share(row: Row) -> str:
    s = row.share
    if not _finite(s.mean):
        return "n/a"
    return f"{s.mean:.3f} [{s.ci_low:.2f}, {s.ci_high:.2f}]"


def fmt_signed(value: float, digits: int = 3) -> str:
    return f"{value:+.{digits}f}" if _finite(value) else "n/a"


def fmt_percent(value: float | None, signed: bool = True) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:+.0f}%" if signed else f"{value * 100:.1f}%"


def fmt_probe(stats: dict[str, float] | None) -> str:
    """`rate vs base rate → relative increase [CI]`, e.g. `0.67 vs 0.33 → +100% [+20%, +300%]`."""
    if not stats or "rate" not in stats:
        return ""
    rate, base = stats["rate"], stats.get("opponent_rate")
    head = f"{rate:.2f} vs {base:.2f}" if base is not None else f"{rate:.2f} vs n/a"
    rel = stats.get("relative_increase")
    if rel is None:
        why = "base rate 0" if base == 0 else "undefined"
        return f"{head} → n/a ({why})"
    low, high = stats.get("relative_increase_ci_low"), stats.get("relative_increase_ci_high")
    ci = f" [{fmt_percent(low)}, {fmt_percent(high)}]" if low is not None else ""
    return f"{head} → {fmt_percent(rel)}{ci}"


def _mark(text: str, flagged: bool) -> str:
    return f"⚠ {text}" if flagged else text


def display_rows(rows: Sequence[Row]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of one domain's readable table."""
    probes = probes_of(rows)
    headers = [
        "model",
        "method",
        "opponent",
        "n",
        "share [95% CI]",
        "share − 0.5",
        *[f"{p}: rate vs base → rel. increase [95% CI]" for p in probes],
        "invalid votes",
        "invalid judgements",
        "audience",
        "judge",
        "personas",
        "comparable",
    ]
    cells: list[list[str]] = []
    for row in rows:
        c = row.conditions
        differs = row.not_comparable
        cells.append(
            [
                row.model,
                row.method,
                row.opponent.split(" of ", 1)[0],  # "replay of FILE": the file is in the CSV
                fmt_n(row.n_samples, row.n_logs),
                fmt_share(row),
                fmt_signed(row.share.gain),
                *[fmt_probe(row.probes.get(p)) for p in probes],
                fmt_percent(row.invalid_vote_rate, signed=False),
                fmt_percent(row.invalid_judgement_rate, signed=False),
                _mark(
                    f"{c.audience_model} ({c.audience_mode})",
                    "audience_model" in differs or "audience_mode" in differs,
                ),
                _mark(
                    f"{c.judge_model} ({c.judge_mode})",
                    "judge_model" in differs or "judge_mode" in differs,
                ),
                _mark(c.personas, "personas" in differs),
                "yes" if row.comparable else "NO: " + "; ".join(row.not_comparable.values()),
            ]
        )
    return headers, cells


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table with padded columns (readable as plain text too)."""
    table = [[_escape(h) for h in headers], *[[_escape(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(table[0]), rule, *(line(r) for r in table[1:])])


def domains_of(board: Leaderboard) -> list[str]:
    return list(dict.fromkeys(r.domain for r in board.rows))


def to_markdown(
    board: Leaderboard, figures: Sequence[str | Path] = (), sections: Sequence[str] = ()
) -> str:
    """The report as Markdown: one table per domain, notes, further `sections` (e.g. the EM
    table), skipped logs, column notes."""
    out = [
        "# moloch_eval leaderboard",
        "",
        f"Logs: `{board.log_dir}` · base(s): `{', '.join(board.bases) or 'none'}` · "
        f"{len(board.rows)} row(s), {len(board.skipped)} log(s) skipped",
        "",
    ]
    for note in board.notes:
        out.append(f"> {note}")
    if board.notes:
        out.append("")
    for domain in domains_of(board):
        headers, cells = display_rows([r for r in board.rows if r.domain == domain])
        out += [f"## {domain}", "", markdown_table(headers, cells), ""]
    if not board.rows and not sections:
        out += ["No complete competition log against a base was found.", ""]
    for figure in figures:
        name = Path(figure).name
        out += [f"![{name}]({name})", ""]
    out += list(sections)
    out += skipped_markdown(board)
    out += ["## Columns", ""]
    out += [f"- `{name}`: {text}" for name, text in column_notes(board).items()]
    return "\n".join(out) + "\n"


def skipped_markdown(board: Leaderboard) -> list[str]:
    if not board.skipped:
        return ["Skipped: none.", ""]
    rows = [[Path(s.log).name, s.reason] for s in board.skipped]
    return ["## Skipped logs", "", markdown_table(["log", "reason"], rows), ""]


def to_terminal(board: Leaderboard, sections: Sequence[str] = ()) -> str:
    """What `moloch-eval leaderboard` prints: the Markdown without the column notes."""
    return to_markdown(board, sections=sections).split("## Columns", 1)[0].rstrip() + "\n"
