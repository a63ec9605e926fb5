"""Expected 95 % intervals, worked out independently of qtui.core.stats for the tests: Student's
t on the logarithms of the repeats (t(0.975, 2 df) from the tables for 3 repeats), and Welch's
interval of a ratio (its t from qtui's `t_quantile`, itself checked against the tables and
scipy in test_stats.py)."""

from __future__ import annotations

import math

import numpy as np

from qtui.core.run_table import format_figure
from qtui.core.stats import t_quantile

T_975_2DF = 4.302652730


def log_t(values: list[float]) -> tuple[float, float]:
    """The interval of the median of 3 repeats: exp(mean log ± t(2 df) × sd ÷ √3)."""
    logs = np.log(np.asarray(values, dtype=np.float64))
    assert logs.size == 3
    half = T_975_2DF * float(np.std(logs, ddof=1)) / math.sqrt(3)
    return math.exp(logs.mean() - half), math.exp(logs.mean() + half)


def welch(num: list[float], den: list[float]) -> tuple[float, float]:
    """The interval of median(num) / median(den): Welch's t on the difference of log means."""
    la, lb = np.log(np.asarray(num, dtype=np.float64)), np.log(np.asarray(den, dtype=np.float64))
    va, vb = float(np.var(la, ddof=1)) / la.size, float(np.var(lb, ddof=1)) / lb.size
    df = (va + vb) ** 2 / (va * va / (la.size - 1) + vb * vb / (lb.size - 1))
    half = t_quantile(0.975, df) * math.sqrt(va + vb)
    centre = float(la.mean() - lb.mean())
    return math.exp(centre - half), math.exp(centre + half)


def text(value: float, interval: tuple[float, float]) -> str:
    """A study cell's figure as the tables print it: "8 [7.52–8.51]"."""
    return f"{format_figure(value)} [{format_figure(interval[0])}–{format_figure(interval[1])}]"


def speedup_text(value: float, interval: tuple[float, float]) -> str:
    return f"×{value:.2f} [{interval[0]:.2f}–{interval[1]:.2f}]"


def pooled_sd(groups: list[list[float]]) -> tuple[float, int]:
    """The logs' spread around each group's mean, pooled (sd, degrees of freedom)."""
    squares, df = 0.0, 0
    for g in groups:
        logs = np.log(np.asarray(g, dtype=np.float64))
        squares += float(np.sum((logs - logs.mean()) ** 2))
        df += logs.size - 1
    return math.sqrt(squares / df), df


def pooled_one(value: float, groups: list[list[float]], t: float) -> tuple[float, float]:
    """The interval of a cell measured once, from the others' pooled spread (`t` for its
    degrees of freedom, from the tables)."""
    sd, _ = pooled_sd(groups)
    return value * math.exp(-t * sd), value * math.exp(t * sd)


def pooled_ratio(value: float, groups: list[list[float]], t: float) -> tuple[float, float]:
    """The interval of the ratio of two cells measured once each."""
    sd, _ = pooled_sd(groups)
    half = t * sd * math.sqrt(2.0)
    return value * math.exp(-half), value * math.exp(half)
