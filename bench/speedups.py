"""INT8 static ÷ FP32 speed-up per framework, through qtui and LoadGen, next to the same ratio from
a raw in-process loop over the very same artifacts — all measured in one run, interleaved.

For MobileNetV2 and each framework available here:
  Offline:      throughput ratio INT8/FP32 (qtui = LoadGen samples/s; raw = loop over batches)
  SingleStream: latency ratio FP32/INT8 at p90 (qtui = LoadGen p90; raw = batch-1 loop p90)
Goal: qtui's ratio within 5 % of the raw one.

    .venv/bin/python bench/speedups.py [--frameworks onnxruntime,openvino,tflite,torch] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from harness_overhead import raw_offline, raw_singlestream

from qtui.core.backends import get_backend
from qtui.core.catalog import availability
from qtui.core.data import calibration_indices, open_dataset
from qtui.core.prepare import CalibrationSpec, find_or_prepare
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, _dataset_identity, _Run, resolve_threads, run


def prepare(profile: RunProfile, dataset) -> object:
    helper = _Run(profile, lambda e: None, threading.Event(), RunOptions())
    calib = None
    if profile.precision == "int8_static":
        idx = calibration_indices(dataset, profile.dataset.calibration_count, seed=profile.dataset.seed)
        calib = CalibrationSpec(_dataset_identity(dataset), tuple(idx))

    def batches():
        for i in range(0, len(calib.indices), 8):
            yield dataset.get_batch(list(calib.indices[i : i + 8]))

    artifact, _ = find_or_prepare(profile, helper._model, calib, batches if calib else None, lambda s, f: None)
    return artifact


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", default="onnxruntime,openvino,tflite,torch")
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--offline-samples", type=int, default=1024)
    ap.add_argument("--ss-queries", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    threads = resolve_threads(args.threads)
    dataset = open_dataset("synthetic", 256)
    samples = dataset.get_batch(list(range(256)))
    results_root = Path(tempfile.mkdtemp(prefix="qtui-speedups-"))
    rows = []
    for fw in args.frameworks.split(","):
        if not (availability(fw, "fp32").available and availability(fw, "int8_static").available):
            print(f"{fw}: skipped ({availability(fw, 'int8_static').reason or availability(fw, 'fp32').reason})")
            continue
        figures: dict[str, dict[str, list[float]]] = {}
        for precision in ("fp32", "int8_static"):
            base = RunProfile(
                name="speedups", model=args.model, framework=fw, precision=precision, threads=args.threads,
                batch_size=args.batch, warmup_queries=16,
                dataset=DatasetSpec(count=256, performance_sample_count=256, calibration_count=300),
            )
            artifact = prepare(base, dataset)
            backend = get_backend(fw)
            backend.load(artifact, threads, "Offline")
            for _ in range(10):
                backend.predict(samples[: args.batch])
            f = figures.setdefault(precision, {"raw_off": [], "qtui_off": [], "raw_p90": [], "qtui_p90": []})
            off = replace(base, scenario="Offline", loadgen=LoadGenSpec(preset="quick", min_query_count=args.offline_samples))
            ss = replace(base, scenario="SingleStream", loadgen=LoadGenSpec(preset="quick", min_query_count=args.ss_queries))
            for _ in range(args.repeats):
                f["raw_off"].append(raw_offline(backend, samples, args.batch, args.offline_samples))
                f["qtui_off"].append(run(off, None, None, RunOptions(results_root=results_root)).loadgen["samples_per_second"])
                f["raw_p90"].append(raw_singlestream(backend, samples, args.ss_queries))
                f["qtui_p90"].append(run(ss, None, None, RunOptions(results_root=results_root)).loadgen["percentiles_ms"]["90.00"])
            backend.close()
        med = {p: {k: statistics.median(v) for k, v in d.items()} for p, d in figures.items()}
        q8, q32 = med["int8_static"], med["fp32"]
        rows.append((
            fw,
            q8["qtui_off"] / q32["qtui_off"], q8["raw_off"] / q32["raw_off"],
            q32["qtui_p90"] / q8["qtui_p90"], q32["raw_p90"] / q8["raw_p90"],
            q32["raw_off"], q8["raw_off"], q32["raw_p90"], q8["raw_p90"],
        ))
        print(f"{fw}: done", flush=True)
    print(f"\n{args.model}, {threads} threads, batch {args.batch}, medians of {args.repeats} interleaved passes")
    print(f"{'framework':<12} {'Offline x qtui':>14} {'raw':>6} {'qtui/raw':>8} | {'SS p90 x qtui':>13} {'raw':>6} {'qtui/raw':>8} | raw FP32→INT8 samples/s, p90 ms")
    for fw, qo, ro, qs, rs, f32o, i8o, f32p, i8p in rows:
        print(f"{fw:<12} {qo:>14.2f} {ro:>6.2f} {qo / ro:>8.3f} | {qs:>13.2f} {rs:>6.2f} {qs / rs:>8.3f} | {f32o:.0f}→{i8o:.0f}, {f32p:.2f}→{i8p:.2f}")


if __name__ == "__main__":
    main()
