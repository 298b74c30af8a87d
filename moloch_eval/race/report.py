"""The race's per-round table and figure, in the leaderboard's formats (md, csv, png, html).

Every number is the leaderboard's own statistic of one log (`leaderboard.read.build_row`):
the audience share with its normal 95% CI, each probe's rate, the opponent's rate and the
relative increase with paired-bootstrap 95% CIs, and the mean relative increase over the
probes ("misalignment"). Each round has two rows of statistics: adapter r against the base's
replayed messages, and against round r−1's (for round 1 that is the base, the same log).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moloch_eval.leaderboard.read import build_row
from moloch_eval.leaderboard.rows import Leaderboard, Row
from moloch_eval.leaderboard.table import (
    fmt_percent,
    fmt_probe,
    fmt_share,
    markdown_table,
    probes_of,
)
from moloch_eval.race.config import RaceError
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES

if TYPE_CHECKING:
    from moloch_eval.race.config import RaceConfig

MARKDOWN, CSV, FIGURE, HTML = "race.md", "race.csv", "race.png", "race.html"
#: columns of a round's CSV row that describe the round, not one comparison
ROUND_COLUMNS = ("domain", "model", "method")

COLUMNS = {
    "share vs base": "adapter r's mean audience share against the base's replayed messages "
    "(0.5 = parity), 95% CI = mean ± 1.96 × standard error over anchors",
    "share vs previous round": "the same against adapter r−1's replayed messages (round 1: "
    "the base): does each round still beat the last?",
    "<probe> vs base": "rate of adapter r's messages vs the base's rate (same run) → relative "
    "increase (rate − base rate) / base rate, paired-bootstrap 95% CI over anchors",
    "misalignment": "mean relative increase over the probes (the leaderboard's Figure 4 y), "
    "against the base and against the previous round",
}


@dataclass(frozen=True)
class RoundLogs:
    """The evaluation logs of one round."""

    round: int
    model: str
    vs_base: Path
    vs_prev: Path


@dataclass(frozen=True)
class RoundRow:
    """One round's statistics: adapter r against the base and against round r−1."""

    round: int
    vs_base: Row
    vs_prev: Row


@dataclass
class RaceReport:
    """The rows and the files written for them."""

    rows: list[RoundRow]
    markdown: Path
    csv: Path
    figure: Path
    html: Path

    @property
    def files(self) -> list[Path]:
        return [self.markdown, self.csv, self.figure, self.html]


def _row(path: Path, method: str, resamples: int, seed: int) -> Row:
    from inspect_ai.log import read_eval_log

    row = build_row(read_eval_log(str(path)), {}, resamples, seed)
    if isinstance(row, str):
        raise RaceError(f"{path}: {row}; rerun the race after deleting that log.")
    row.method = method
    return row


def round_rows(
    rounds: Sequence[RoundLogs], method: str, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> list[RoundRow]:
    """The leaderboard rows of every round's two logs (round 1 reads one log once)."""
    out = []
    for r in rounds:
        vs_base = _row(r.vs_base, method.upper(), resamples, seed)
        vs_prev = (
            vs_base if r.vs_prev == r.vs_base else _row(r.vs_prev, method.upper(), resamples, seed)
        )
        out.append(RoundRow(r.round, vs_base, vs_prev))
    return out


def fmt_misalignment(row: Row) -> str:
    """Mean relative increase over the probes with its CI, e.g. ``+40% [+10%, +80%]``."""
    m = row.misalignment
    value = m.get("mean_relative_increase")
    if value is None or not math.isfinite(value):
        return "n/a"
    low, high = m.get("mean_relative_increase_ci_low"), m.get("mean_relative_increase_ci_high")
    ci = f" [{fmt_percent(low)}, {fmt_percent(high)}]" if low is not None else ""
    return f"{fmt_percent(value)}{ci}"


def table_cells(rows: Sequence[RoundRow]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the per-round table."""
    probes = probes_of([r.vs_base for r in rows])
    headers = [
        "round",
        "model",
        "n",
        "share vs base [95% CI]",
        "share vs previous round [95% CI]",
        *[f"{p} vs base: rate vs base → rel. increase [95% CI]" for p in probes],
        "misalignment vs base",
        "misalignment vs previous round",
    ]
    cells = [
        [
            str(r.round),
            r.vs_base.model,
            str(r.vs_base.n_samples),
            fmt_share(r.vs_base),
            fmt_share(r.vs_prev),
            *[fmt_probe(r.vs_base.probes.get(p)) or "n/a (not judged)" for p in probes],
            fmt_misalignment(r.vs_base),
            fmt_misalignment(r.vs_prev),
        ]
        for r in rows
    ]
    return headers, cells


def race_table(rows: Sequence[RoundRow]) -> str:
    """The per-round table as Markdown (readable as plain text)."""
    return markdown_table(*table_cells(rows))


def to_frame(rows: Sequence[RoundRow]) -> Any:
    """One CSV row per round: every leaderboard column, prefixed vs_base_ / vs_prev_."""
    import pandas as pd

    from moloch_eval.leaderboard import table

    def frame(side: list[Row], prefix: str) -> Any:
        data = table.to_frame(Leaderboard("", [], side, []))
        return data.drop(columns=list(ROUND_COLUMNS)).add_prefix(prefix)

    if not rows:
        return pd.DataFrame()
    head = pd.DataFrame(
        [{"round": r.round, **{c: getattr(r.vs_base, c) for c in ROUND_COLUMNS}} for r in rows]
    )
    parts = [
        head,
        frame([r.vs_base for r in rows], "vs_base_"),
        frame([r.vs_prev for r in rows], "vs_prev_"),
    ]
    return pd.concat(parts, axis=1)


def _errors(
    values: Sequence[float], lows: Sequence[float], highs: Sequence[float]
) -> list[list[float]]:
    """Error bar lengths below and above each value (0 where a bound is undefined)."""
    below = [v - lo if math.isfinite(lo) else 0.0 for v, lo in zip(values, lows, strict=True)]
    above = [h - v if math.isfinite(h) else 0.0 for v, h in zip(values, highs, strict=True)]
    return [[max(0.0, e) for e in below], [max(0.0, e) for e in above]]


def race_figure(rows: Sequence[RoundRow], path: str | Path, title: str) -> Path:
    """Share (vs base, vs the previous round) and misalignment (vs base) over the rounds."""
    from moloch_eval.leaderboard.figures import DPI, percent, plt

    out = Path(path)
    xs = [r.round for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for side, label, style, shift in (
        ("vs_base", "vs base", "-o", 0.0),
        ("vs_prev", "vs previous round", "--s", 0.06),
    ):
        stats = [getattr(r, side).share for r in rows]
        ys = [s.mean * 100 for s in stats]
        left.errorbar(
            [x + shift for x in xs],
            ys,
            yerr=_errors(ys, [s.ci_low * 100 for s in stats], [s.ci_high * 100 for s in stats]),
            fmt=style,
            capsize=4,
            label=label,
        )
    left.axhline(50, color="black", linewidth=0.8)
    left.set_ylim(-5, 105)
    left.set_ylabel("audience share of adapter r (%, 95% CI)")
    left.set_title("Does each round win more?", fontsize=11)
    series: list[tuple[str, list[dict[str, float]], str]] = [
        (p, [r.vs_base.probes.get(p, {}) for r in rows], ":^")
        for p in probes_of([r.vs_base for r in rows])
    ]
    series.append(
        (
            "mean over probes",
            [{k.replace("mean_", ""): v for k, v in r.vs_base.misalignment.items()} for r in rows],
            "-o",
        )
    )
    for name, stats_list, style in series:
        ys = [percent(s.get("relative_increase")) for s in stats_list]
        lows = [percent(s.get("relative_increase_ci_low")) for s in stats_list]
        highs = [percent(s.get("relative_increase_ci_high")) for s in stats_list]
        if all(math.isnan(y) for y in ys):
            continue
        right.errorbar(
            xs,
            ys,
            yerr=_errors(ys, lows, highs),
            fmt=style,
            capsize=4,
            label=name.replace("_", " "),
            linewidth=2 if style == "-o" else 1,
        )
    right.axhline(0, color="black", linewidth=0.8)
    right.set_ylabel("relative increase in probe rate vs base (%, 95% CI)")
    right.set_title("Does misalignment keep rising?", fontsize=11)
    for ax, at in ((left, 50), (right, 0)):
        ax.plot([0], [at], marker="D", color="#777777", linestyle="", label="base (round 0)")
        ax.set_xlabel("round r (adapter r trained on model r−1's self-play; 0 = the base)")
        ax.set_xticks([0, *xs])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
        if len(ax.get_legend_handles_labels()[0]) == 1:
            ax.text(
                0.5, 0.5, "n/a (no defined relative increase)", ha="center", transform=ax.transAxes
            )
    fig.suptitle(title, fontsize=12, fontweight="bold")
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out


def _title(config: RaceConfig) -> str:
    gate = f", gated by {', '.join(config.gate)}" if config.gate else ""
    start = "continuing the previous adapter" if config.continue_training else "from the base"
    # a local folder by its name (the state file and the logs keep the whole path)
    base = Path(config.base).name if Path(config.base).is_absolute() else config.base
    return (
        f"The race · {config.domain} · {config.method.upper()}{gate} · base {base} · "
        f"adapters trained {start}"
    )


def to_markdown(config: RaceConfig, rows: Sequence[RoundRow], figure: Path) -> str:
    logs = [
        f"- round {r.round}: vs base `{r.vs_base.log}`, vs previous round `{r.vs_prev.log}`"
        for r in rows
    ]
    return "\n".join(
        [
            f"# {_title(config)}",
            "",
            race_table(rows),
            "",
            f"![{figure.name}]({figure.name})",
            "",
            "## Columns",
            "",
            *[f"- {k}: {v}" for k, v in COLUMNS.items()],
            "",
            "## Logs",
            "",
            *logs,
            "",
        ]
    )


def to_html(config: RaceConfig, rows: Sequence[RoundRow], figure: Path) -> str:
    from moloch_eval.leaderboard.html import STYLE, html_image, html_table

    headers, cells = table_cells(rows)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                f"<title>{escape(_title(config))}</title>",
                f"<style>{STYLE}</style></head><body>",
                f"<h1>{escape(_title(config))}</h1>",
                f'<p class="meta">race <code>{escape(config.name)}</code> · {len(rows)} round(s) · '
                f"generated {when}</p>",
                html_table(headers, cells, [""] * len(cells)),
                html_image(figure),
                "<h2>Columns</h2><ul>",
                *[f"<li>{escape(k)}: {escape(v)}</li>" for k, v in COLUMNS.items()],
                "</ul><p>The full numbers are in race.csv.</p></body></html>",
            ]
        )
        + "\n"
    )


def write_race_report(
    config: RaceConfig,
    rounds: Sequence[RoundLogs],
    out_dir: str | Path,
    resamples: int = DEFAULT_RESAMPLES,
) -> RaceReport:
    """Read the rounds' logs and write race.md, race.csv, race.png and race.html."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows = round_rows(rounds, config.method, resamples)
    report = RaceReport(rows, folder / MARKDOWN, folder / CSV, folder / FIGURE, folder / HTML)
    race_figure(rows, report.figure, _title(config))
    to_frame(rows).to_csv(report.csv, index=False)
    report.markdown.write_text(to_markdown(config, rows, report.figure), encoding="utf-8")
    report.html.write_text(to_html(config, rows, report.figure), encoding="utf-8")
    return report
