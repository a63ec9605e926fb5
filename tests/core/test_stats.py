"""Medians with their intervals (Student's t on the logs), ratio intervals (Welch), the t quantile,
stability flags and verdicts; and that the intervals cover what they claim."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtui.core.stats import (
    CONFIDENCE,
    f_quantile,
    median_estimate,
    pooled_for,
    pooled_spread,
    ratio_estimate,
    relative_spread,
    t_cdf,
    t_quantile,
    verdict,
)


def test_no_interval_below_three_values() -> None:
    est = median_estimate([10.0, 11.0])
    assert est.median == 10.5 and not est.has_interval and est.text() == "10.5"


def test_interval_contains_the_median_and_is_reproducible() -> None:
    values = [100.0, 101.0, 99.0, 102.0, 98.5]
    a, b = median_estimate(values), median_estimate(values)
    assert a == b
    assert a.low is not None and a.high is not None
    logs = np.log(values)
    half = 2.776445105 * np.std(logs, ddof=1) / np.sqrt(5)  # t(0.975, 4 df) × standard error
    assert a.low == pytest.approx(np.exp(logs.mean() - half)) and a.high == pytest.approx(np.exp(logs.mean() + half))
    assert a.low <= a.median <= a.high
    assert a.text("{:.1f}") == f"100.0 [{a.low:.1f}–{a.high:.1f}]"
    assert not a.unstable


@pytest.mark.parametrize("n", [3, 5, 15])
def test_interval_covers_the_true_median_95_percent_of_the_time(n: int) -> None:
    """Repeats with log-normal run-to-run variation (the model the interval assumes): the
    population median (1.0) lies inside the interval in 95 % of 2000 simulated studies. The
    percentile bootstrap of the median qtui printed before covered it 75 % of the time from 3
    repeats (the repeats' range: 1 − 2 × 0.5³)."""
    rng = np.random.default_rng(n)
    hits = sum(median_estimate(rng.lognormal(0.0, 0.08, size=n).tolist()).contains(1.0) for _ in range(2000))
    assert 0.93 <= hits / 2000 <= 0.97, hits / 2000


@pytest.mark.parametrize("n_a, n_b, sigma_b", [(3, 3, 0.05), (3, 5, 0.2)])
def test_ratio_interval_covers_the_true_ratio_95_percent_of_the_time(n_a: int, n_b: int, sigma_b: float) -> None:
    """A speed-up from two cells' repeats with different spreads and counts (Welch): the true
    ratio (×2) lies inside the interval in 95 % of simulated studies (the bootstrap of the
    medians before: about 90 % from 3 + 3 repeats)."""
    rng = np.random.default_rng(n_a * 10 + n_b)
    hits = 0
    for _ in range(2000):
        a = rng.lognormal(np.log(2.0), 0.05, size=n_a)
        b = rng.lognormal(0.0, sigma_b, size=n_b)
        hits += ratio_estimate(a.tolist(), b.tolist()).contains(2.0)
    assert 0.93 <= hits / 2000 <= 0.975, hits / 2000


@pytest.mark.parametrize("p, df, expected", [
    (0.975, 1, 12.706204736), (0.975, 2, 4.302652730), (0.975, 4, 2.776445105),
    (0.975, 30, 2.042272456), (0.995, 10, 3.169272673), (0.025, 3, -3.182446305), (0.975, 1e6, 1.959966),
])
def test_t_quantile_matches_the_tables(p: float, df: float, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=2e-6)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.floats(min_value=0.51, max_value=0.999), st.floats(min_value=0.5, max_value=200.0))
def test_t_quantile_agrees_with_scipy(p: float, df: float) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    assert t_quantile(p, df) == pytest.approx(float(scipy_stats.t.ppf(p, df)), rel=1e-7)


def test_three_repeats_get_a_95_percent_interval_wider_than_their_range() -> None:
    """From 3 repeats the range covers the median 75 % of the time: a 95 % interval is wider."""
    values = [100.0, 103.0, 98.0]
    est = median_estimate(values)
    assert CONFIDENCE == 0.95
    assert est.low is not None and est.high is not None
    assert est.low < min(values) and est.high > max(values)


def test_a_noisy_cell_is_flagged_unstable() -> None:
    assert median_estimate([100, 130, 80, 120, 70]).unstable
    assert not median_estimate([100, 101, 99, 100.5, 99.5]).unstable
    assert relative_spread([5.0]) is None


def test_ratio_of_medians_with_interval() -> None:
    est = ratio_estimate([400, 410, 395, 405], [100, 102, 98, 101])
    assert est.median == pytest.approx(np.median([400, 410, 395, 405]) / np.median([100, 102, 98, 101]))
    assert est.low is not None and est.high is not None and est.low < est.median < est.high


def test_verdicts() -> None:
    inside = median_estimate([0.99, 0.995, 1.0, 0.992, 0.998])
    assert verdict(inside, 0.97, higher_is_better=True) == "meets"
    assert verdict(inside, 1.05, higher_is_better=True) == "misses"
    assert verdict(inside, 0.995, higher_is_better=True) == "undecided"
    assert verdict(inside, 1.03, higher_is_better=False) == "meets"
    assert verdict(median_estimate([1.0, 1.0]), 0.9, higher_is_better=True) == "undecided"


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=12))
def test_interval_brackets_the_median(values: list[float]) -> None:
    est = median_estimate(values)
    assert min(values) <= est.median <= max(values)
    if est.has_interval:
        assert 0 < est.low <= est.median <= est.high  # type: ignore[operator]


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.floats(min_value=0.5, max_value=0.99), st.integers(1, 30), st.integers(1, 60))
def test_f_quantile_agrees_with_scipy(p: float, d1: int, d2: int) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    assert f_quantile(p, d1, d2) == pytest.approx(float(scipy_stats.f.ppf(p, d1, d2)), rel=1e-6)


def test_a_cell_measured_once_covers_95_percent_with_the_pooled_spread() -> None:
    """Six cells of 2 runs and one of 1 run, all with the same log-normal run-to-run spread (the
    assumption pooling states): the 1-run cell's interval covers its median 95 % of the time."""
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(2000):
        others = [rng.lognormal(float(m), 0.05, size=2).tolist() for m in range(6)]
        one = rng.lognormal(0.0, 0.05, size=1).tolist()
        pooled = pooled_for(one, others)
        assert pooled is not None and pooled.df >= 3
        hits += median_estimate(one, pooled=pooled).contains(1.0)
    assert 0.93 <= hits / 2000 <= 0.97, hits / 2000


def test_pooling_refuses_a_cell_that_spreads_more_than_the_others() -> None:
    steady = [[10.0, 10.1], [20.0, 20.2], [5.0, 5.04], [8.0, 8.05]]
    assert pooled_for([7.0, 7.05], steady) is not None
    assert pooled_for([7.0, 9.0], steady) is None  # its two runs disagree by 25 %
    assert pooled_for([7.0], [[10.0, 10.1], [8.0, 8.1]]) is None  # 2 degrees of freedom: too few
    pooled = pooled_spread(steady)
    assert pooled is not None and pooled.df == 4
    assert median_estimate([7.0], pooled=pooled).pooled and not median_estimate([7.0, 7.1, 7.2]).pooled
