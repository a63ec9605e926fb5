"""Medians with bootstrap intervals, ratio intervals, stability flags and verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtui.core.stats import bootstrap_median, ratio_estimate, relative_spread, verdict


def test_no_interval_below_three_values() -> None:
    est = bootstrap_median([10.0, 11.0])
    assert est.median == 10.5 and not est.has_interval and est.text() == "10.5"


def test_interval_contains_the_median_and_is_reproducible() -> None:
    values = [100.0, 101.0, 99.0, 102.0, 98.5]
    a, b = bootstrap_median(values), bootstrap_median(values)
    assert a == b  # seeded
    assert a.low is not None and a.high is not None
    assert a.low <= a.median <= a.high and 98.5 <= a.low and a.high <= 102.0
    assert a.text("{:.1f}") == f"100.0 [{a.low:.1f}–{a.high:.1f}]"
    assert not a.unstable


def test_interval_covers_the_true_median_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    hits = sum(bootstrap_median(rng.normal(50.0, 5.0, size=15).tolist(), seed=i).contains(50.0) for i in range(200))
    assert 170 <= hits <= 200  # percentile bootstrap of a median, n=15: ~92-97 %


def test_a_noisy_cell_is_flagged_unstable() -> None:
    assert bootstrap_median([100, 130, 80, 120, 70]).unstable
    assert not bootstrap_median([100, 101, 99, 100.5, 99.5]).unstable
    assert relative_spread([5.0]) is None


def test_ratio_of_medians_with_interval() -> None:
    est = ratio_estimate([400, 410, 395, 405], [100, 102, 98, 101])
    assert est.median == pytest.approx(np.median([400, 410, 395, 405]) / np.median([100, 102, 98, 101]))
    assert est.low is not None and est.high is not None and est.low < est.median < est.high


def test_verdicts() -> None:
    inside = bootstrap_median([0.99, 0.995, 1.0, 0.992, 0.998])
    assert verdict(inside, 0.97, higher_is_better=True) == "meets"
    assert verdict(inside, 1.05, higher_is_better=True) == "misses"
    assert verdict(inside, 0.995, higher_is_better=True) == "undecided"
    assert verdict(inside, 1.03, higher_is_better=False) == "meets"
    assert verdict(bootstrap_median([1.0, 1.0]), 0.9, higher_is_better=True) == "undecided"


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.floats(min_value=1e-3, max_value=1e6), min_size=1, max_size=12))
def test_interval_brackets_the_median(values: list[float]) -> None:
    est = bootstrap_median(values)
    assert min(values) <= est.median <= max(values)
    if est.has_interval:
        assert min(values) <= est.low <= est.median <= est.high <= max(values)  # type: ignore[operator]
