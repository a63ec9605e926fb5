"""How much does running through qtui + LoadGen cost compared with the runtime's raw loop?

For one model × framework × precision, each scenario is measured in interleaved passes (a full
`qtui` run between two halves of the raw loop of bench/raw.py on the same artifact, threads and
samples), every pass printed with the machine's load, and each line judged by
its median ratio's 95 % bootstrap interval (bench/stats.py):
  Offline throughput qtui/raw ≥ 0.97; SingleStream p90 and MultiStream p99 qtui/raw ≤ 1.03.
Undecided lines get more passes while --budget-min lasts. bench/all.py runs every framework.

    .venv/bin/python bench/harness_overhead.py [--framework onnxruntime] [--precision int8_static]
        [--scenarios Offline,SingleStream,MultiStream] [--passes 5] [--budget-min 10]
"""

from __future__ import annotations

import argparse
import statistics

from harness import Config, Line, in_fresh_thread, measure_lines
from stats import bootstrap_ci, machine_line

from qtui.core.runner import resolve_threads

__all__ = ["in_fresh_thread", "main"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--framework", default="onnxruntime")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--scenarios", default="Offline,SingleStream,MultiStream")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--passes", "--repeats", dest="passes", type=int, default=5)
    ap.add_argument("--max-passes", type=int, default=15)
    ap.add_argument("--seconds", type=float, default=2.5, help="measured seconds per side and pass")
    ap.add_argument("--budget-min", type=float, default=10.0, help="stop adding passes after this")
    args = ap.parse_args()

    threads = resolve_threads(args.threads)
    cfg = Config(threads=threads, batch=args.batch, seconds=args.seconds, min_passes=args.passes,
                 max_passes=args.max_passes)
    print(f"Machine: {machine_line(threads)}", flush=True)
    lines = [Line(args.model, args.framework, args.precision, s) for s in args.scenarios.split(",")]
    measured = measure_lines(lines, cfg, args.budget_min * 60, lambda s: print(s, flush=True))
    print(f"\n{args.model} {args.framework} {args.precision}, {threads} threads, batch {args.batch}")
    print(f"Machine: {machine_line(threads)}")
    for m in measured:
        print(m.goal.line())
        if m.in_run_ratios:
            lo, hi = bootstrap_ci(m.in_run_ratios)
            us = f", {statistics.median(m.in_run_us):.0f} µs a query" if m.in_run_us else ""
            print(f"  in the same run, LoadGen ÷ predict calls: median {statistics.median(m.in_run_ratios):.3f} "
                  f"[95 % CI {lo:.3f}–{hi:.3f}]{us}")


if __name__ == "__main__":
    main()
