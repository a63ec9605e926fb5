"""Which runs go together, and what one shows against another: the FP32 baseline of a run and the
speed-up over it, the repeats of one measurement, and the accuracy-mode run that is a cell's
quality evidence. Reads the record (`qtui.core.results`); the run and study tables build on it.

- `fp32_baseline` / `speedup` / `speedup_vs_fp32`: the matching FP32 run (everything but the
  precision equal, status ok: `identity.same_setup_but_precision`) and the speed-up over it (ok
  runs only).
- `repeats_of` / `speedup_estimate`: the `ok` runs that repeat one measurement
  (`identity.repeat_key`: same profile, artifact and machine) and the speed-up over FP32 from
  both cells' repeats with its interval.
- `accuracy_run_for` / `quality_delta` / `accuracy_delta`: the accuracy-mode run of the same
  artifact, and its change against FP32 (the quality evidence of a cell).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from qtui.core.identity import repeat_key, same_setup_but_precision, same_weights_data_and_machine
from qtui.core.results import RunResult, _as_number, order_key, scenario_metric
from qtui.core.stats import Estimate, Pooled, ratio_estimate


# -- the matching FP32 run and speed-up ------------------------------------------------------------
def fp32_baseline(result: RunResult, pool: Iterable[RunResult]) -> RunResult | None:
    """The newest `ok` FP32 run in `pool` that differs from `result` only in precision (an FP32
    run is its own baseline when it is `ok`); None when there is none."""
    if result.profile.precision == "fp32":
        return result if result.status == "ok" else None
    matches = [
        r for r in pool
        if r.status == "ok" and r.profile.precision == "fp32" and same_setup_but_precision(r, result)
    ]
    return max(matches, key=order_key, default=None)


def speedup(result: RunResult, baseline: RunResult | None) -> float | None:
    """Speed-up of `result` over its FP32 `baseline`: throughput ratio for Offline, latency ratio
    (baseline ÷ this) for the stream scenarios. None unless both runs are `ok` performance runs
    of the same setup with a measured metric."""
    if (
        baseline is None or result.status != "ok" or baseline.status != "ok"
        or result.profile.mode != "performance" or not same_setup_but_precision(result, baseline)
    ):
        return None
    _, value = result.metric
    _, base = baseline.metric
    if value is None or base is None or value <= 0 or base <= 0:
        return None
    ratio = value / base if scenario_metric(result.profile.scenario).higher_is_better else base / value
    return ratio if math.isfinite(ratio) else None


def speedup_vs_fp32(result: RunResult, pool: Iterable[RunResult]) -> float | None:
    """`speedup` over the matching FP32 run found in `pool`."""
    return speedup(result, fp32_baseline(result, pool))


def accuracy_delta(result: RunResult, baseline: RunResult | None) -> str:
    """Accuracy (top-1, in points) or fidelity change of an `ok` run against its FP32 baseline."""
    if baseline is None or baseline is result or result.status != "ok":
        return ""
    a, b = result.accuracy or {}, baseline.accuracy or {}
    top1_a, top1_b = _as_number(a.get("top1")), _as_number(b.get("top1"))
    if top1_a is not None and top1_b is not None:
        return f"{(top1_a - top1_b) * 100:+.1f}pt"
    fa, fb = a.get("fidelity") or {}, b.get("fidelity") or {}
    agr_a, agr_b = _as_number(fa.get("centred_top1_agreement")), _as_number(fb.get("centred_top1_agreement"))
    if agr_a is not None and agr_b is not None:
        return f"agr{(agr_a - agr_b) * 100:+.0f}pt"
    sqnr_a, sqnr_b = _as_number(fa.get("sqnr_db")), _as_number(fb.get("sqnr_db"))
    if sqnr_a is not None and sqnr_b is not None:
        return f"{sqnr_a - sqnr_b:+.0f}dB"
    return ""


# -- repeats -----------------------------------------------------------------------------------------
class _RepeatKeys:
    """`repeat_key` computed once per result object for the duration of one table build."""

    def __init__(self) -> None:
        self._keys: dict[int, tuple[RunResult, str]] = {}

    def __call__(self, result: RunResult) -> str:
        found = self._keys.get(id(result))
        if found is None or found[0] is not result:
            found = (result, repeat_key(result))
            self._keys[id(result)] = found
        return found[1]


def repeats_of(result: RunResult, pool: Iterable[RunResult], key: Callable[[RunResult], str] = repeat_key) -> list[RunResult]:
    """The `ok` runs in `pool` that repeat `result`'s measurement (same `repeat_key`), oldest
    first; [] when `result` is not `ok`."""
    if result.status != "ok":
        return []
    wanted = key(result)
    return sorted((r for r in pool if r.status == "ok" and key(r) == wanted), key=order_key)


def _metric_values(runs: Iterable[RunResult]) -> list[float]:
    return [v for r in runs if (v := r.metric[1]) is not None and v > 0]


def speedup_estimate(
    values: list[float], baseline_values: list[float], higher_is_better: bool, pooled: Pooled | None = None
) -> Estimate | None:
    """Speed-up over FP32 from both cells' repeats, with its interval
    (`stats.ratio_estimate`: Welch's t on the log values): this ÷ FP32 for throughput, FP32 ÷ this for latency."""
    if not values or not baseline_values:
        return None
    if higher_is_better:
        return ratio_estimate(values, baseline_values, pooled=pooled)
    return ratio_estimate(baseline_values, values, pooled=pooled)


# -- quality evidence: accuracy-mode runs ----------------------------------------------------------------
def accuracy_run_for(run: RunResult, pool: Iterable[RunResult]) -> RunResult | None:
    """The newest `ok` accuracy-mode run of the same artifact as `run`: same model, framework,
    precision, weights, data and device (and artifact key when both record one); any scenario
    (accuracy does not depend on it)."""
    p = run.profile
    key = run.artifact.get("key")
    return _newest(
        r for r in pool
        if r.status == "ok" and r.profile.mode == "accuracy"
        and (r.profile.framework, r.profile.precision) == (p.framework, p.precision)
        and (key is None or r.artifact.get("key") is None or r.artifact.get("key") == key)
        and same_weights_data_and_machine(r, run)
    )


def quality_delta(run: RunResult, pool: Iterable[RunResult]) -> str:
    """Accuracy (top-1 points) or fidelity change of `run`'s accuracy-mode run against the
    matching FP32 accuracy-mode run ("" when either is missing, and for FP32 itself)."""
    pool_list = list(pool)
    if run.profile.precision == "fp32":
        return ""
    acc = accuracy_run_for(run, pool_list)
    return accuracy_delta(acc, fp32_baseline(acc, pool_list)) if acc is not None else ""


def _newest(runs: Iterable[RunResult]) -> RunResult | None:
    return max(runs, key=order_key, default=None)
