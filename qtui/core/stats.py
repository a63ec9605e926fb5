"""Statistics for repeated measurements: the median with a 95 % confidence interval and a
stability flag in the spirit of pyperf's warnings.

The interval is a **Student-t interval on the logarithms of the repeats** (a log-normal model of
run-to-run variation: the population median is then exp(mean of the logs), and a ratio of two
cells' medians is exp(the difference of their log means), whose interval is Welch's). It holds
its stated coverage from 3 repeats on. The percentile bootstrap of the median qtui used before
does not: from 3 repeats its "95 %" interval is the repeats' range, which covers the median 75 %
of the time (1 − 2 × 0.5³), and a speed-up's about 90 % (tested in tests/core/test_stats.py).

Used by studies (`repeats = N` per combination), `qtui report`/`recommend`/`compare` and the
benches. With fewer than 3 values no interval is claimed (a t interval from 2 values spans
×12.7 standard errors: it would say nothing).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: Confidence level of every interval qtui prints.
CONFIDENCE = 0.95
#: Bootstrap resamples where qtui bootstraps (per-query latencies in `qtui compare`).
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
    #: the interval uses the run-to-run spread pooled over other cells (`Pooled`): fewer than
    #: `MIN_FOR_INTERVAL` repeats of its own
    pooled: bool = False

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


@dataclass(frozen=True)
class Pooled:
    """The run-to-run spread a table's cells share: the standard deviation of the logarithms of
    each cell's repeats around that cell's own log mean, pooled over the cells (the residual of a
    one-way analysis of variance), with its degrees of freedom (Σ repeats − 1). A cell with fewer
    than 3 repeats of its own takes its interval from it: the assumption, stated wherever such an
    interval is shown, is that run-to-run variation on one machine and scenario is alike across
    frameworks and precisions."""

    sd: float
    df: int


#: Fewer pooled degrees of freedom than this: no pooled interval (t(2) would be 4.3).
MIN_POOLED_DF = 3


def pooled_spread(groups: Iterable[Sequence[float]], min_df: int = MIN_POOLED_DF) -> Pooled | None:
    """`Pooled` over the groups (each a cell's repeats; groups of 1 add nothing), None below
    `min_df` degrees of freedom. Positive values only (timings, rates)."""
    squares, df = 0.0, 0
    for group in groups:
        data = _clean(group)
        data = data[data > 0]
        if data.size >= 2:
            logs = np.log(data)
            squares += float(np.sum((logs - logs.mean()) ** 2))
            df += int(data.size) - 1
    if df < max(1, min_df):
        return None
    return Pooled(math.sqrt(squares / df), df)


def _log_groups(groups: Iterable[Sequence[float]]) -> list[np.ndarray]:
    out = []
    for group in groups:
        data = _clean(group)
        out.append(np.log(data[data > 0]))
    return out


def _spreads_more(logs: np.ndarray, rest: Pooled, alpha: float = 0.05) -> bool:
    """Whether a group's logs spread more than `rest` allows (F test at `alpha`, one-sided)."""
    if logs.size < 2:
        return False
    own = float(np.var(logs, ddof=1))
    if rest.sd == 0.0:
        return own > 0.0
    return own / rest.sd**2 > f_quantile(1.0 - alpha, int(logs.size) - 1, rest.df)


def consistent_groups(groups: Iterable[Sequence[float]]) -> list[list[float]]:
    """The groups whose spread the others' pooled spread allows: the group that spreads most
    beyond the rest's is left out while it fails the F test (`_spreads_more`, at 5 % divided
    by the number of groups tested: the largest of several alike spreads is not an outlier), so
    one noisy cell neither widens the others' intervals nor borrows their spread."""
    kept = [list(g) for g in groups]
    while True:
        worst, worst_ratio = None, 1.0
        logs = _log_groups(kept)
        tested = max(1, sum(1 for g in logs if g.size >= 2))
        for i, own in enumerate(logs):
            rest = pooled_spread(kept[:i] + kept[i + 1:], min_df=1)
            if rest is None or own.size < 2 or not _spreads_more(own, rest, 0.05 / tested):
                continue
            ratio = float(np.var(own, ddof=1)) / max(rest.sd**2, 1e-300)
            if ratio > worst_ratio:
                worst, worst_ratio = i, ratio
        if worst is None:
            return kept
        del kept[worst]


def pooled_for(values: Sequence[float], others: Iterable[Sequence[float]]) -> Pooled | None:
    """The pooled spread a cell with fewer than `MIN_FOR_INTERVAL` repeats may take its interval
    from: pooled over the `others` (the other cells' repeats) that agree with one another
    (`consistent_groups`) and its own, or None — below `MIN_POOLED_DF`, or when its own repeats
    spread more than the others allow (an F test at 5 %: such a cell needs repeats of its own;
    a cell measured once cannot be checked, which is the assumption `STUDY_POOLED_NOTE` states)."""
    others = consistent_groups(others)
    (own,) = _log_groups([values])
    rest = pooled_spread(others, min_df=1)
    if rest is not None and _spreads_more(own, rest):
        return None
    return pooled_spread([*others, np.exp(own).tolist()])


@functools.lru_cache(maxsize=1024)
def f_quantile(p: float, d1: float, d2: float) -> float:
    """The `p` quantile of the F distribution with (`d1`, `d2`) degrees of freedom (bisection on
    the incomplete beta function, to 1e-10)."""
    if not 0.0 < p < 1.0 or d1 <= 0 or d2 <= 0:
        raise ValueError(f"f_quantile needs 0 < p < 1 and positive degrees of freedom, got {p}, {d1}, {d2}")

    def cdf(f: float) -> float:
        return _betainc(d1 / 2.0, d2 / 2.0, d1 * f / (d1 * f + d2))

    low, high = 0.0, 1.0
    while cdf(high) < p:
        low, high = high, high * 2.0
    while high - low > 1e-10 * max(1.0, high):
        mid = (low + high) / 2.0
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2.0


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
            last = d * c
        if abs(last - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with `df` (> 0, not necessarily whole) degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def _t_pdf(t: float, df: float) -> float:
    log_c = math.lgamma((df + 1.0) / 2.0) - math.lgamma(df / 2.0) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1.0) / 2.0 * math.log1p(t * t / df))


@functools.lru_cache(maxsize=512)
def t_quantile(p: float, df: float) -> float:
    """The `p` quantile (0 < p < 1) of Student's t with `df` degrees of freedom: Newton's method
    on `t_cdf` from the normal quantile's Cornish-Fisher expansion, bisection where Newton
    strays (to 1e-12)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    z = NormalDist().inv_cdf(p)
    x = z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df * df)
    low, high = 0.0, max(2.0 * x, 1.0)
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    x = min(max(x, low), high)
    for _ in range(100):
        err = t_cdf(x, df) - p
        if abs(err) < 1e-13:
            break
        low, high = (x, high) if err < 0 else (low, x)
        step = x - err / _t_pdf(x, df)
        x = step if low < step < high else (low + high) / 2.0
        if high - low < 1e-12 * max(1.0, high):
            break
    return x


def _log_t_interval(data: np.ndarray, confidence: float) -> tuple[float, float]:
    """exp(mean ± t × standard error) of the logs of `data` (positive, n ≥ 2)."""
    logs = np.log(data)
    half = t_quantile(0.5 + confidence / 2.0, data.size - 1) * float(np.std(logs, ddof=1)) / math.sqrt(data.size)
    centre = float(np.mean(logs))
    return math.exp(centre - half), math.exp(centre + half)


def median_estimate(values: Sequence[float], confidence: float = CONFIDENCE, pooled: Pooled | None = None) -> Estimate:
    """The median of the repeats and the `confidence` interval of the population median: a
    Student-t interval on the logarithms (see the module's docstring), widened to hold the sample
    median when the two disagree (a skewed sample). Non-positive values (not timings) take the
    t interval on the values themselves. Fewer than `MIN_FOR_INTERVAL` repeats: no interval, or
    with `pooled` the one its spread gives (t with the pooled degrees of freedom)."""
    data = _clean(values)
    if data.size == 0:
        raise ValueError("no finite values to summarise")
    med = float(np.median(data))
    spread = relative_spread(data.tolist())
    if data.size < MIN_FOR_INTERVAL:
        if pooled is None or not np.all(data > 0):
            return Estimate(med, None, None, int(data.size), spread)
        centre = float(np.mean(np.log(data)))
        half = t_quantile(0.5 + confidence / 2.0, pooled.df) * pooled.sd / math.sqrt(data.size)
        low, high = math.exp(centre - half), math.exp(centre + half)
        return Estimate(med, min(low, med), max(high, med), int(data.size), spread, pooled=True)
    if np.all(data > 0):
        low, high = _log_t_interval(data, confidence)
    else:
        half = t_quantile(0.5 + confidence / 2.0, data.size - 1) * float(np.std(data, ddof=1)) / math.sqrt(data.size)
        low, high = float(np.mean(data)) - half, float(np.mean(data)) + half
    return Estimate(med, min(low, med), max(high, med), int(data.size), spread)


def welch_logs(numerators: Sequence[float] | np.ndarray, denominators: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Welch's t on the logarithms of two sides (positive values, 2 or more a side): the
    difference of their means, its standard error and the Welch–Satterthwaite degrees of freedom
    (0 when both sides are constant)."""
    la = np.log(np.asarray(numerators, dtype=np.float64))
    lb = np.log(np.asarray(denominators, dtype=np.float64))
    va, vb = float(np.var(la, ddof=1)) / la.size, float(np.var(lb, ddof=1)) / lb.size
    centre = float(np.mean(la) - np.mean(lb))
    if va + vb == 0.0:
        return centre, 0.0, 0.0
    df = (va + vb) ** 2 / ((va * va / (la.size - 1) if va else 0.0) + (vb * vb / (lb.size - 1) if vb else 0.0))
    return centre, math.sqrt(va + vb), df


def ratio_estimate(
    numerators: Sequence[float],
    denominators: Sequence[float],
    confidence: float = CONFIDENCE,
    pooled: Pooled | None = None,
) -> Estimate:
    """Median(numerators) / median(denominators) (e.g. a speed-up: INT8 repeats over FP32
    repeats) with the `confidence` interval of the ratio of the population medians: Welch's t
    interval on the difference of the two sides' log means (each side's variance of its own,
    Welch–Satterthwaite degrees of freedom), widened to hold the ratio of the sample medians.
    Positive values only (timings, rates). With fewer than `MIN_FOR_INTERVAL` repeats on a side:
    no interval, or with `pooled` t with its spread and degrees of freedom for both sides."""
    num, den = _clean(numerators), _clean(denominators)
    num, den = num[num > 0], den[den > 0]
    if num.size == 0 or den.size == 0:
        raise ValueError("no finite positive values to summarise")
    value = float(np.median(num) / np.median(den))
    n = int(min(num.size, den.size))
    if n < MIN_FOR_INTERVAL:
        if pooled is None:
            return Estimate(value, None, None, n, None)
        centre = float(np.mean(np.log(num)) - np.mean(np.log(den)))
        half = t_quantile(0.5 + confidence / 2.0, pooled.df) * pooled.sd * math.sqrt(1.0 / num.size + 1.0 / den.size)
        low, high = math.exp(centre - half), math.exp(centre + half)
        return Estimate(value, min(low, value), max(high, value), n, None, pooled=True)
    centre, se, df = welch_logs(num, den)
    if se == 0.0:
        low = high = math.exp(centre)
    else:
        half = t_quantile(0.5 + confidence / 2.0, df) * se
        low, high = math.exp(centre - half), math.exp(centre + half)
    spread = relative_spread((num / np.median(den)).tolist())
    return Estimate(value, min(low, value), max(high, value), n, spread)


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
