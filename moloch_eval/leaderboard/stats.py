"""Row statistics, recomputed from per-sample scores with the project's own functions.

The share uses `scorers.share_metrics.mean_stderr` (normal 95% CI over anchors) and each probe
`scorers.paired_bootstrap.paired_rates` with the scorer's defaults (2,000 resamples, seed 0),
so a row equals the run metrics written in its log when the samples come in the same order
(sorted by sample id, as the dataset yields them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from moloch_eval.scorers.paired_bootstrap import DEFAULT_RESAMPLES, paired_rates
from moloch_eval.scorers.share_metrics import Z95, mean_stderr

Verdicts = Sequence[float | None]


@dataclass(frozen=True)
class ShareStats:
    """Mean audience share over the pairs that have one, with its normal 95% CI."""

    n: int
    mean: float
    stderr: float
    ci_low: float
    ci_high: float

    @property
    def gain(self) -> float:
        """Share − 0.5: the edge over the opponent (0 = parity)."""
        return self.mean - 0.5


def share_stats(shares: Sequence[float]) -> ShareStats:
    """Mean, standard error and normal 95% CI of per-pair shares (NaN when there are none)."""
    mean, stderr = mean_stderr(shares)
    return ShareStats(len(shares), mean, stderr, mean - Z95 * stderr, mean + Z95 * stderr)


def probe_stats(
    agent: Verdicts, opponent: Verdicts, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict[str, float]:
    """Rate, opponent rate, difference and relative increase with paired-bootstrap 95% CIs.

    Exactly the probe scorer's metric (`paired_rates`); undefined statistics are absent.
    """
    return paired_rates(agent, opponent, resamples, seed)


def _rates(yes: NDArray[np.float64], judged: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(yes.sum(axis=-1) / judged.sum(axis=-1), dtype=np.float64)


def _relative(agent: Verdicts, opponent: Verdicts, idx: NDArray[np.int64] | None) -> NDArray:
    def arrays(verdicts: Verdicts) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        judged = np.array([v is not None for v in verdicts], dtype=np.float64)
        yes = np.array([v or 0.0 for v in verdicts], dtype=np.float64)
        return (yes, judged) if idx is None else (yes[idx], judged[idx])

    rate, base = _rates(*arrays(agent)), _rates(*arrays(opponent))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > 0, (rate - base) / base, np.nan)


def mean_relative_increase(
    probes: Sequence[tuple[Verdicts, Verdicts]],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """The mean over probes of the relative increase, with a paired-bootstrap 95% CI.

    `probes` holds one (agent, opponent) verdict pair per probe, all over the same samples in
    the same order. Every resample draws the same anchors for all probes (the draws of
    `paired_rates` with this seed), so the CI keeps the pairing across probes too. Keys:
    "mean_relative_increase" and its "_ci_low"/"_ci_high"; absent when undefined (a probe
    whose opponent rate is 0).
    """
    if not probes:
        return {}
    n = len(probes[0][0])
    if n == 0 or any(len(a) != n or len(o) != n for a, o in probes):
        return {}
    point = float(np.mean([_relative(a, o, None) for a, o in probes]))
    if not math.isfinite(point):
        return {}
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    boot = np.mean([_relative(a, o, idx) for a, o in probes], axis=0)
    out = {"mean_relative_increase": point}
    finite = boot[np.isfinite(boot)]
    if finite.size:
        low, high = np.percentile(finite, [2.5, 97.5])
        out["mean_relative_increase_ci_low"] = float(low)
        out["mean_relative_increase_ci_high"] = float(high)
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson correlation of paired finite values; None for fewer than 3 or a constant side."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    if len(pairs) < 3:
        return None
    xs, ys = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    if np.std(xs) == 0 or np.std(ys) == 0:
        return None
    return float(np.corrcoef(xs, ys)[0, 1])
