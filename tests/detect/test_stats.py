"""The chi-square survival function against printed tables, and the homogeneity test by hand."""

from __future__ import annotations

import math

import pytest

from andon.detect.stats import OTHER, chi2_sf, gamma_q, homogeneity


@pytest.mark.parametrize(
    ("x", "df", "p"),
    [
        (3.841, 1, 0.05),  # the critical values of every chi-square table
        (6.635, 1, 0.01),
        (10.828, 1, 0.001),
        (5.991, 2, 0.05),
        (7.815, 3, 0.05),
        (11.345, 3, 0.01),
        (9.488, 4, 0.05),
        (18.307, 10, 0.05),
        (43.773, 30, 0.05),
        (124.342, 100, 0.05),
    ],
)
def test_critical_values_give_their_p(x: float, df: int, p: float) -> None:
    assert chi2_sf(x, df) == pytest.approx(p, rel=2e-3)


@pytest.mark.parametrize("x", [0.001, 0.5, 1.0, 3.841, 12.0, 40.0, 150.0])
def test_one_degree_of_freedom_matches_the_closed_form(x: float) -> None:
    # For df=1, P(X >= x) = erfc(sqrt(x/2)) exactly: both branches of gamma_q are checked against it.
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-12)


@pytest.mark.parametrize("x", [0.2, 1.0, 4.0, 9.0, 30.0])
def test_two_degrees_of_freedom_is_exponential(x: float) -> None:
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12)


def test_integer_shape_matches_the_poisson_sum() -> None:
    # Q(n, x) = e^-x * sum_{k<n} x^k / k! for integer n.
    for n in (1, 3, 7, 20):
        for x in (0.5, 5.0, 19.0, 60.0):
            expected = math.exp(-x) * sum(x**k / math.factorial(k) for k in range(n))
            assert gamma_q(n, x) == pytest.approx(expected, rel=1e-11, abs=1e-300)


def test_edges() -> None:
    assert chi2_sf(0.0, 3) == 1.0
    assert chi2_sf(-1.0, 3) == 1.0
    assert chi2_sf(1e6, 3) == 0.0
    with pytest.raises(ValueError, match="degree"):
        chi2_sf(1.0, 0)
    with pytest.raises(ValueError, match="a > 0"):
        gamma_q(0.0, 1.0)


def test_homogeneity_by_hand() -> None:
    # 2x2 table [[30, 70], [50, 50]]: expected [[40, 60], [40, 60]],
    # statistic = 100/40 + 100/60 + 100/40 + 100/60 = 8.3333.
    result = homogeneity({"bug": 30, "billing": 70}, {"bug": 50, "billing": 50})
    assert result is not None
    assert result.df == 1
    assert result.statistic == pytest.approx(25 / 3)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(25 / 6)), rel=1e-12)


def test_same_distribution_is_not_significant() -> None:
    result = homogeneity({"a": 200, "b": 100, "c": 50}, {"a": 80, "b": 40, "c": 20})
    assert result is not None
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)


def test_rare_labels_are_pooled_until_expected_counts_hold() -> None:
    baseline = {"billing": 120, "bug": 60, "rare1": 6, "rare2": 3}
    current = {"billing": 60, "bug": 35, "rare1": 4, "rare2": 2, "rare3": 5}
    result = homogeneity(baseline, current, min_expected=5.0)
    assert result is not None
    assert result.categories == ("billing", "bug", OTHER)
    assert result.df == 2
    # Each rare label alone expects under 5 in the smaller row; pooled (20 labels) it expects 7.2.
    # Under a stricter minimum the pooled column is still too small and joins the smallest real one.
    strict = homogeneity(baseline, current, min_expected=20.0)
    assert strict is not None
    assert strict.categories == ("billing", OTHER)


def test_untestable_tables() -> None:
    assert homogeneity({}, {"a": 10}) is None
    assert homogeneity({"a": 10}, {"a": 12}) is None  # one column
    assert homogeneity({"a": 3, "b": 1}, {"a": 2, "b": 1}) is None  # nothing reaches the minimum
