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
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qtui.core.backends import get_backend
from qtui.core.data import open_dataset
from qtui.core.latency import exact_percentiles
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, prepare_only, resolve_threads, run

T = TypeVar("T")


def in_fresh_thread(fn: Callable[..., T], *args: Any) -> T:
    """Call fn(*args) in a new thread and return its value.

    Every measurement runs in its own short-lived thread, as qtui's runs do (`qtui run` and the
    UI run in worker threads). It matters for PyTorch: with libgomp, a thread that computes while
    another thread's OpenMP team is still alive (e.g. the main thread's, after it ran torch once)
    gets 2-4x slower on a 2-core machine, because libgomp stops spin-waiting when it manages more
    threads than there are CPUs. A thread's team goes away when the thread ends."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    worker = threading.Thread(target=work, name="bench-measure")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def raw_offline(framework: str, artifact, threads: int, samples: np.ndarray, batch: int, total: int) -> float:
    """Samples/s of a plain loop over batches, the backend loaded for Offline exactly as qtui
    loads it, using the runtime's own streaming path (OpenVINO: its async infer queue)."""
    backend = get_backend(framework)
    backend.load(artifact, threads, "Offline")
    try:
        order = np.arange(total) % samples.shape[0]
        batches = [samples[order[i : i + batch]] for i in range(0, total, batch)]
        backend.predict_stream(iter(enumerate(batches[:4])), lambda k, y: None)  # warm-up
        start = time.perf_counter()
        backend.predict_stream(iter(enumerate(batches)), lambda k, y: None)
        return total / (time.perf_counter() - start)
    finally:
        backend.close()


def raw_singlestream(framework: str, artifact, threads: int, samples: np.ndarray, queries: int) -> float:
    """p90 ms of batch-1 calls one after another, the backend loaded for SingleStream."""
    backend = get_backend(framework)
    backend.load(artifact, threads, "SingleStream")
    try:
        for i in range(16):  # warm-up
            backend.predict(samples[i % samples.shape[0]][None])
        lat = np.empty(queries, dtype=np.int64)
        for q in range(queries):
            x = samples[q % samples.shape[0]][None]
            t = time.perf_counter_ns()
            backend.predict(x)
            lat[q] = time.perf_counter_ns() - t
        return exact_percentiles(lat)["p90"]
    finally:
        backend.close()


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
    artifact, _ = prepare_only(base)
    dataset = open_dataset("synthetic", 256)
    samples = dataset.get_batch(list(range(256)))

    results_root = Path(tempfile.mkdtemp(prefix="qtui-bench-"))
    off = replace(base, scenario="Offline", loadgen=LoadGenSpec(preset="quick", min_query_count=args.offline_samples))
    ss = replace(base, scenario="SingleStream", loadgen=LoadGenSpec(preset="quick", min_query_count=args.ss_queries))
    raw_off, qtui_off, raw_p90, qtui_p90 = [], [], [], []
    for rep in range(args.repeats):
        raw_off.append(in_fresh_thread(raw_offline, args.framework, artifact, threads, samples, args.batch, args.offline_samples))
        r = in_fresh_thread(run, off, None, None, RunOptions(results_root=results_root))
        qtui_off.append(r.loadgen["samples_per_second"])
        raw_p90.append(in_fresh_thread(raw_singlestream, args.framework, artifact, threads, samples, args.ss_queries))
        r = in_fresh_thread(run, ss, None, None, RunOptions(results_root=results_root))
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
