"""INT8 static ÷ FP32 speed-up per framework through qtui and LoadGen, next to the same speed-up
from the runtime's raw loop (bench/raw.py) over the very same artifacts, with intervals.

For MobileNetV2 and each framework available here, the harness lines FP32 and INT8 static ×
Offline and SingleStream are measured in interleaved passes (bench/harness.py); the k-th passes
of the two precisions pair into one speed-up ratio per pass:
  Offline       (qtui INT8/FP32 throughput) ÷ (raw INT8/FP32 throughput)
  SingleStream  (qtui FP32/INT8 p90) ÷ (raw FP32/INT8 p90)
Goal: within 5 % (0.95–1.05), judged by the median's 95 % bootstrap interval over passes.

    .venv/bin/python bench/speedups.py [--frameworks onnxruntime,openvino,tflite,torch] [--passes 5]
"""

from __future__ import annotations

import argparse
import statistics

from all import speedup_rows
from harness import Config, Line, measure_lines
from stats import machine_line

from qtui.core.catalog import availability
from qtui.core.runner import resolve_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", default="onnxruntime,openvino,tflite,torch")
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--scenarios", default="Offline,SingleStream")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--passes", "--repeats", dest="passes", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.5)
    ap.add_argument("--budget-min", type=float, default=20.0)
    args = ap.parse_args()
    threads = resolve_threads(args.threads)
    cfg = Config(threads=threads, batch=args.batch, seconds=args.seconds, min_passes=args.passes,
                 max_passes=max(args.passes, 15))
    print(f"Machine: {machine_line(threads)}", flush=True)
    lines: list[Line] = []
    for fw in args.frameworks.split(","):
        if not (availability(fw, "fp32").available and availability(fw, "int8_static").available):
            print(f"{fw}: skipped ({availability(fw, 'int8_static').reason or availability(fw, 'fp32').reason})")
            continue
        lines += [Line(args.model, fw, p, s) for p in ("fp32", "int8_static") for s in args.scenarios.split(",")]
    measured = measure_lines(lines, cfg, args.budget_min * 60, lambda s: print(s, flush=True))
    by = {(m.line.framework, m.line.precision, m.line.scenario): m for m in measured}
    print(f"\n{args.model}, {threads} threads, batch {args.batch}; {machine_line(threads)}")
    print("absolute figures, FP32 → INT8 static (median samples/s Offline; median p90 ms SingleStream)")
    for fw in dict.fromkeys(m.line.framework for m in measured):
        parts = []
        for s in args.scenarios.split(","):
            m32, m8 = by.get((fw, "fp32", s)), by.get((fw, "int8_static", s))
            if m32 and m8:
                med = statistics.median
                parts.append(f"{s} qtui {med(m32.qtui):.2f} → {med(m8.qtui):.2f}, raw {med(m32.raw):.2f} → {med(m8.raw):.2f}")
        print(f"  {fw}: " + "; ".join(parts))
    print("INT8/FP32 speed-up, qtui ÷ raw (goal 0.95–1.05)")
    for fw, scenario, n, med_, lo, hi, v in speedup_rows(measured):
        print(f"  {fw:<12} {scenario:<13} {med_:.3f} [95 % CI {lo:.3f}–{hi:.3f}] over {n} passes: {v}")


if __name__ == "__main__":
    main()
