"""Statistics for repeated measurements: the median with a 95 % confidence interval (percentile
bootstrap over the repeats, seeded, so the same figures give the same interval) and a stability
flag in the spirit of pyperf's warnings.

Used by studies (`repeats = N` per combination), `qtui report`/`recommend` and the benches.
With fewer than 3 values no interval is claimed: a 2-point "interval" would say nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Confidence level of every interval qtui prints.
CONFIDENCE = 0.95
#: Bootstrap resamples (enough for a stable 95 % percentile interval of a median).
RESAMPLES = 2000
#: A cell whose relative spread (MAD / median, scaled to a standard deviation) exceeds this is
#: flagged unstable — the same order as pyperf's "std dev is 10 % of the mean" warning.
UNSTABLE_SPREAD = 0.10
#: Fewer repeats than this give no interval.
MIN_FOR_INTERVAL = 3


@dataclass(frozen=True)
class Estimate:
    """The median of `n` values, its 95 % interval (None when n < 3), and their spread."""

    median: float
    low: float | None
    high: float | None
    n: int
    spread: float | None  #: robust relative spread: 1.4826 × MAD / median

    @property
    def unstable(self) -> bool:
        return self.spread is not None and self.spread > UNSTABLE_SPREAD

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def contains(self, value: float) -> bool:
        return self.has_interval and self.low <= value <= self.high  # type: ignore[operator]

    def text(self, fmt: str = "{:.3g}") -> str:
        """`12.3 [11.9–12.8]`, or the bare median when there is no interval."""
        core = fmt.format(self.median)
        if not self.has_interval:
            return core
        return f"{core} [{fmt.format(self.low)}–{fmt.format(self.high)}]"


def _clean(values: Sequence[float]) -> np.ndarray:
    data = np.asarray([float(v) for v in values if v is not None], dtype=np.float64)
    return data[np.isfinite(data)]


def relative_spread(values: Sequence[float]) -> float | None:
    data = _clean(values)
    if data.size < 2:
        return None
    med = float(np.median(data))
    if med == 0:
        return None
    mad = float(np.median(np.abs(data - med)))
    return 1.4826 * mad / abs(med)


def bootstrap_median(
    values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0
) -> Estimate:
    """Median and percentile-bootstrap interval of the median."""
    data = _clean(values)
    if data.size == 0:
        raise ValueError("no finite values to summarise")
    med = float(np.median(data))
    spread = relative_spread(data.tolist())
    if data.size < MIN_FOR_INTERVAL:
        return Estimate(med, None, None, int(data.size), spread)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, data.size, size=(resamples, data.size))
    medians = np.median(data[idx], axis=1)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(medians, [alpha, 1.0 - alpha])
    return Estimate(med, float(low), float(high), int(data.size), spread)


def ratio_estimate(
    numerators: Sequence[float],
    denominators: Sequence[float],
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Median(numerators) / median(denominators) with a bootstrap interval that resamples both
    sides independently (e.g. a speed-up: INT8 repeats over FP32 repeats)."""
    num, den = _clean(numerators), _clean(denominators)
    if num.size == 0 or den.size == 0:
        raise ValueError("no finite values to summarise")
    value = float(np.median(num) / np.median(den))
    n = int(min(num.size, den.size))
    if n < MIN_FOR_INTERVAL:
        return Estimate(value, None, None, n, None)
    rng = np.random.default_rng(seed)
    a = np.median(num[rng.integers(0, num.size, size=(resamples, num.size))], axis=1)
    b = np.median(den[rng.integers(0, den.size, size=(resamples, den.size))], axis=1)
    ratios = a / b
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1.0 - alpha])
    spread = relative_spread((num / np.median(den)).tolist())
    return Estimate(value, float(low), float(high), n, spread)


def verdict(estimate: Estimate, goal: float, higher_is_better: bool) -> str:
    """`meets` when the whole interval is on the good side of `goal`, `misses` when it is all on
    the bad side, `undecided` when it straddles (or there is no interval)."""
    if not estimate.has_interval:
        return "undecided"
    low, high = estimate.low, estimate.high
    assert low is not None and high is not None
    if higher_is_better:
        return "meets" if low >= goal else ("misses" if high < goal else "undecided")
    return "meets" if high <= goal else ("misses" if low > goal else "undecided")


def geometric_mean(values: Sequence[float]) -> float | None:
    data = _clean(values)
    data = data[data > 0]
    if data.size == 0:
        return None
    return float(math.exp(np.mean(np.log(data))))
