"""The whole leaderboard in one call: collect a log folder, write the tables, figures and page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moloch_eval.leaderboard.collect import Leaderboard, collect
from moloch_eval.leaderboard.figures import write_figures
from moloch_eval.leaderboard.html import write_html
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

    @property
    def files(self) -> list[Path]:
        return [self.markdown, self.csv, self.skipped_csv, *self.figures, self.html]


def write_report(board: Leaderboard, out_dir: str | Path, figures: bool = True) -> Report:
    """Write leaderboard.md, leaderboard.csv, skipped.csv, the two PNGs and leaderboard.html."""
    import pandas as pd

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pngs = write_figures(board.rows, folder) if figures else []
    markdown = folder / MARKDOWN
    markdown.write_text(to_markdown(board, pngs), encoding="utf-8")
    csv = write_csv(board, folder / CSV)
    skipped_csv = folder / SKIPPED_CSV
    pd.DataFrame(
        [{"log": s.log, "reason": s.reason} for s in board.skipped], columns=["log", "reason"]
    ).to_csv(skipped_csv, index=False)
    html = write_html(board, folder / HTML, pngs)
    return Report(board, markdown, csv, skipped_csv, html, pngs)


def leaderboard(
    log_dir: str | Path,
    out_dir: str | Path,
    bases: Sequence[str] | str | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    figures: bool = True,
) -> Report:
    """Read `log_dir` (no model calls, no re-running) and write the report into `out_dir`."""
    return write_report(collect(log_dir, bases, resamples, seed), out_dir, figures)
