"""What qtui's own per-query path costs, stage by stage, with the runtime taken out.

A full `qtui` run (the runner, LoadGen, the SUT, the recorder, the reporter thread and the load
monitor: everything a user runs) whose backend is replaced by a stand-in that holds the CPU for
exactly `--work-ms` per call and returns a preallocated answer. Whatever LoadGen measures beyond
that is qtui's and LoadGen's own. Each query is timed at four points — entry into the SUT's
`issue_queries`, start and end of the predict call, return to LoadGen — and the completion call
(`QuerySamplesComplete`) on its own, so the table says which stage costs what:

  entry → predict   registering the query, the sample view, the call into the backend
  predict → return  the completion: exactly-once bookkeeping, the response, LoadGen's call,
                    the recorder
  LoadGen − qtui    LoadGen's latency minus qtui's own recorded one (LoadGen's issue and
                    completion stamps)

and the ratio the harness goal speaks of: LoadGen's percentile ÷ the predict call's, in the same
run (no drift between passes can enter it). Run it on the quietest machine you have:

    .venv/bin/python bench/sut_path.py [--scenario SingleStream] [--work-ms 2] [--queries 2000]
        [--passes 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import PERCENTILE, in_fresh_thread
from stats import bootstrap_ci, machine_line

from qtui.core import loadgen as lg_module
from qtui.core.latency import exact_percentiles
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, resolve_threads, run


class _Stamps:
    """Per-query timestamps (ns) taken by the instrumented SUT and the stand-in backend."""

    def __init__(self) -> None:
        self.entry: list[int] = []
        self.exit: list[int] = []
        self.pred0: list[int] = []
        self.pred1: list[int] = []
        self.complete: list[int] = []


class _StandIn:
    """A backend that holds the CPU for `work_s` per call (a spin, as a runtime computing does)
    and returns a preallocated (batch, 1000) answer."""

    def __init__(self, inner: Any, work_s: float, stamps: _Stamps) -> None:
        self.inner = inner
        self.max_batch = inner.max_batch
        self.work_s = work_s
        self.stamps = stamps
        self.answer = np.zeros((64, 1000), np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.stamps.pred0.append(time.perf_counter_ns())
        end = time.perf_counter() + self.work_s
        while time.perf_counter() < end:
            pass
        self.stamps.pred1.append(time.perf_counter_ns())
        return self.answer[: batch.shape[0]]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _TimedLoadGen:
    """Forwards to mlperf_loadgen, timing `QuerySamplesComplete`."""

    def __init__(self, lg: Any, stamps: _Stamps) -> None:
        self._lg = lg
        self._stamps = stamps

    def QuerySamplesComplete(self, responses: Any) -> None:  # noqa: N802 - LoadGen's name
        t = time.perf_counter_ns()
        self._lg.QuerySamplesComplete(responses)
        self._stamps.complete.append(time.perf_counter_ns() - t)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lg, name)


def one_pass(scenario: str, work_s: float, queries: int, threads: int, root: Path) -> dict[str, float]:
    stamps = _Stamps()
    original_issue, original_init = lg_module.Sut.issue_queries, lg_module.Sut.__init__

    def issue(self: Any, samples: list[Any]) -> None:
        stamps.entry.append(time.perf_counter_ns())
        original_issue(self, samples)
        stamps.exit.append(time.perf_counter_ns())

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._lg = _TimedLoadGen(self._lg, stamps)

    spq = 8 if scenario == "MultiStream" else None
    profile = RunProfile(
        name="sut-path", scenario=scenario, threads=threads, batch_size=8, warmup_queries=16,
        dataset=DatasetSpec(count=64, performance_sample_count=64),
        loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=queries, samples_per_query=spq),
    )
    lg_module.Sut.issue_queries, lg_module.Sut.__init__ = issue, init  # type: ignore[method-assign]
    try:
        result = in_fresh_thread(
            run, profile, None, None,
            RunOptions(results_root=root, wrap_backend=lambda b: _StandIn(b, work_s, stamps)),
        )
    finally:
        lg_module.Sut.issue_queries, lg_module.Sut.__init__ = original_issue, original_init  # type: ignore[method-assign]
    if result.status not in ("ok", "invalid"):
        raise RuntimeError(f"run ended {result.status}: {result.message}")
    n = len(stamps.entry)
    entry, exit_ = np.array(stamps.entry), np.array(stamps.exit)
    pred0, pred1 = np.array(stamps.pred0[-n:]), np.array(stamps.pred1[-n:])
    key, lg_key = PERCENTILE[scenario]
    lg_pct = float(result.loadgen["percentiles_ms"][lg_key])
    predict = exact_percentiles(pred1 - pred0)
    return {
        "entry_predict_us": float(np.median(pred0 - entry)) / 1e3,
        "predict_return_us": float(np.median(exit_ - pred1)) / 1e3,
        "complete_call_us": float(np.median(stamps.complete[-n:])) / 1e3,
        "loadgen_minus_qtui_us": (lg_pct - float(result.latency_ms[key])) * 1e3,
        "pct_ratio": lg_pct / predict[key],
        "pct_extra_us": (lg_pct - predict[key]) * 1e3,
        "mean_extra_us": (float(result.loadgen["mean_latency_ms"]) - float((pred1 - pred0).mean()) / 1e6) * 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="SingleStream", choices=["SingleStream", "MultiStream"])
    ap.add_argument("--work-ms", type=float, default=2.0, help="the stand-in backend's time per call")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    threads = resolve_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="qtui-sut-path-"))
    print(f"Machine: {machine_line(threads)}", flush=True)
    key = PERCENTILE[args.scenario][0]
    rows: list[dict[str, float]] = []
    for k in range(args.passes):
        row = one_pass(args.scenario, args.work_ms / 1000, args.queries, threads, root)
        rows.append(row)
        print(
            f"  pass {k + 1}: entry→predict {row['entry_predict_us']:.1f} µs, predict→return "
            f"{row['predict_return_us']:.1f} µs (of which QuerySamplesComplete {row['complete_call_us']:.1f}), "
            f"LoadGen−qtui {key} {row['loadgen_minus_qtui_us']:+.1f} µs; LoadGen {key} ÷ predict {key} "
            f"{row['pct_ratio']:.4f} ({row['pct_extra_us']:+.0f} µs), mean {row['mean_extra_us']:+.0f} µs",
            flush=True,
        )
    ratios = [r["pct_ratio"] for r in rows]
    lo, hi = bootstrap_ci(ratios)
    med = {name: statistics.median(r[name] for r in rows) for name in rows[0]}
    goal = 1.03
    verdict = "meets" if hi <= goal else "misses" if lo > goal else "undecided"
    print(
        f"\n{args.scenario}, stand-in backend {args.work_ms:g} ms a call, {args.queries} queries × {len(rows)} passes "
        f"(medians): entry→predict {med['entry_predict_us']:.1f} µs, predict→return {med['predict_return_us']:.1f} µs "
        f"(QuerySamplesComplete {med['complete_call_us']:.1f}), LoadGen−qtui {med['loadgen_minus_qtui_us']:+.1f} µs at "
        f"{key}; LoadGen {key} ÷ predict {key} {statistics.median(ratios):.4f} [95 % CI {lo:.4f}–{hi:.4f}] "
        f"({med['pct_extra_us']:+.0f} µs), goal ≤ {goal}: {verdict}"
    )


if __name__ == "__main__":
    main()
