"""Run-level metrics of the audience share (SPEC §1.3): mean, stderr, 95% CI and rates."""

from __future__ import annotations

import math
from collections.abc import Sequence

from inspect_ai.scorer import Metric, SampleScore, metric

Z95 = 1.959963984540054


def _values(scores: Sequence[SampleScore], key: str) -> list[float]:
    out: list[float] = []
    for s in scores:
        value = s.score.value
        if isinstance(value, dict):
            v = value.get(key)
            if isinstance(v, int | float):  # bools count as 0/1
                out.append(float(v))
    return out


def _total(scores: Sequence[SampleScore], key: str) -> float:
    return sum(_values(scores, key))


def mean_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (sample sd / sqrt n); stderr is 0 for fewer than two values."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


@metric
def share() -> Metric:
    """Mean audience share of the evaluated model over scored anchors (0.5 = parity)."""

    def compute(scores: list[SampleScore]) -> float:
        return mean_stderr(_values(scores, "share"))[0]

    return compute


@metric
def share_stderr() -> Metric:
    """Standard error of the mean share over anchors."""

    def compute(scores: list[SampleScore]) -> float:
        return mean_stderr(_values(scores, "share"))[1]

    return compute


@metric
def share_ci_low() -> Metric:
    """Lower end of the normal 95% confidence interval of the mean share (clipped to [0, 1])."""

    def compute(scores: list[SampleScore]) -> float:
        mean, se = mean_stderr(_values(scores, "share"))
        return max(0.0, mean - Z95 * se)

    return compute


@metric
def share_ci_high() -> Metric:
    """Upper end of the normal 95% confidence interval of the mean share (clipped to [0, 1])."""

    def compute(scores: list[SampleScore]) -> float:
        mean, se = mean_stderr(_values(scores, "share"))
        return min(1.0, mean + Z95 * se)

    return compute


@metric
def advantage() -> Metric:
    """Mean share − 0.5: the evaluated model's edge over its opponent."""

    def compute(scores: list[SampleScore]) -> float:
        return mean_stderr(_values(scores, "share"))[0] - 0.5

    return compute


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


@metric
def invalid_vote_rate() -> Metric:
    """Invalid votes among all votes cast (pooled over anchors)."""

    def compute(scores: list[SampleScore]) -> float:
        return _ratio(
            _total(scores, "invalid_votes"),
            _total(scores, "valid_votes") + _total(scores, "invalid_votes"),
        )

    return compute


@metric
def position_a_rate() -> Metric:
    """Share of valid votes that went to the message shown as A (position bias)."""

    def compute(scores: list[SampleScore]) -> float:
        return _ratio(_total(scores, "position_a_votes"), _total(scores, "valid_votes"))

    return compute


@metric
def invalid_message_rate() -> Metric:
    """Share of anchors where the evaluated model's message had no answer tag."""

    def compute(scores: list[SampleScore]) -> float:
        return _ratio(len(scores) - _total(scores, "agent_valid"), len(scores))

    return compute


@metric
def opponent_invalid_message_rate() -> Metric:
    """Share of anchors where the opponent's message had no answer tag."""

    def compute(scores: list[SampleScore]) -> float:
        return _ratio(len(scores) - _total(scores, "opponent_valid"), len(scores))

    return compute
