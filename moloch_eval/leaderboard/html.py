"""One self-contained HTML page: the tables, the figures (PNG embedded as base64), what was
skipped and why. It opens from disk with no network and no other file."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence
from html import escape
from pathlib import Path

from moloch_eval.leaderboard.rows import Leaderboard
from moloch_eval.leaderboard.table import column_notes, display_rows, domains_of

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem;
       color: #222; max-width: 100rem; }
h1 { margin-bottom: 0.2rem; } .meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
tr.not-comparable td { background: #fff3cd; }
tr.base td { background: #eef4fb; }
.note { background: #f7f7f7; border-left: 4px solid #999; padding: 0.4rem 0.8rem; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #ddd; }
code { font-size: 0.9em; }
"""


def html_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str]
) -> str:
    """A table with a CSS class per row (e.g. "not-comparable"), every cell escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="{cls}">' + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
        for row, cls in zip(rows, classes, strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_image(path: Path) -> str:
    """A PNG file as an embedded figure (base64) with its file name as caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{escape(path.name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(path.name)}</figcaption></figure>"
    )


def to_html(
    board: Leaderboard, figures: Sequence[str | Path] = (), sections: Sequence[str] = ()
) -> str:
    """The whole report as one HTML document (`sections`: further HTML, e.g. the EM table)."""
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>moloch_eval leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>moloch_eval leaderboard</h1>",
        f'<p class="meta">logs <code>{escape(board.log_dir)}</code> · base(s) '
        f"<code>{escape(', '.join(board.bases) or 'none')}</code> · {len(board.rows)} row(s), "
        f"{len(board.skipped)} log(s) skipped · generated {when}</p>",
    ]
    parts += [f'<p class="note">{escape(note)}</p>' for note in board.notes]
    for domain in domains_of(board):
        rows = [r for r in board.rows if r.domain == domain]
        headers, cells = display_rows(rows)
        classes = [
            "base" if r.is_base else ("not-comparable" if not r.comparable else "") for r in rows
        ]
        parts += [f"<h2>{escape(domain)}</h2>", html_table(headers, cells, classes)]
    if not board.rows and not sections:
        parts.append("<p>No complete competition log against a base was found.</p>")
    if figures:
        parts.append("<h2>Figures</h2>")
        parts += [html_image(Path(f)) for f in figures]
    parts += list(sections)
    parts.append("<h2>Skipped logs</h2>")
    if board.skipped:
        skipped = [[Path(s.log).name, s.reason] for s in board.skipped]
        parts.append(html_table(["log", "reason"], skipped, [""] * len(skipped)))
    else:
        parts.append("<p>None.</p>")
    parts.append("<h2>Columns</h2><ul>")
    parts += [
        f"<li><code>{escape(k)}</code>: {escape(v)}</li>" for k, v in column_notes(board).items()
    ]
    parts += [
        "</ul>",
        "<p>Rows with a yellow background are not comparable with the other rows of their "
        "domain (the differing condition is marked ⚠); blue rows are the base against itself. "
        "The full numbers are in leaderboard.csv.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html(
    board: Leaderboard,
    path: str | Path,
    figures: Sequence[str | Path] = (),
    sections: Sequence[str] = (),
) -> Path:
    out = Path(path)
    out.write_text(to_html(board, figures, sections), encoding="utf-8")
    return out
