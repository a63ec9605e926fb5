"""How much does running through qtui + LoadGen cost compared with a raw in-process loop?

For the same artifact, threads and samples, alternately measures (repeats times, medians):
  * Offline throughput: qtui's LoadGen result ÷ a raw loop over the same batches;
  * SingleStream p90: qtui's LoadGen p90 ÷ the raw loop's p90 (batch 1).
Goal: Offline ratio ≥ 0.97, SingleStream p90 ratio ≤ 1.03.

    .venv/bin/python bench/harness_overhead.py [--framework onnxruntime] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from qtui.core.backends import get_backend
from qtui.core.data import open_dataset
from qtui.core.latency import exact_percentiles
from qtui.core.prepare import find_or_prepare
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, _Run, resolve_threads, run


def raw_offline(backend, samples: np.ndarray, batch: int, total: int) -> float:
    done = 0
    order = np.arange(total) % samples.shape[0]
    start = time.perf_counter()
    while done < total:
        idx = order[done : done + batch]
        backend.predict(samples[idx])
        done += len(idx)
    return total / (time.perf_counter() - start)


def raw_singlestream(backend, samples: np.ndarray, queries: int) -> float:
    lat = np.empty(queries, dtype=np.int64)
    for q in range(queries):
        x = samples[q % samples.shape[0]][None]
        t = time.perf_counter_ns()
        backend.predict(x)
        lat[q] = time.perf_counter_ns() - t
    return exact_percentiles(lat)["p90"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--framework", default="onnxruntime")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--offline-samples", type=int, default=1024)
    ap.add_argument("--ss-queries", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    base = RunProfile(
        name="bench",
        model=args.model,
        framework=args.framework,
        precision=args.precision,
        threads=args.threads,
        batch_size=args.batch,
        warmup_queries=16,
        dataset=DatasetSpec(count=256, performance_sample_count=256),
    )
    threads = resolve_threads(args.threads)
    helper = _Run(base, lambda e: None, __import__("threading").Event(), RunOptions())
    artifact, _ = find_or_prepare(base, helper._model, None, None, lambda s, f: None)
    dataset = open_dataset("synthetic", 256)
    samples = dataset.get_batch(list(range(256)))
    backend = get_backend(args.framework)
    backend.load(artifact, threads, "Offline")
    for _ in range(10):
        backend.predict(samples[: args.batch])

    results_root = Path(tempfile.mkdtemp(prefix="qtui-bench-"))
    off = replace(base, scenario="Offline", loadgen=LoadGenSpec(preset="quick", min_query_count=args.offline_samples))
    ss = replace(base, scenario="SingleStream", loadgen=LoadGenSpec(preset="quick", min_query_count=args.ss_queries))
    raw_off, qtui_off, raw_p90, qtui_p90 = [], [], [], []
    for rep in range(args.repeats):
        raw_off.append(raw_offline(backend, samples, args.batch, args.offline_samples))
        r = run(off, None, None, RunOptions(results_root=results_root))
        qtui_off.append(r.loadgen["samples_per_second"])
        raw_p90.append(raw_singlestream(backend, samples, args.ss_queries))
        r = run(ss, None, None, RunOptions(results_root=results_root))
        qtui_p90.append(r.loadgen["percentiles_ms"]["90.00"])
        print(f"pass {rep + 1}: offline raw {raw_off[-1]:.1f}/s qtui {qtui_off[-1]:.1f}/s | "
              f"SS p90 raw {raw_p90[-1]:.3f} ms qtui {qtui_p90[-1]:.3f} ms", flush=True)

    med = statistics.median
    off_ratio = med(qtui_off) / med(raw_off)
    ss_ratio = med(qtui_p90) / med(raw_p90)
    print(f"\n{args.model} {args.framework} {args.precision}, {threads} threads, batch {args.batch}, {args.repeats} passes (medians)")
    print(f"Offline throughput  qtui/raw = {med(qtui_off):.1f} / {med(raw_off):.1f} = {off_ratio:.3f}  (goal ≥ 0.97)")
    print(f"SingleStream p90    qtui/raw = {med(qtui_p90):.3f} / {med(raw_p90):.3f} ms = {ss_ratio:.3f}  (goal ≤ 1.03)")


if __name__ == "__main__":
    main()
