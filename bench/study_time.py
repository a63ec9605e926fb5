"""Studies in less time with the same confidence: a study with fixed repeats (every cell
`repeats` times: qtui's studies before adaptive repeats) against the adaptive one
(`[study] min_repeats`, `target_width`), on the same measured runs.

1. Runs the profile's study with fixed repeats into a scratch results folder (real LoadGen
   runs, the shipped profile's settings); its wall time is "before".
2. Replays the adaptive study on those runs: qtui's own `run_study` with the profile's adaptive
   `[study]` settings, in a second folder that holds only step 1's quality runs; every run it
   asks for is handed back from step 1 instead of measured again (a cell's k-th request gets
   the cell's k-th run, with the wall time that run took). "After" is step 1's preparing and
   quality time plus the wall time of the runs the adaptive study asked for. Both sides see
   the same runs, so the machine's drift between two long studies cannot make one look better.
3. Prints both times and their ratio and, per scenario, the cells' 95 % interval widths
   ((high − low) ÷ median): before as qtui prints them now (Student's t over the repeats), as
   it printed them until December 2026 (a bootstrap of 3 repeats: their range, a 75 %
   interval), and after (the adaptive study's tables: t over a cell's own runs from 3, the
   pooled spread below, marked ~).

    .venv/bin/python bench/study_time.py [--profile paper-matrix] [--framework F ...]
        [--precision P ...] [--scenario S ...] [--keep DIR] [--replay BEFORE_DIR]

`--replay` skips step 1 and replays on a fixed study measured before (a kept `before` folder, or
the scratch folder of a bench cut short, for the cells whose repeats are all there): each run's
wall time is then the time from its start to the next run's start, and "before" is measuring
only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from stats import machine_line

from qtui.core import runner
from qtui.core import study as study_module
from qtui.core.profile import StudySpec, load
from qtui.core.profile_store import resolve
from qtui.core.results import RunResult, load_results, measurement_disturbed
from qtui.core.study import StudyOptions, StudyReport, run_study
from qtui.core.study_tables import study_tables
from qtui.core.text import format_duration


def old_bootstrap_width(values: list[float]) -> float | None:
    """The interval qtui printed until December 2026: the percentile bootstrap of the median
    (2000 resamples, seed 0), as a fraction of the median; None below 3 values."""
    data = np.asarray(values, dtype=np.float64)
    if data.size < 3:
        return None
    idx = np.random.default_rng(0).integers(0, data.size, size=(2000, data.size))
    low, high = np.quantile(np.median(data[idx], axis=1), [0.025, 0.975])
    return float((high - low) / np.median(data))


def widths(results: list[RunResult]) -> dict[tuple[str, str, str], tuple[float | None, float | None, int, bool]]:
    """Per cell (scenario, framework, precision): its interval's width ÷ median (None without
    one), the old bootstrap's width over the same runs, its runs, and whether it is pooled."""
    out = {}
    for table in study_tables(results):
        for cell in table.cells():
            est = cell.estimate
            width = (est.high - est.low) / est.median if est is not None and est.has_interval and est.median else None  # type: ignore[operator]
            out[(table.scenario, cell.framework, cell.precision)] = (
                width, old_bootstrap_width(list(cell.values)), cell.repeats, bool(est and est.pooled),
            )
    return out


def _measured_before(
    folder: Path, profile: Any, filters: dict[str, Any], repeats: int
) -> tuple[list[RunResult], dict[str, float], list[RunResult]]:
    """A fixed study's runs measured before, for `--replay`: the performance runs of the cells in
    the filters (each must have `repeats` of them), each run's wall time (from its start to the
    next run's start in the folder; the last one its LoadGen duration plus the median of the
    others' overhead), and the quality runs."""
    from datetime import datetime

    from qtui.core.study import plan

    everything = sorted(load_results(folder), key=lambda r: r.created)
    perf = [r for r in everything if r.profile.mode == "performance"]
    starts = [datetime.fromisoformat(r.created).timestamp() for r in perf]
    seconds = {r.run_id: starts[k + 1] - starts[k] for k, r in enumerate(perf[:-1])}
    overheads = [seconds[r.run_id] - float((r.throughput or {}).get("duration_s") or 0) for r in perf[:-1]]
    last = perf[-1]
    seconds[last.run_id] = float((last.throughput or {}).get("duration_s") or 0) + (statistics.median(overheads) if overheads else 0.0)
    cells = {(c.model, c.framework, c.precision, c.scenario) for c in plan(profile, StudyOptions(**filters))}
    chosen = [r for r in perf if (r.profile.model, r.profile.framework, r.profile.precision, r.profile.scenario) in cells]
    for cell in cells:
        have = sum(1 for r in chosen if (r.profile.model, r.profile.framework, r.profile.precision, r.profile.scenario) == cell)
        if have < repeats:
            raise SystemExit(f"--replay: {' '.join(cell)} has {have} of {repeats} runs in {folder}: narrow the filters")
    quality = [r for r in everything if r.profile.mode != "performance"]
    return chosen, {r.run_id: seconds[r.run_id] for r in chosen}, quality


def _median(values: list[float]) -> str:
    return f"{statistics.median(values) * 100:.1f} %" if values else "–"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="paper-matrix")
    ap.add_argument("--framework", action="append", default=[])
    ap.add_argument("--precision", action="append", default=[])
    ap.add_argument("--scenario", action="append", default=[])
    ap.add_argument("--keep", type=Path, default=None, help="keep both results folders here")
    ap.add_argument(
        "--replay", type=Path, default=None,
        help="skip step 1: replay on a fixed study's results folder measured before (a kept `before`, or an "
        "interrupted bench's); each run's wall time is the time to the next run's start, and every cell in the "
        "filters must have all its repeats there",
    )
    args = ap.parse_args()

    profile = load(resolve(args.profile))
    spec = profile.study or StudySpec()
    if spec.min_repeats is None:
        raise SystemExit(f"{args.profile}: [study] min_repeats is not set: nothing adaptive to compare")
    fixed = replace(profile, study=replace(spec, min_repeats=None))
    filters: dict[str, Any] = {
        "frameworks": tuple(args.framework), "precisions": tuple(args.precision), "scenarios": tuple(args.scenario),
    }
    scratch = Path(tempfile.mkdtemp(prefix="qtui-study-time-"))
    before_dir, after_dir = scratch / "before", scratch / "after"
    print(machine_line(profile.threads or os.cpu_count() or 1))
    print(f"profile {args.profile}: repeats {spec.repeats}, adaptive min_repeats {spec.min_repeats}, "
          f"target_width {spec.target_width}; filters {filters}")

    # 1. the fixed study, measured; each run's wall time kept (what the adaptive replay spends)
    seconds_of: dict[str, float] = {}
    if args.replay is not None:
        before_dir = args.replay
        measured, seconds_of, quality = _measured_before(before_dir, profile, filters, spec.repeats)
        before_s = sum(seconds_of.values())
        prepare_s = quality_s = 0.0
        runs_before = len(measured)
    else:
        real_measure = study_module._Study.measure

        def timed_measure(self: Any, p: Any) -> tuple[RunResult, float]:
            result, seconds = real_measure(self, p)
            seconds_of[result.run_id] = seconds
            return result, seconds

        study_module._Study.measure = timed_measure  # type: ignore[method-assign]
        t0 = time.perf_counter()
        before: StudyReport = run_study(fixed, StudyOptions(results_root=before_dir, **filters))
        before_s = time.perf_counter() - t0
        study_module._Study.measure = real_measure  # type: ignore[method-assign]
        if before.cancelled:
            raise SystemExit("the fixed study was cancelled")
        prepare_s, quality_s, runs_before = before.prepare_s, before.quality_s, before.runs_done + before.runs_failed
        quality = before.quality_results
        measured = sorted(
            (r for r in load_results(before_dir) if r.profile.mode == "performance" and r.run_id in seconds_of),
            key=lambda r: r.created,
        )

    # 2. the adaptive study replayed on those runs
    after_dir.mkdir(parents=True)
    for r in quality:
        if (before_dir / r.run_id).is_dir():
            shutil.copytree(before_dir / r.run_id, after_dir / r.run_id)
    queue: dict[tuple[str, str, str, str], list[RunResult]] = {}
    for r in measured:
        queue.setdefault((r.profile.model, r.profile.framework, r.profile.precision, r.profile.scenario), []).append(r)
    spent: list[float] = []

    def replay(p: Any, *args: Any, **kwargs: Any) -> RunResult:
        """`runner.run` for the adaptive study: the cell's next run from step 1, copied where the
        study saves it; the study's own `measure` keeps it as any run."""
        result = queue[(p.model, p.framework, p.precision, p.scenario)].pop(0)
        shutil.copytree(before_dir / result.run_id, after_dir / result.run_id)
        spent.append(seconds_of[result.run_id])
        return result

    real_run = runner.run
    runner.run = replay  # type: ignore[assignment]
    try:
        after: StudyReport = run_study(profile, StudyOptions(results_root=after_dir, **filters))
    finally:
        runner.run = real_run
    after_s = prepare_s + quality_s + sum(spent)

    # 3. times and widths
    print(f"before (fixed, {runs_before} runs): {format_duration(before_s, 0)} "
          f"(preparing {format_duration(prepare_s, 0)}, quality {format_duration(quality_s, 0)}"
          + (", replayed: measuring only)" if args.replay is not None else ")"))
    print(f"after (adaptive, {after.runs_done + after.runs_failed} of those runs): {format_duration(after_s, 0)} "
          f"(measuring {format_duration(sum(spent), 0)})")
    print(f"after ÷ before: ×{after_s / before_s:.3f} of the time")
    disturbed = [r for r in measured if measurement_disturbed(r)]
    if disturbed:  # left out of every interval, as the study leaves them out: the comparison is off
        print(f"⚠ {len(disturbed)} of the {len(measured)} runs were disturbed (other processes, throttling): "
              "their cells lost those runs; re-run this bench on a quiet machine")
    w_before = widths([*measured, *quality])
    w_after = widths(load_results(after_dir))
    print("95 % interval width ÷ median, median over the cells (cells; runs):")
    for scenario in ("SingleStream", "MultiStream", "Offline"):
        keys = [k for k in w_before if k[0] == scenario]
        if not keys:
            continue
        t_before = [w for k in keys if (w := w_before[k][0]) is not None]
        boot = [w for k in keys if (w := w_before[k][1]) is not None]
        t_after = [w for k in keys if k in w_after and (w := w_after[k][0]) is not None]
        wider = [k for k in keys if k in w_after and w_after[k][0] is not None and w_before[k][0] is not None
                 and w_after[k][0] > w_before[k][0]]  # type: ignore[operator]
        no_interval = [k for k in keys if k not in w_after or w_after[k][0] is None]
        runs_b = sum(w_before[k][2] for k in keys)
        runs_a = sum(w_after[k][2] for k in keys if k in w_after)
        pooled = sum(1 for k in keys if k in w_after and w_after[k][3])
        print(f"  {scenario:<12} before t {_median(t_before)} (bootstrap printed before: {_median(boot)}, "
              f"a 75 % interval) · after {_median(t_after)} ({pooled} pooled) · {len(keys)} cells; "
              f"runs {runs_b} → {runs_a}; wider after: {len(wider)}; no interval after: {len(no_interval)}")
        for k in wider + no_interval:
            wb, wa = w_before[k][0], w_after.get(k, (None,))[0]
            print(f"      {k[1]} {k[2]}: {'–' if wb is None else f'{wb * 100:.1f} %'} → {'–' if wa is None else f'{wa * 100:.1f} %'}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        shutil.copytree(scratch, args.keep / scratch.name)
        print(f"results kept in {args.keep / scratch.name}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
