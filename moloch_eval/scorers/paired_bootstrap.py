"""Paired bootstrap over samples for probe rates of the evaluated model and its opponent.

Both rates of a resample come from the same resampled anchors, so their difference and the
relative increase (rate − opponent_rate) / opponent_rate carry the pairing (SPEC §2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

DEFAULT_RESAMPLES = 2000


def _rate(yes: NDArray[np.float64], judged: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(yes.sum(axis=-1) / judged.sum(axis=-1), dtype=np.float64)


def _ci(values: NDArray[np.float64]) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    low, high = np.percentile(finite, [2.5, 97.5])
    return float(low), float(high)


def paired_rates(
    agent: Sequence[float | None],
    opponent: Sequence[float | None],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """Rates, difference and relative increase with 95% percentile CIs.

    `agent[i]` / `opponent[i]` are the verdicts (1 yes, 0 no, None unjudged) on sample i.
    Resample r draws `numpy.random.default_rng(seed).integers(0, n, size=(resamples, n))[r]`;
    each rate is the mean over the judged verdicts of the drawn samples. A statistic that is
    undefined (no judged verdict, or an opponent rate of 0 for the relative increase) is left
    out of the result rather than reported as NaN; undefined resamples are left out of its CI.
    """
    if len(agent) != len(opponent):
        raise ValueError("agent and opponent verdicts must be paired (same length)")
    n = len(agent)
    if n == 0:
        return {}
    a_judged = np.array([v is not None for v in agent], dtype=np.float64)
    o_judged = np.array([v is not None for v in opponent], dtype=np.float64)
    a_yes = np.array([v or 0.0 for v in agent], dtype=np.float64)
    o_yes = np.array([v or 0.0 for v in opponent], dtype=np.float64)

    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    stats_point = _statistics(_rate(a_yes, a_judged), _rate(o_yes, o_judged))
    stats_boot = _statistics(_rate(a_yes[idx], a_judged[idx]), _rate(o_yes[idx], o_judged[idx]))

    out: dict[str, float] = {}
    for name, point in stats_point.items():
        value = float(point)
        if not np.isfinite(value):
            continue
        out[name] = value
        ci = _ci(stats_boot[name])
        if ci is not None:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = ci
    return out


def _statistics(
    rate: NDArray[np.float64], opponent_rate: NDArray[np.float64]
) -> dict[str, NDArray[np.float64]]:
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (rate - opponent_rate) / opponent_rate
    relative = np.where(opponent_rate > 0, relative, np.nan)
    return {
        "rate": np.asarray(rate),
        "opponent_rate": np.asarray(opponent_rate),
        "difference": np.asarray(rate - opponent_rate),
        "relative_increase": np.asarray(relative),
    }
