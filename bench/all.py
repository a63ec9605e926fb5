"""The whole harness bench in one command: qtui ÷ raw for every framework × FP32 and INT8 static ×
SingleStream, MultiStream and Offline on MobileNetV2, plus one large model on one framework; the
INT8 ÷ FP32 speed-up through qtui against the raw speed-up, from the same passes; and a Markdown
table (CPU, cores, threads and the machine's load included) that the README can quote.

    .venv/bin/python bench/all.py [--budget-min 60] [--out bench-results.md]
        [--frameworks onnxruntime,openvino,tflite,torch] [--precisions fp32,int8_static]
        [--scenarios SingleStream,MultiStream,Offline] [--large densenet121:onnxruntime:fp32]
        [--passes 5] [--max-passes 15] [--seconds 2.5]

Each line first gets --passes interleaved passes; lines whose interval still straddles the goal
get more passes while --budget-min lasts (up to --max-passes). A line that stays *undecided*
on a busy machine says so: rerun it on a quieter one.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
import time
from pathlib import Path

from harness import GOALS, Config, Line, Measured, measure_lines
from stats import bootstrap_ci, machine_line, verdict

from qtui.core.catalog import availability
from qtui.core.runner import resolve_threads

SPEEDUP_BAND = (0.95, 1.05)


def band_verdict(low: float, high: float, band: tuple[float, float] = SPEEDUP_BAND) -> str:
    if low >= band[0] and high <= band[1]:
        return "meets"
    if high < band[0] or low > band[1]:
        return "misses"
    return "undecided"


def speedup_rows(measured: list[Measured]) -> list[tuple[str, str, int, float, float, float, str]]:
    """(framework, scenario, passes, median, CI low, CI high, verdict) of qtui's INT8/FP32
    speed-up ÷ the raw one, pairing the k-th passes of the two precisions."""
    by = {(m.line.model, m.line.framework, m.line.precision, m.line.scenario): m for m in measured}
    rows = []
    for (model, fw, precision, scenario), m8 in by.items():
        if precision != "int8_static" or model != "mobilenet_v2":
            continue
        m32 = by.get((model, fw, "fp32", scenario))
        if m32 is None:
            continue
        n = min(len(m8.goal.ratios), len(m32.goal.ratios))
        if n == 0:
            continue
        # speed-up ratio = (qtui8/qtui32)/(raw8/raw32) = harness8/harness32 (Offline);
        # latency speed-ups are fp32/int8, so the ratio inverts
        if scenario == "Offline":
            ratios = [m8.goal.ratios[k] / m32.goal.ratios[k] for k in range(n)]
        else:
            ratios = [m32.goal.ratios[k] / m8.goal.ratios[k] for k in range(n)]
        lo, hi = bootstrap_ci(ratios)
        rows.append((fw, scenario, n, statistics.median(ratios), lo, hi, band_verdict(lo, hi)))
    return rows


def markdown(measured: list[Measured], header: str, seconds: float) -> str:
    lines = [
        "## Harness overhead: qtui ÷ raw runtime loop",
        "",
        header,
        "",
        "Ratio per pass (raw loop for half the work, the qtui run, the raw loop for the other half); median with a 95 % bootstrap "
        "interval over passes. Offline: throughput, goal ≥ 0.97. SingleStream p90 / MultiStream p99 "
        "latency, goal ≤ 1.03. *undecided*: the interval straddles the goal (too noisy to tell). "
        "'other cores': CPU kept busy by other processes during the passes (median).",
        "",
        "| model | framework | precision | scenario | qtui | raw | qtui/raw | 95 % CI | goal | verdict | passes | other cores |",
        "|---|---|---|---|---:|---:|---:|---|---|---|---:|---:|",
    ]
    for m in measured:
        goal, higher = GOALS[m.line.scenario]
        if not m.goal.ratios:
            lines.append(
                f"| {m.line.model} | {m.line.framework} | {m.line.precision} | {m.line.scenario} | – | – | – | – | "
                f"{'≥' if higher else '≤'} {goal:g} | not measured ({'failed: ' + m.error if m.error else 'time budget'}) | 0 | – |"
            )
            continue
        lo, hi = m.goal.interval
        unit = "/s" if m.line.scenario == "Offline" else " ms"
        other = [v for v in m.other_cores if v == v]
        lines.append(
            f"| {m.line.model} | {m.line.framework} | {m.line.precision} | {m.line.scenario} | "
            f"{statistics.median(m.qtui):.2f}{unit} | {statistics.median(m.raw):.2f}{unit} | "
            f"{m.goal.median:.3f} | {lo:.3f}–{hi:.3f} | {'≥' if higher else '≤'} {goal:g} | "
            f"{m.goal.verdict} | {len(m.goal.ratios)} | {statistics.median(other) if other else float('nan'):.2f} |"
        )
    in_run = [m for m in measured if m.in_run_ratios]
    if in_run:
        lines += [
            "",
            "### In the same run: LoadGen's figure ÷ the runtime's own predict calls",
            "",
            "Drift between passes (the runtime's own speed moves by more than 3 % from one pass to the "
            "next on a shared machine) cannot enter this one: each qtui run times every `predict` "
            "call the SUT makes. SingleStream/MultiStream: its LoadGen percentile ÷ the same percentile of "
            "those calls; µs is LoadGen's mean latency − the mean predict call, i.e. what LoadGen, the "
            "SUT, the sample view and the completion add to a query. Offline: LoadGen's samples/s ÷ the "
            "samples/s of the predict calls alone (the share of the run spent in the runtime); µs is the "
            "time outside `predict` per batch. OpenVINO's Offline queue is asynchronous and has no "
            "call to time.",
            "",
            "| model | framework | precision | scenario | in-run ratio | 95 % CI | goal | verdict | µs/query or batch (median) | passes |",
            "|---|---|---|---|---:|---|---|---|---:|---:|",
        ]
        for m in in_run:
            lo, hi = bootstrap_ci(m.in_run_ratios)
            goal, higher = GOALS[m.line.scenario]
            line_verdict = verdict(lo, hi, goal, higher)
            us = f"{statistics.median(m.in_run_us):.0f}" if m.in_run_us else "–"
            lines.append(
                f"| {m.line.model} | {m.line.framework} | {m.line.precision} | {m.line.scenario} | "
                f"{statistics.median(m.in_run_ratios):.3f} | {lo:.3f}–{hi:.3f} | {'≥' if higher else '≤'} {goal:g} | "
                f"{line_verdict} | {us} | {len(m.in_run_ratios)} |"
            )
    rows = speedup_rows(measured)
    if rows:
        lines += [
            "",
            "### INT8 static ÷ FP32 speed-up: through qtui ÷ raw (same passes)",
            "",
            "| framework | scenario | qtui speed-up ÷ raw speed-up | 95 % CI | goal | verdict | passes |",
            "|---|---|---:|---|---|---|---:|",
        ]
        for fw, scenario, n, med, lo, hi, v in rows:
            lines.append(f"| {fw} | {scenario} | {med:.3f} | {lo:.3f}–{hi:.3f} | 0.95–1.05 | {v} | {n} |")
    lines += ["", f"Bench time {seconds / 60:.0f} min."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", default="onnxruntime,openvino,tflite,torch")
    ap.add_argument("--precisions", default="fp32,int8_static")
    ap.add_argument("--scenarios", default="SingleStream,MultiStream,Offline")
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--large", default="densenet121:onnxruntime:fp32",
                    help="model:framework:precision run in SingleStream and Offline ('' for none)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--max-passes", type=int, default=15)
    ap.add_argument("--seconds", type=float, default=2.5, help="measured seconds per side and pass")
    ap.add_argument("--budget-min", type=float, default=60.0, help="stop adding passes after this")
    ap.add_argument("--out", default="bench-results.md")
    args = ap.parse_args()

    threads = resolve_threads(args.threads)
    cfg = Config(threads=threads, batch=args.batch, seconds=args.seconds, min_passes=args.passes,
                 max_passes=args.max_passes)
    lines: list[Line] = []
    for fw in args.frameworks.split(","):
        for precision in args.precisions.split(","):
            a = availability(fw, precision)
            if not a.available:
                print(f"{fw} {precision}: skipped ({a.reason})")
                continue
            lines += [Line(args.model, fw, precision, s) for s in args.scenarios.split(",")]
    if args.large:
        model, fw, precision = args.large.split(":")
        lines += [Line(model, fw, precision, s) for s in ("SingleStream", "Offline")]

    header = f"Machine: {machine_line(threads)}. Date {_dt.date.today().isoformat()}."
    print(header, flush=True)
    t0 = time.monotonic()
    measured = measure_lines(lines, cfg, args.budget_min * 60, lambda s: print(s, flush=True))
    text = markdown(measured, f"Machine: {machine_line(threads)}.", time.monotonic() - t0)
    print()
    print(text)
    for m in measured:
        if not m.goal.ratios:
            continue
        if m.goal.verdict == "meets" and m.goal.higher_is_better and m.goal.interval[0] > 1.03:
            print(f"note: qtui beats the raw loop on {m.line.name}: the raw reference is not the runtime's best", file=sys.stderr)
        if m.goal.verdict == "meets" and not m.goal.higher_is_better and m.goal.interval[1] < 0.97:
            print(f"note: qtui beats the raw loop on {m.line.name}: the raw reference is not the runtime's best", file=sys.stderr)
    Path(args.out).write_text(text)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
