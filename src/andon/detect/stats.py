"""The chi-square test of homogeneity, with its exact p-value, in pure Python.

The p-value is the chi-square survival function, ``Q(df/2, x/2)``: the regularized upper incomplete
gamma function, computed as in Numerical Recipes (§6.2) — the power series of ``P(a, x)`` below
``x < a + 1`` and the continued fraction of ``Q(a, x)`` (modified Lentz) above it, each to full double
precision. Keeping it here spares ``import andon`` a scipy dependency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 10_000


def _series_p(a: float, x: float) -> float:
    """P(a, x) by its power series; converges quickly for x < a + 1."""
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_ITER):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _fraction_q(a: float, x: float) -> float:
    """Q(a, x) by its continued fraction (modified Lentz); converges quickly for x >= a + 1."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def gamma_q(a: float, x: float) -> float:
    """The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a), for a > 0, x >= 0."""
    if a <= 0:
        raise ValueError(f"gamma_q needs a > 0, got {a}")
    if x < 0:
        raise ValueError(f"gamma_q needs x >= 0, got {x}")
    if x == 0:
        return 1.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _series_p(a, x))
    return _fraction_q(a, x)


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square distributed with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"chi-square needs at least one degree of freedom, got {df}")
    if x <= 0:
        return 1.0
    return gamma_q(df / 2.0, x / 2.0)


@dataclass(frozen=True, slots=True)
class Homogeneity:
    """The outcome of comparing two label counts: statistic, degrees of freedom, p-value, cells used."""

    statistic: float
    df: int
    p_value: float
    categories: tuple[str, ...]  # after pooling; "(other)" holds the pooled ones


OTHER = "(other)"


def _pool(
    baseline: Mapping[str, int], current: Mapping[str, int], min_expected: float
) -> list[tuple[str, int, int]]:
    """Columns (label, baseline count, current count), small ones pooled until every expected count holds.

    Cochran's rule: the chi-square approximation is trusted only when every expected cell count is at
    least ``min_expected`` (5 by convention); rarer labels are pooled into one "(other)" column, and
    a pooled column still too small joins the smallest remaining one.
    """
    n_base, n_cur = sum(baseline.values()), sum(current.values())
    total = n_base + n_cur
    share_small = min(n_base, n_cur) / total
    columns: list[tuple[str, int, int]] = []
    other_b = other_c = 0
    for label in sorted(set(baseline) | set(current)):
        b, c = baseline.get(label, 0), current.get(label, 0)
        if (b + c) * share_small >= min_expected:
            columns.append((label, b, c))
        else:
            other_b, other_c = other_b + b, other_c + c
    if other_b + other_c:
        pooled = (OTHER, other_b, other_c)
        while columns and (pooled[1] + pooled[2]) * share_small < min_expected:
            smallest = min(columns, key=lambda col: col[1] + col[2])
            columns.remove(smallest)
            pooled = (OTHER, pooled[1] + smallest[1], pooled[2] + smallest[2])
        columns.append(pooled)
    return columns


def homogeneity(
    baseline: Mapping[str, int], current: Mapping[str, int], *, min_expected: float = 5.0
) -> Homogeneity | None:
    """Chi-square test that two samples of labels come from one distribution; None when untestable.

    Untestable means an empty sample, or fewer than two columns left once small cells are pooled.
    """
    n_base, n_cur = sum(baseline.values()), sum(current.values())
    if n_base <= 0 or n_cur <= 0:
        return None
    columns = _pool(baseline, current, min_expected)
    if len(columns) < 2:
        return None
    total = n_base + n_cur
    statistic = 0.0
    for _, b, c in columns:
        column = b + c
        for observed, row in ((b, n_base), (c, n_cur)):
            expected = row * column / total
            statistic += (observed - expected) ** 2 / expected
    df = len(columns) - 1
    return Homogeneity(statistic, df, chi2_sf(statistic, df), tuple(col[0] for col in columns))
