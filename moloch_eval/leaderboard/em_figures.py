"""The EM chart: the headline EM rate per model with its 95% CI, grouped by task, question set
and trigger condition; rows that are not comparable are hatched and named."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from moloch_eval.leaderboard.em_rows import EMRow

EM_FIGURE = "em_rates.png"


def _group(row: EMRow) -> tuple[str, str, str]:
    """The chart's group of a row: (task, question set, condition)."""
    return row.task, row.questions, row.condition


def em_figure(rows: Sequence[EMRow], path: str | Path) -> Path:
    """Bar chart of the headline EM rate per model (95% CI error bars), grouped by task,
    question set (named when a task has several) and condition; not-comparable rows are
    hatched and named in a footnote."""
    from moloch_eval.leaderboard.figures import DPI, footnote, label_colours, model_labels, plt

    out = Path(path)
    groups = list(dict.fromkeys(_group(r) for r in rows))
    labels = model_labels(rows)  # type: ignore[arg-type]  # only .model is read
    colours = label_colours(list(dict.fromkeys(labels.values())))
    most = max((sum(_group(r) == g for r in rows) for g in groups), default=1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + len(groups) * (0.5 + 0.45 * most)), 4.8))
    width = 0.8 / most
    seen: set[str] = set()
    for gi, group in enumerate(groups):
        members = [r for r in rows if _group(r) == group]
        for i, row in enumerate(members):
            value = row.value(row.rate)
            height = value * 100 if value is not None and math.isfinite(value) else math.nan
            ci = row.ci(row.rate)
            yerr = (
                [[max(0.0, height - ci[0] * 100)], [max(0.0, ci[1] * 100 - height)]]
                if ci and math.isfinite(height)
                else None
            )
            label = labels[row.model]
            x = gi - width * len(members) / 2 + width * (i + 0.5)
            ax.bar(
                x,
                height,
                width * 0.9,
                color=colours[label],
                hatch=None if row.comparable else "//",
                edgecolor="#444" if not row.comparable else None,
                yerr=yerr,
                capsize=3,
                label=label if label not in seen else None,
            )
            seen.add(label)
            if math.isfinite(height):
                top = max(height, ci[1] * 100 if ci else height)
                text = f"{height:.0f}%" + ("" if row.comparable else f"\n({row.judge_mode})")
                ax.text(x, top + 1.5, text, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(groups)))
    rate_of = {_group(r): r.rate for r in rows if r.comparable}
    rate_of = {g: rate_of.get(g) or next(r.rate for r in rows if _group(r) == g) for g in groups}
    several = {t for t, q, _ in groups if any(t == t2 and q != q2 for t2, q2, _ in groups)}
    ax.set_xticklabels(
        [
            f"{t}\n" + (f"{q}\n" if t in several else "") + f"({c})\n{rate_of[t, q, c]}"
            for t, q, c in groups
        ],
        fontsize=8,
    )
    rates = list(dict.fromkeys(r.rate for r in rows))
    ax.set_ylabel(f"headline EM rate, % ({' / '.join(rates)})", fontsize=9)
    ax.set_ylim(0, 110)
    ax.set_title("Emergent misalignment · EM rate, 95% CI over questions", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="model")
    marked = [f"{r.model} ({r.task}, {r.judge_mode})" for r in rows if not r.comparable]
    notes = (
        ["Hatched: not comparable (judge model or mode differs): " + ", ".join(marked)]
        if marked
        else []
    )
    fig.tight_layout(rect=(0, 0.035 * len(notes), 1, 1))
    footnote(fig, notes)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out
