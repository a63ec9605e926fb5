"""INT8 static ÷ FP32 speed-up per framework, through qtui and LoadGen, next to the same ratio from
a raw in-process loop over the very same artifacts — all measured in one run, interleaved.

For MobileNetV2 and each framework available here:
  Offline:      throughput ratio INT8/FP32 (qtui = LoadGen samples/s; raw = a plain loop over the
                same batches through the runtime's own streaming path, loaded for Offline)
  SingleStream: latency ratio FP32/INT8 at p90 (qtui = LoadGen p90; raw = batch-1 calls one after
                another, the runtime loaded for SingleStream)
Goal: qtui's ratio within 5 % of the raw one. Absolute figures are printed too, to compare with
the raw reference in shared/facts.md (measured on a different CPU: see the README).

    .venv/bin/python bench/speedups.py [--frameworks onnxruntime,openvino,tflite,torch] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from harness_overhead import in_fresh_thread, raw_offline, raw_singlestream

from qtui.core.catalog import availability
from qtui.core.data import open_dataset
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, prepare_only, resolve_threads, run


def prepare(profile: RunProfile) -> object:
    """The profile's artifact, prepared (or found in the cache) exactly as `qtui run` would."""
    artifact, _ = prepare_only(profile)
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
            artifact = in_fresh_thread(prepare, base)
            f = figures.setdefault(precision, {"raw_off": [], "qtui_off": [], "raw_p90": [], "qtui_p90": []})
            off = replace(base, scenario="Offline", loadgen=LoadGenSpec(preset="quick", min_query_count=args.offline_samples))
            ss = replace(base, scenario="SingleStream", loadgen=LoadGenSpec(preset="quick", min_query_count=args.ss_queries))
            for _ in range(args.repeats):
                opts = RunOptions(results_root=results_root)
                f["raw_off"].append(in_fresh_thread(raw_offline, fw, artifact, threads, samples, args.batch, args.offline_samples))
                f["qtui_off"].append(in_fresh_thread(run, off, None, None, opts).loadgen["samples_per_second"])
                f["raw_p90"].append(in_fresh_thread(raw_singlestream, fw, artifact, threads, samples, args.ss_queries))
                f["qtui_p90"].append(in_fresh_thread(run, ss, None, None, opts).loadgen["percentiles_ms"]["90.00"])
        med = {p: {k: statistics.median(v) for k, v in d.items()} for p, d in figures.items()}
        q8, q32 = med["int8_static"], med["fp32"]
        rows.append((fw, q32, q8))
        print(f"{fw}: done", flush=True)
    print(f"\n{args.model}, {threads} threads, batch {args.batch}, medians of {args.repeats} interleaved passes")
    print("INT8 static / FP32: Offline throughput ratio and SingleStream p90 latency ratio (FP32 p90 / INT8 p90)")
    print(f"{'framework':<12} {'Off x qtui':>10} {'raw':>5} {'qtui/raw':>8} | {'SS x qtui':>9} {'raw':>5} {'qtui/raw':>8}")
    for fw, q32, q8 in rows:
        qo, ro = q8["qtui_off"] / q32["qtui_off"], q8["raw_off"] / q32["raw_off"]
        qs, rs = q32["qtui_p90"] / q8["qtui_p90"], q32["raw_p90"] / q8["raw_p90"]
        print(f"{fw:<12} {qo:>10.2f} {ro:>5.2f} {qo / ro:>8.3f} | {qs:>9.2f} {rs:>5.2f} {qs / rs:>8.3f}")
    print("\nabsolute figures, FP32 → INT8 static (samples/s Offline; p90 ms SingleStream)")
    print(f"{'framework':<12} {'qtui Offline':>16} {'raw Offline':>16} | {'qtui SS p90':>15} {'raw SS p90':>15}")
    for fw, q32, q8 in rows:
        print(f"{fw:<12} {q32['qtui_off']:>7.0f} → {q8['qtui_off']:<6.0f} {q32['raw_off']:>7.0f} → {q8['raw_off']:<6.0f} | "
              f"{q32['qtui_p90']:>6.2f} → {q8['qtui_p90']:<6.2f} {q32['raw_p90']:>6.2f} → {q8['raw_p90']:<6.2f}")

if __name__ == "__main__":
    main()
