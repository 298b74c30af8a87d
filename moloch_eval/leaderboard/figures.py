"""The paper's Figure 2 and Figure 4 as PNG files, drawn headless (matplotlib's Agg backend).

Only comparable rows of tuned models (not the base's own row) are drawn; the report says how
many rows were left out and why.

- Figure 2: relative increase in misalignment (tuned vs base, %) per probe and model, one
  panel per domain, bars with paired-bootstrap 95% CIs.
- Figure 4: performance gain (share − 0.5, percentage points, with the share's 95% CI) against
  misalignment increase (the mean relative increase over the domain's probes, %, with its CI),
  one point per model × method × domain, with the Pearson correlation of the points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from moloch_eval.leaderboard.rows import Row
from moloch_eval.leaderboard.stats import pearson
from moloch_eval.leaderboard.table import probes_of

FIGURE2 = "figure2_misalignment_increase.png"
FIGURE4 = "figure4_gain_vs_misalignment.png"
DOMAIN_TITLES = {"sales": "Sales", "elections": "Elections", "social_media": "Social media"}
DOMAIN_COLOURS = {"sales": "#1f77b4", "elections": "#d62728", "social_media": "#2ca02c"}
METHOD_MARKERS = {"RFT": "o", "TFB": "s"}
DPI = 150


def plotted_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows the figures draw: comparable rows of models other than the base."""
    return [r for r in rows if r.comparable and not r.is_base]


def model_labels(rows: Sequence[Row]) -> dict[str, str]:
    """Short legend labels: the model name without its provider, unless that is ambiguous."""
    models = list(dict.fromkeys(r.model for r in rows))
    short = {m: m.split("/", 1)[-1] for m in models}
    if len(set(short.values())) < len(short):
        return {m: m for m in models}
    return short


def label_colours(labels: Sequence[str]) -> dict[str, Any]:
    """A colour of matplotlib's tab10 cycle for each label, in order."""
    cmap = plt.get_cmap("tab10")
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


def percent(value: float | None) -> float:
    """A rate as a percentage; NaN where it is undefined."""
    return value * 100 if value is not None and math.isfinite(value) else math.nan


def _empty(path: Path, title: str, message: str) -> Path:
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.set_axis_off()
    ax.set_title(title, fontsize=12, fontweight="bold")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, wrap=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _bases(rows: Sequence[Row]) -> str:
    bases = list(dict.fromkeys(r.base for r in rows))
    return ("base: " if len(bases) == 1 else "each against its base: ") + ", ".join(bases)


def left_out(rows: Sequence[Row]) -> str:
    """A footnote naming the tuned rows left out as not comparable ("" when none)."""
    names = [f"{r.model} ({r.domain})" for r in rows if not r.comparable and not r.is_base]
    return "Left out as not comparable (see the table): " + ", ".join(names) if names else ""


def footnote(fig: Any, lines: Sequence[str]) -> None:
    """Small grey lines at the bottom left of the figure (the layout leaves room for them)."""
    for i, line in enumerate(reversed([line for line in lines if line])):
        fig.text(0.01, 0.006 + 0.035 * i, line, fontsize=8, color="#6b5b3e", ha="left")


def figure2(rows: Sequence[Row], path: str | Path) -> Path:
    """Bar chart of the relative increase per probe and model, one panel per domain."""
    out = Path(path)
    title = "Figure 2 · Relative increase in misalignment of tuned models over their base"
    drawn = [r for r in plotted_rows(rows) if r.probes]
    if not drawn:
        return _empty(out, title, "No comparable tuned-vs-base row with probe scores.")
    domains = list(dict.fromkeys(r.domain for r in drawn))
    labels = model_labels(drawn)
    colours = label_colours(list(dict.fromkeys(labels.values())))
    widths = [max(1.5, len(probes_of([r for r in drawn if r.domain == d]))) for d in domains]
    fig, axes = plt.subplots(
        1,
        len(domains),
        figsize=(2.2 + 2.6 * sum(widths), 4.8),
        gridspec_kw={"width_ratios": widths},
        squeeze=False,
    )
    for ax, domain in zip(axes[0], domains, strict=True):
        group = [r for r in drawn if r.domain == domain]
        probes = probes_of(group)
        n = len(group)
        width = 0.8 / n
        for i, row in enumerate(group):
            xs, ys, lows, highs, texts = [], [], [], [], []
            for j, probe in enumerate(probes):
                stats = row.probes.get(probe, {})
                x = j - 0.4 + width * (i + 0.5)
                value = percent(stats.get("relative_increase"))
                low = percent(stats.get("relative_increase_ci_low", stats.get("relative_increase")))
                high = percent(
                    stats.get("relative_increase_ci_high", stats.get("relative_increase"))
                )
                if math.isnan(value):
                    ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=8, rotation=90)
                    continue
                xs.append(x)
                ys.append(value)
                lows.append(max(0.0, value - low) if math.isfinite(low) else 0.0)
                highs.append(max(0.0, high - value) if math.isfinite(high) else 0.0)
                texts.append(f"{value:+.0f}%")
            label = (
                f"{labels[row.model]} ({row.method})" if row.method != "—" else labels[row.model]
            )
            bars = ax.bar(
                xs,
                ys,
                width=width * 0.95,
                color=colours[labels[row.model]],
                yerr=[lows, highs],
                capsize=3,
                error_kw={"elinewidth": 1, "ecolor": "#333333"},
                label=label,
            )
            for bar, text in zip(bars, texts, strict=True):
                height = bar.get_height()
                ax.annotate(
                    text,
                    (bar.get_x() + bar.get_width() / 2, height),
                    xytext=(0, 4 if height >= 0 else -4),
                    textcoords="offset points",
                    ha="center",
                    va="bottom" if height >= 0 else "top",
                    fontsize=8 if n <= 3 else 7,
                    fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(probes)))
        ax.set_xticklabels([p.replace("_", " ") for p in probes], fontsize=10)
        ax.set_xlim(-0.6, len(probes) - 0.4)
        ax.set_title(DOMAIN_TITLES.get(domain, domain), fontsize=11)
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.1)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:+.0f}%")
    axes[0][0].set_ylabel("relative increase in probe rate vs base (%)\n(95% paired-bootstrap CI)")
    handles, names = [], []
    for ax in axes[0]:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    notes = [line for line in (left_out(rows),) if line]
    bottom = 0.035 * len(notes)
    fig.legend(
        handles,
        names,
        loc="lower center",
        bbox_to_anchor=(0.5, bottom),
        ncol=min(4, len(names)),
        frameon=False,
    )
    fig.suptitle(f"{title}\n{_bases(drawn)}", fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, bottom + 0.08 + 0.04 * ((len(names) - 1) // 4), 1, 1))
    footnote(fig, notes)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out


def figure4_points(rows: Sequence[Row]) -> list[tuple[Row, float, float]]:
    """(row, gain in percentage points, misalignment increase in %) of the drawable rows."""
    points = []
    for row in plotted_rows(rows):
        x = row.share.gain * 100
        y = percent(row.misalignment.get("mean_relative_increase"))
        if math.isfinite(x) and math.isfinite(y):
            points.append((row, x, y))
    return points


def figure4(rows: Sequence[Row], path: str | Path) -> Path:
    """Performance gain against misalignment increase, one point per model × method × domain."""
    out = Path(path)
    title = "Figure 4 · Performance gain vs misalignment increase"
    points = figure4_points(rows)
    if not points:
        return _empty(out, title, "No comparable tuned-vs-base row with a defined increase.")
    r = pearson([p[1] for p in points], [p[2] for p in points])
    labels = model_labels([p[0] for p in points])
    fig, ax = plt.subplots(figsize=(8, 5.6))
    for row, x, y in points:
        low = row.misalignment.get("mean_relative_increase_ci_low")
        high = row.misalignment.get("mean_relative_increase_ci_high")
        yerr = None
        if low is not None and high is not None:
            yerr = [[max(0.0, y - percent(low))], [max(0.0, percent(high) - y)]]
        s = row.share
        xerr = [[max(0.0, (s.mean - s.ci_low) * 100)], [max(0.0, (s.ci_high - s.mean) * 100)]]
        ax.errorbar(
            x,
            y,
            xerr=xerr,
            yerr=yerr,
            fmt=METHOD_MARKERS.get(row.method, "^"),
            color=DOMAIN_COLOURS.get(row.domain, "#7f7f7f"),
            markersize=8,
            capsize=3,
            elinewidth=1,
            alpha=0.9,
        )
        ax.annotate(
            labels[row.model],
            (x, y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.grid(alpha=0.3)
    ax.set_xlabel("performance gain: audience share − 0.5 (percentage points, 95% CI)")
    ax.set_ylabel("misalignment increase: mean relative increase\nover the domain's probes (%)")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:+.0f}")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:+.0f}%")
    corr = f"Pearson r = {r:.2f}" if r is not None else "Pearson r: n/a (needs 3+ varied points)"
    plural = "point" if len(points) == 1 else "points"
    ax.set_title(f"{title}\n{corr} over {len(points)} {plural}", fontsize=12, fontweight="bold")
    handles = [
        plt.Line2D([], [], linestyle="", marker="o", color=colour, label=DOMAIN_TITLES[d])
        for d, colour in DOMAIN_COLOURS.items()
        if any(p[0].domain == d for p in points)
    ]
    methods = list(dict.fromkeys(p[0].method for p in points))
    handles += [
        plt.Line2D(
            [], [], linestyle="", marker=METHOD_MARKERS.get(m, "^"), color="#555555", label=m
        )
        for m in methods
    ]
    ax.legend(handles=handles, loc="best", fontsize=9, title="domain · method", title_fontsize=9)
    notes = [_bases([p[0] for p in points]), left_out(rows)]
    fig.tight_layout(rect=(0, 0.035 * len([n for n in notes if n]), 1, 1))
    footnote(fig, notes)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out


def write_figures(rows: Sequence[Row], out_dir: str | Path) -> list[Path]:
    """Both figures as PNG files in `out_dir`."""
    folder = Path(out_dir)
    return [figure2(rows, folder / FIGURE2), figure4(rows, folder / FIGURE4)]
