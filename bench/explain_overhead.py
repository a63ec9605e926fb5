"""Does a profiling pass (`qtui explain`) change what qtui times afterwards? The same artifact timed
before and after a profiling pass, side by side with control passes timed twice with no profiling
in between: samples/s after ÷ before per pass, the medians' 95 % bootstrap intervals.

The profiler runs in its own session/interpreter and never in a timed run; what could leak is
state it leaves behind (a runtime-wide profiling switch, files in the artifact's folder, the
artifact cache). Each timed run is a real `qtui run` (LoadGen, a fresh backend on the cached
artifact). Profiled and control passes alternate, so a drift of the machine hits both alike.
Goal: the profiled ratio ×1 ("same speed") within the interval (0.95–1.05 band, as the other benches).

    .venv/bin/python bench/explain_overhead.py [--model mobilenet_v2] [--framework onnxruntime]
        [--precision fp32] [--scenario Offline] [--passes 8] [--seconds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from stats import bootstrap_ci, machine_line
from user_model import band_verdict, bench_profile, samples_per_s

from qtui.core.explain.profiling import profile_and_save
from qtui.core.runner import prepare_only, resolve_threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--framework", default="onnxruntime")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--scenario", default="Offline")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--passes", type=int, default=8, help="profiled and control passes, alternating")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--profiled-runs", type=int, default=5, help="inferences the profiling pass profiles")
    args = ap.parse_args()
    threads = resolve_threads(args.threads)
    profile = bench_profile("bench-explain", args, threads)
    with tempfile.TemporaryDirectory(prefix="qtui-bench-explain-") as scratch:
        root = Path(scratch)
        print(machine_line(threads))
        print(f"{args.model} {args.framework} {args.precision} {args.scenario} · batch {args.batch} · "
              f"{args.seconds:g} s a run · a profiling pass of {args.profiled_runs} inferences between "
              "the two timed runs of a profiled pass, none in a control pass")
        prepare_only(profile)
        samples_per_s(profile, root / "results")  # warm the caches before any pass counts
        ratios: dict[str, list[float]] = {"profiled": [], "control": []}
        for k in range(args.passes):
            kind = "profiled" if k % 2 == 0 else "control"
            before = samples_per_s(profile, root / "results")
            if kind == "profiled":
                profile_and_save(profile, root / "explain", runs=args.profiled_runs)
            after = samples_per_s(profile, root / "results")
            ratios[kind].append(after / before)
            print(f"  pass {k + 1} ({kind}): before {before:.1f} samples/s, after {after:.1f} samples/s, "
                  f"ratio {ratios[kind][-1]:.3f}")
        for kind, values in ratios.items():
            if not values:
                continue
            low, high = bootstrap_ci(values)
            verdict = band_verdict(low, high) if kind == "profiled" else "the machine's own drift"
            print(f"{kind}: after ÷ before ×{statistics.median(values):.3f} [{low:.3f}–{high:.3f}] "
                  f"(median, 95 % bootstrap interval over {len(values)} passes): {verdict}")


if __name__ == "__main__":
    main()
