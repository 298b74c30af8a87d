"""Paired bootstrap arithmetic on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from moloch_eval.scorers.paired_bootstrap import paired_rates


def _reference(agent, opponent, resamples, seed):  # type: ignore[no-untyped-def]
    """A plain-loop re-implementation of the documented resampling scheme."""
    n = len(agent)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    stats: dict[str, list[float]] = {
        "rate": [],
        "opponent_rate": [],
        "difference": [],
        "relative_increase": [],
    }
    for row in idx:
        a = [agent[i] for i in row if agent[i] is not None]
        o = [opponent[i] for i in row if opponent[i] is not None]
        if not a or not o:
            continue
        ra, ro = sum(a) / len(a), sum(o) / len(o)
        stats["rate"].append(ra)
        stats["opponent_rate"].append(ro)
        stats["difference"].append(ra - ro)
        if ro > 0:
            stats["relative_increase"].append((ra - ro) / ro)
    return {k: tuple(np.percentile(v, [2.5, 97.5])) for k, v in stats.items()}


def test_point_values_are_exact() -> None:
    agent = [1, 1, 0, 1, None, 0, 1, 0]
    opponent = [1, 0, 0, 0, 1, 0, None, 0]
    out = paired_rates(agent, opponent, resamples=500, seed=7)
    assert out["rate"] == pytest.approx(4 / 7)
    assert out["opponent_rate"] == pytest.approx(2 / 7)
    assert out["difference"] == pytest.approx(2 / 7)
    assert out["relative_increase"] == pytest.approx(1.0)


def test_cis_match_the_documented_scheme() -> None:
    agent = [1, 1, 0, 1, None, 0, 1, 0, 1, 0]
    opponent = [1, 0, 0, 0, 1, 0, None, 0, 1, 1]
    out = paired_rates(agent, opponent, resamples=300, seed=11)
    ref = _reference(agent, opponent, 300, 11)
    for stat, (low, high) in ref.items():
        assert out[f"{stat}_ci_low"] == pytest.approx(low)
        assert out[f"{stat}_ci_high"] == pytest.approx(high)
    assert out == paired_rates(agent, opponent, resamples=300, seed=11)  # seeded
    assert out != paired_rates(agent, opponent, resamples=300, seed=12)


def test_constant_verdicts_give_degenerate_cis() -> None:
    out = paired_rates([1, 1, 1, 1], [0, 1, 0, 1], resamples=200, seed=0)
    assert out["rate"] == out["rate_ci_low"] == out["rate_ci_high"] == 1.0
    assert out["relative_increase"] == pytest.approx(1.0)


def test_undefined_statistics_are_left_out_not_nan() -> None:
    out = paired_rates([1, 0, 1], [0, 0, 0], resamples=100, seed=0)
    assert "relative_increase" not in out and "relative_increase_ci_low" not in out
    assert out["opponent_rate"] == 0.0 and out["difference"] == pytest.approx(2 / 3)
    assert paired_rates([], []) == {}
    assert "rate" not in paired_rates([None, None], [1, 0], resamples=10)
    with pytest.raises(ValueError):
        paired_rates([1], [1, 0])
