"""The whole leaderboard in one call: collect a log folder, write the tables, figures and page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moloch_eval.leaderboard.collect import collect
from moloch_eval.leaderboard.em import (
    EM_CSV,
    EM_FIGURE,
    EMBoard,
    collect_em,
    em_figure,
    em_html,
    em_markdown,
    merge_skipped,
    write_em_csv,
)
from moloch_eval.leaderboard.figures import write_figures
from moloch_eval.leaderboard.html import write_html
from moloch_eval.leaderboard.rows import Leaderboard
from moloch_eval.leaderboard.table import to_markdown, write_csv
from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES

MARKDOWN = "leaderboard.md"
CSV = "leaderboard.csv"
SKIPPED_CSV = "skipped.csv"
HTML = "leaderboard.html"


@dataclass
class Report:
    """The leaderboard and the files written for it."""

    board: Leaderboard
    markdown: Path
    csv: Path
    skipped_csv: Path
    html: Path
    figures: list[Path]
    #: the EM table (None: no EM log in the folder) and its files
    em: EMBoard | None = None
    em_csv: Path | None = None
    em_figure: Path | None = None

    @property
    def files(self) -> list[Path]:
        em = [p for p in (self.em_csv, self.em_figure) if p is not None]
        return [self.markdown, self.csv, self.skipped_csv, *self.figures, *em, self.html]

    def em_sections(self, notes: bool = True) -> list[str]:
        """The EM section of the Markdown (none when the folder has no EM row)."""
        if self.em is None or not self.em.rows:
            return []
        return [em_markdown(self.em, self.em_figure if notes else None, notes)]


def write_report(
    board: Leaderboard, out_dir: str | Path, figures: bool = True, em: EMBoard | None = None
) -> Report:
    """Write leaderboard.md, leaderboard.csv, skipped.csv, the two PNGs and leaderboard.html;
    with EM rows also em_leaderboard.csv and em_rates.png (and EM sections in the pages).
    A folder of EM logs only gets no competition figures."""
    import pandas as pd

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    has_em = em is not None and bool(em.rows)
    pngs = write_figures(board.rows, folder) if figures and (board.rows or not has_em) else []
    report = Report(
        board, folder / MARKDOWN, folder / CSV, folder / SKIPPED_CSV, folder / HTML, pngs
    )
    if em is not None and has_em:
        report.em = em
        report.em_csv = write_em_csv(em, folder / EM_CSV)
        report.em_figure = em_figure(em.rows, folder / EM_FIGURE) if figures else None
    report.markdown.write_text(to_markdown(board, pngs, report.em_sections()), encoding="utf-8")
    write_csv(board, report.csv)
    pd.DataFrame(
        [{"log": s.log, "reason": s.reason} for s in board.skipped], columns=["log", "reason"]
    ).to_csv(report.skipped_csv, index=False)
    html_sections = [em_html(report.em, report.em_figure)] if report.em is not None else []
    write_html(board, report.html, pngs, html_sections)
    return report


def leaderboard(
    log_dir: str | Path,
    out_dir: str | Path,
    bases: Sequence[str] | str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    figures: bool = True,
) -> Report:
    """Read `log_dir` (no model calls, no re-running) and write the report into `out_dir`.

    EM logs (the `moloch_eval/em_*` tasks) get their own table (`moloch_eval.leaderboard.em`)."""
    board = collect(log_dir, bases, resamples, seed)
    em = collect_em(log_dir, resamples, seed)
    merge_skipped(board, em)
    return write_report(board, out_dir, figures, em if em.seen else None)
