"""Does qtui add anything for a user model? The same network run as a built-in and as the user's
ONNX export of it, side by side: samples/s of the user model ÷ the built-in's, per pass, with
the median's 95 % bootstrap interval.

The export is the built-in's own FP32 ONNX artifact (qtui's torch → ONNX export of the same
weights), copied to a scratch folder and named in `model` as a user's file would be: both sides
then prepare and run the same graph through the same framework, precision and scenario, on the
same synthetic images; each pass runs both (the order alternating), so a drift of the machine
hits both alike. Goal: ×1 within the interval (0.95–1.05 band, as the harness bench).

    .venv/bin/python bench/user_model.py [--model mobilenet_v2] [--framework onnxruntime]
        [--precision fp32] [--scenario Offline] [--passes 5] [--seconds 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from stats import bootstrap_ci, machine_line

from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import RunOptions, prepare_only, resolve_threads, run

BAND = (0.95, 1.05)


def band_verdict(low: float, high: float) -> str:
    if low >= BAND[0] and high <= BAND[1]:
        return "same speed (interval within 0.95–1.05)"
    if high < BAND[0] or low > BAND[1]:
        return "DIFFERENT (interval outside 0.95–1.05)"
    return "undecided: more passes or a quieter machine"


def bench_profile(name: str, args: argparse.Namespace, threads: int) -> RunProfile:
    """The profile a bench times: the command line's model, framework, precision, scenario and
    batch, 256 synthetic images, LoadGen's quick preset for `args.seconds` a run."""
    return RunProfile(
        name=name, model=args.model, framework=args.framework, precision=args.precision,
        scenario=args.scenario, threads=threads, batch_size=args.batch, warmup_queries=16,
        dataset=DatasetSpec(count=256, performance_sample_count=256, calibration_count=256),
        loadgen=LoadGenSpec(preset="quick", min_duration_ms=int(args.seconds * 1000)),
    )


def samples_per_s(profile: RunProfile, results: Path) -> float:
    result = run(profile, None, None, RunOptions(results_root=results))
    if result.status not in ("ok", "invalid"):
        raise SystemExit(f"run {result.run_id} ended {result.status}: {result.message}")
    return float(result.throughput["samples_per_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--framework", default="onnxruntime")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--scenario", default="Offline")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    threads = resolve_threads(args.threads)
    builtin = bench_profile("bench-user-model", args, threads)
    with tempfile.TemporaryDirectory(prefix="qtui-bench-user-") as scratch:
        root = Path(scratch)
        fp32, _ = prepare_only(replace(builtin, framework="onnxruntime", precision="fp32"))
        export = root / f"{args.model}_export.onnx"
        shutil.copy(fp32.path, export)
        user = replace(builtin, model=str(export))
        print(machine_line(threads))
        print(f"{args.model} built-in vs {export.name} (its ONNX export) · {args.framework} {args.precision} "
              f"{args.scenario} · batch {args.batch} · {args.seconds:g} s a run")
        for profile in (builtin, user):  # prepared (and warmed) before any pass counts
            prepare_only(profile)
        ratios = []
        for k in range(args.passes):
            order = [("built-in", builtin), ("user", user)]
            if k % 2:
                order.reverse()
            rates = {name: samples_per_s(profile, root / "results") for name, profile in order}
            ratios.append(rates["user"] / rates["built-in"])
            print(f"  pass {k + 1}: built-in {rates['built-in']:.1f} samples/s, user {rates['user']:.1f} "
                  f"samples/s, ratio {ratios[-1]:.3f}")
        low, high = bootstrap_ci(ratios)
        print(f"user ÷ built-in samples/s: ×{statistics.median(ratios):.3f} [{low:.3f}–{high:.3f}] "
              f"(median, 95 % bootstrap interval over {len(ratios)} passes): {band_verdict(low, high)}")


if __name__ == "__main__":
    main()
