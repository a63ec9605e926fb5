"""The study tables: `study_tables` + `study_markdown` + `study_notes`: the study's framework ×
precision cells per model and scenario (median of the repeats with a 95 % interval,
speed-up, unstable flag, fidelity, Δ, executed precision and efficiency (GOP/s, share of the
nominal peak) on demand, devices side by side; `StudyCell.warnings`: what the runs behind a
cell recorded, marked `⚠` and listed per kind by `study_notes`). The CLI, the UI, `recommend`
and every export only render these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from statistics import median
from typing import Any, NamedTuple

from qtui.core.catalog import FRAMEWORK_TITLES
from qtui.core.identity import device_label
from qtui.core.labels import PRECISION_TABLE
from qtui.core.labels import title as label_title
from qtui.core.matching import (
    _metric_values,
    _newest,
    _RepeatKeys,
    accuracy_run_for,
    fp32_baseline,
    quality_delta,
    repeats_of,
    speedup,
    speedup_estimate,
)
from qtui.core.ops import fraction_text
from qtui.core.profile import FRAMEWORKS, MODELS, PRECISIONS, SCENARIOS
from qtui.core.results import (
    WARNING_KINDS,
    RunResult,
    ScenarioMetric,
    _as_number,
    measurement_disturbed,
    measurement_warnings,
    scenario_metric,
    warning_kind,
)
from qtui.core.run_table import _md_cell, fidelity_short, format_figure, runs_text
from qtui.core.stats import (
    CONFIDENCE,
    MIN_FOR_INTERVAL,
    UNSTABLE_SPREAD,
    Estimate,
    Pooled,
    median_estimate,
    pooled_for,
)
from qtui.core.text import one_line

# -- the study tables ------------------------------------------------------------------------------
STUDY_PRECISION_LABELS = {p.id: p.short for p in PRECISION_TABLE}
STUDY_INVALID_MARK = "*"
STUDY_UNSTABLE_MARK = "!"
STUDY_SYNTHETIC_CALIBRATION_MARK = "†"
STUDY_EMPTY_CELL = "–"
STUDY_SPEEDUP_NOTE = (
    "×: speed-up over the FP32 run with the same model, framework, scenario, threads, batch size, "
    "weights, data, LoadGen settings and machine"
)
STUDY_REPEATS_NOTE = (
    "Repeats: a cell is the median of its ok runs with the same profile, artifact and machine; "
    f"[low–high]: {CONFIDENCE * 100:.0f} % CI over the repeats (Student's t on the logarithms of the "
    f"repeats, given from {MIN_FOR_INTERVAL} repeats on; for the speed-up, Welch's t on the "
    "difference of the two cells' log means: each cell's run-to-run spread counted)"
)
STUDY_POOLED_MARK = "~"
STUDY_POOLED_NOTE = (
    f"{STUDY_POOLED_MARK} fewer than {MIN_FOR_INTERVAL} repeats of its own: the interval takes the "
    "run-to-run spread pooled over the cells of its table and device that have repeats (the "
    "logarithms' spread around each cell's mean, t with the pooled degrees of freedom): it assumes "
    "that spread is alike across frameworks and precisions on one machine and scenario "
    "(`[study] min_repeats = 3` measures every cell's own)"
)
STUDY_UNSTABLE_NOTE = (
    f"{STUDY_UNSTABLE_MARK} unstable: the repeats spread more than {UNSTABLE_SPREAD * 100:.0f} % "
    "(1.4826 × median absolute deviation ÷ median, like pyperf's warning): a quieter machine or "
    "more repeats would narrow it"
)
STUDY_DELTA_NOTE = (
    "Δ: top-1 (points), else centred top-1 agreement (points) or SQNR (dB), of the cell's "
    "accuracy-mode run minus the FP32 accuracy-mode run's (– where either was not run)"
)
STUDY_EXECUTED_NOTE = "ran: the precision the runtime reported executing"
STUDY_EFFICIENCY_NOTE = (
    "GOP/s: the operations per second the cell's samples/s amount to (2 × the model's counted "
    "MACs per image × samples/s, median of the repeats); % of nominal peak: of the CPU's nominal "
    "peak for the arithmetic that executed (cores × clock × operations per cycle of its vector "
    "units: documented issue widths, never measured), not given where the executed precision or "
    "the CPU does not settle it; ≤: the clock is not known to be the maximum (no cpufreq, e.g. in "
    "a VM: /proc/cpuinfo's or the model name's, which boost may exceed), so the share is an upper bound"
)
STUDY_INVALID_NOTE = f"{STUDY_INVALID_MARK} LoadGen said INVALID (e.g. too short): no speed-up given"
STUDY_WARNING_MARK = "⚠"
STUDY_WARNING_NOTE = (
    f"{STUDY_WARNING_MARK} the figure rests on runs that recorded a warning (a speed-up also on its "
    "FP32 runs): it is suspect; re-measure on a quiet machine (`qtui study` measures a disturbed "
    "run again and keeps the old file). The runs, once per kind:"
)


class CellWarning(NamedTuple):
    """A warning recorded by a run whose figures a study cell shows."""

    run_id: str
    kind: str  # a key of WARNING_KINDS
    text: str
    #: the run is one of the FP32 cell's repeats the speed-up divides by, not the cell's own
    baseline: bool = False


def _cell_warnings(runs: Iterable[RunResult], baseline: bool = False) -> tuple[CellWarning, ...]:
    return tuple(
        CellWarning(r.run_id, warning_kind(w), w, baseline) for r in runs for w in measurement_warnings(r)
    )


def _prefer_clean(group: list[RunResult]) -> tuple[list[RunResult], tuple[str, ...]]:
    """The repeats a cell aggregates: the undisturbed ones when there are any (the disturbed ones
    are left out and named), else all of them (and the cell carries their warnings)."""
    clean = [r for r in group if not measurement_disturbed(r)]
    if not clean or len(clean) == len(group):
        return group, ()
    return clean, tuple(r.run_id for r in group if measurement_disturbed(r))
STUDY_SYNTHETIC_CALIBRATION_NOTE = (
    f"{STUDY_SYNTHETIC_CALIBRATION_MARK} INT8 static calibrated on synthetic images, not on the "
    "measured data (dataset.calibration = 'synthetic'): calibrating on the data may do better"
)


def calibrated_on_synthetic(result: RunResult) -> bool:
    """Whether the run's INT8 static artifact was calibrated on synthetic images while the run
    measured other data (recorded by the runner as `provenance.calibration_data`)."""
    return result.provenance.get("calibration_data") == "synthetic"


@dataclass(frozen=True)
class StudyCell:
    """One framework × precision cell on one device. With `ok` runs it aggregates every `ok` run
    that repeats the newest one's measurement (`repeats_of`): `value` is their median,
    `estimate` the median with its interval, `speedup`/`speedup_estimate` the speed-up over the
    matching FP32 cell's repeats (None for FP32 itself). Without `ok` runs it is the newest
    INVALID run, with no speed-up. `fidelity` is the short accuracy/fidelity of the matching
    accuracy-mode run ("" when there is none), `delta` its change against FP32, `executed` what
    the runtime reported executing, `efficiency` the GOP/s achieved and share of the nominal peak
    (the runs' recorded `efficiency`, medians over the repeats). `warnings` are the warnings of
    every run its figures rest on (its repeats, and the FP32 repeats of its speed-up, marked
    `baseline`): every view marks such a cell (`metric_text`/`speedup_text` end with `⚠`) and
    `study_notes` names the runs per kind. Disturbed repeats are left out (`left_out`) when
    undisturbed repeats of the same measurement exist."""

    run_id: str  # the newest run of the cell
    status: str
    value: float | None
    speedup: float | None
    fidelity: str
    estimate: Estimate | None = None
    speedup_estimate: Estimate | None = None
    run_ids: tuple[str, ...] = ()  # every run aggregated, oldest first
    values: tuple[float, ...] = ()  # their scenario metric
    delta: str = ""
    executed: str = ""
    device: str = ""
    framework: str = ""
    precision: str = ""
    efficiency: str = ""
    #: every warning recorded by a run this cell's figures rest on: its own runs, and (marked
    #: `baseline`) the FP32 repeats its speed-up divides by; () when they were all quiet
    warnings: tuple[CellWarning, ...] = ()
    #: disturbed repeats not aggregated because undisturbed repeats of the same measurement exist
    left_out: tuple[str, ...] = ()
    #: INT8 static calibrated on synthetic images while measuring other data (marked †)
    synthetic_calibration: bool = False
    #: the run-to-run spread its intervals borrow (fewer than 3 repeats, `stats.pooled_for`)
    pooled: Pooled | None = None

    @property
    def repeats(self) -> int:
        return max(len(self.run_ids), 1)

    @property
    def disturbed(self) -> bool:
        """True when a run behind the cell's figures recorded a warning."""
        return bool(self.warnings)

    @property
    def warning_kinds(self) -> tuple[str, ...]:
        """The kinds of the cell's warnings (keys of WARNING_KINDS), in that table's order."""
        kinds = {w.kind for w in self.warnings}
        return tuple(k for k in WARNING_KINDS if k in kinds)

    @property
    def warned_runs(self) -> tuple[str, ...]:
        """The runs that recorded the cell's warnings, each once."""
        return tuple(dict.fromkeys(w.run_id for w in self.warnings))

    @property
    def unstable(self) -> bool:
        return self.estimate is not None and self.estimate.unstable

    @property
    def has_interval(self) -> bool:
        return self.estimate is not None and self.estimate.has_interval

    def metric_text(self) -> str:
        """"8.04 [7.91–8.20]" with an interval, else "8.04"; then "!" when unstable, "†" when
        calibrated on synthetic images for other data, "*" when INVALID."""
        text = format_figure(self.value) or "n/a"
        est = self.estimate
        if est is not None and est.has_interval:
            text += f" [{format_figure(est.low)}–{format_figure(est.high)}]"
            if est.pooled:
                text += STUDY_POOLED_MARK
        if self.unstable:
            text += STUDY_UNSTABLE_MARK
        if self.synthetic_calibration:
            text += STUDY_SYNTHETIC_CALIBRATION_MARK
        if self.status != "ok":
            text += STUDY_INVALID_MARK
        if any(not w.baseline for w in self.warnings):
            text += f" {STUDY_WARNING_MARK}"
        return text

    def speedup_text(self) -> str:
        """"×2.50 [2.41–2.58]", "×2.50" without an interval, "" without a speed-up."""
        if self.speedup is None:
            return ""
        text = f"×{self.speedup:.2f}"
        est = self.speedup_estimate
        if est is not None and est.has_interval:
            text += f" [{est.low:.2f}–{est.high:.2f}]"
            if est.pooled:
                text += STUDY_POOLED_MARK
        if self.warnings:  # it rests on the cell's own runs and on the FP32 runs it divides by
            text += f" {STUDY_WARNING_MARK}"
        return text

    def lines(self, executed: bool = False, delta: bool = False, efficiency: bool = False) -> tuple[str, ...]:
        """The cell as text. One run (or no interval): "8.04 ×2.50" (then "*" when INVALID);
        with an interval the speed-up gets its own line. Then the fidelity, and on demand the
        Δ versus FP32, the executed precision and the efficiency ("12.3 GOP/s, 4.1 % of
        nominal peak")."""
        metric, speed = self.metric_text(), self.speedup_text()
        with_interval = self.has_interval or (self.speedup_estimate is not None and self.speedup_estimate.has_interval)
        out = [metric, speed] if speed and with_interval else [f"{metric} {speed}" if speed else metric]
        if self.fidelity:
            out.append(self.fidelity)
        if delta and self.precision != "fp32" and self.status == "ok":
            out.append(f"Δ {self.delta or STUDY_EMPTY_CELL}")
        if executed and self.executed:
            out.append(f"ran: {self.executed}")
        if efficiency and self.efficiency:
            out.append(self.efficiency)
        return tuple(out)


class StudyRow(NamedTuple):
    """One framework on one device: a cell per precision of the table (None: nothing run)."""

    framework: str
    cells: tuple[StudyCell | None, ...]
    device: str = ""


@dataclass(frozen=True)
class StudyTable:
    """Framework × precision for one model and scenario: `rows` are (framework, cells, device),
    one cell per precision in `precisions` (None where nothing was run). With results from
    several devices each framework has a row per device, side by side, and the table a "device"
    column."""

    model: str
    scenario: str
    precisions: tuple[str, ...]
    rows: tuple[StudyRow, ...]
    devices: tuple[str, ...] = ()
    show_executed: bool = False
    show_delta: bool = False
    show_efficiency: bool = False

    @property
    def metric(self) -> ScenarioMetric:
        return scenario_metric(self.scenario)

    @property
    def title(self) -> str:
        return f"{label_title(self.model)} · {self.scenario}: {self.metric.label}, ×FP32"

    @property
    def by_device(self) -> bool:
        return len(self.devices) > 1

    @property
    def label_columns(self) -> int:
        """The leading text columns: framework, and device when there are several."""
        return 2 if self.by_device else 1

    @property
    def header(self) -> list[str]:
        labels = ["framework", "device"] if self.by_device else ["framework"]
        return [*labels, *(STUDY_PRECISION_LABELS.get(p, p) for p in self.precisions)]

    def text_rows(self) -> list[list[tuple[str, ...]]]:
        """Every row as text: the framework's title (and the device), then each cell's lines."""
        out = []
        for row in self.rows:
            labels = [(FRAMEWORK_TITLES.get(row.framework, row.framework),)]
            if self.by_device:
                labels.append((row.device,))
            out.append([
                *labels,
                *(
                    (c.lines(self.show_executed, self.show_delta, self.show_efficiency) if c else (STUDY_EMPTY_CELL,))
                    for c in row.cells
                ),
            ])
        return out

    def cells(self) -> list[StudyCell]:
        """Every cell that has a run, row by row."""
        return [c for row in self.rows for c in row.cells if c is not None]

    @property
    def has_invalid(self) -> bool:
        return any(c.status != "ok" for c in self.cells())

    @property
    def has_repeats(self) -> bool:
        return any(c.repeats > 1 for c in self.cells())

    @property
    def has_unstable(self) -> bool:
        return any(c.unstable for c in self.cells())

    @property
    def has_pooled(self) -> bool:
        return any(e is not None and e.pooled for c in self.cells() for e in (c.estimate, c.speedup_estimate))

    @property
    def has_warnings(self) -> bool:
        return any(c.warnings or c.left_out for c in self.cells())

    @property
    def has_synthetic_calibration(self) -> bool:
        return any(c.synthetic_calibration for c in self.cells())


def _fidelity_for(run: RunResult, pool: list[RunResult]) -> str:
    """Short accuracy/fidelity of the newest `ok` accuracy-mode run of the same artifact."""
    source = accuracy_run_for(run, pool)
    return fidelity_short(source) if source is not None else ""


def _executed(runs: Iterable[RunResult]) -> str:
    seen: list[str] = []
    for r in runs:
        text = one_line(r.artifact.get("executed_precision") or "").strip()
        if text and text not in seen:
            seen.append(text)
    return " / ".join(seen)


def _efficiency(runs: Iterable[RunResult]) -> str:
    """"12.3 GOP/s, 4.1 % of nominal peak" from the runs' recorded efficiency (medians over the
    runs that recorded it; the share only where a nominal peak was derived); "" without any."""
    records = [r.efficiency or {} for r in runs]
    gops = [v for e in records if (v := _as_number(e.get("achieved_gops"))) is not None]
    if not gops:
        return ""
    text = f"{format_figure(float(median(gops)))} GOP/s"
    shares = [v for e in records if (v := _as_number(e.get("fraction_of_nominal_peak"))) is not None]
    if not shares:
        return text
    bound = any(e.get("fraction_is_upper_bound") is True for e in records)
    return f"{text}, {fraction_text(float(median(shares)), bound)} of nominal peak"


def _study_cell(
    runs: list[RunResult], pool: list[RunResult], key: Callable[[RunResult], str], device: str,
    pooled: Pooled | None = None,
) -> StudyCell | None:
    """The cell of `runs` (one framework, precision, model, scenario and device; ok or INVALID
    performance runs): see `StudyCell`. With fewer than 3 repeats its intervals take the
    `pooled` spread of its table and device."""
    newest_ok = _newest(r for r in runs if r.status == "ok")
    if newest_ok is None:
        shown = _newest(runs)
        if shown is None:
            return None
        p = shown.profile
        value = shown.metric[1]
        return StudyCell(
            shown.run_id, shown.status, value, None, _fidelity_for(shown, pool),
            run_ids=(shown.run_id,), values=(value,) if value is not None else (),
            executed=_executed([shown]), device=device, framework=p.framework, precision=p.precision,
            efficiency=_efficiency([shown]), warnings=_cell_warnings([shown]),
            synthetic_calibration=calibrated_on_synthetic(shown),
        )
    p = newest_ok.profile
    group, left_out = _prefer_clean(repeats_of(newest_ok, runs, key))
    newest_ok = group[-1]
    values = _metric_values(group)
    estimate = median_estimate(values, pooled=pooled) if values else None
    sp: Estimate | None = None
    warnings = _cell_warnings(group)
    if p.precision != "fp32":
        base = fp32_baseline(newest_ok, pool)
        if base is not None and speedup(newest_ok, base) is not None:
            base_group, _ = _prefer_clean(repeats_of(base, pool, key))
            sp = speedup_estimate(values, _metric_values(base_group), scenario_metric(p.scenario).higher_is_better, pooled)
            warnings += _cell_warnings(base_group, baseline=True)
    return StudyCell(
        newest_ok.run_id, "ok", estimate.median if estimate else None, sp.median if sp else None,
        _fidelity_for(newest_ok, pool), estimate=estimate, speedup_estimate=sp,
        run_ids=tuple(r.run_id for r in group), values=tuple(values),
        delta=quality_delta(newest_ok, pool), executed=_executed(group),
        device=device, framework=p.framework, precision=p.precision, efficiency=_efficiency(group),
        warnings=warnings, left_out=left_out,
        synthetic_calibration=any(calibrated_on_synthetic(r) for r in group), pooled=pooled,
    )


def _short_baseline(cell: StudyCell, cells: dict[tuple[str, str, str], StudyCell]) -> bool:
    """Whether the FP32 cell `cell`'s speed-up divides by (same framework and device) has fewer
    than 3 repeats, so the speed-up's interval needs the pooled spread."""
    base = cells.get((cell.framework, cell.device, "fp32"))
    return cell.precision != "fp32" and base is not None and base.repeats < MIN_FOR_INTERVAL


def study_tables(
    results: Iterable[RunResult],
    pool: Iterable[RunResult] | None = None,
    *,
    executed: bool = False,
    delta: bool = False,
    efficiency: bool = False,
) -> list[StudyTable]:
    """The study's tables for every model × scenario with performance runs in `results`, each
    device's rows side by side. A cell aggregates the `ok` repeats of its newest `ok` run, else
    shows the newest INVALID one (cancelled and failed runs never); baselines, their repeats and
    fidelity come from `pool` (default: `results`). `executed`/`delta`/`efficiency` add those
    lines."""
    results = list(results)
    chosen = [r for r in results if r.profile.mode == "performance" and r.status in ("ok", "invalid")]
    pool_list = list(pool) if pool is not None else results
    key = _RepeatKeys()
    labels = {id(r): device_label(r) for r in chosen}
    tables = []
    # the built-ins in table order, then the user's own model files by name
    for model in [*MODELS, *sorted({r.profile.model for r in chosen} - set(MODELS))]:
        for scenario in SCENARIOS:
            here = [r for r in chosen if (r.profile.model, r.profile.scenario) == (model, scenario)]
            if not here:
                continue
            devices = tuple(sorted({labels[id(r)] for r in here}, key=str.casefold))
            picked: dict[tuple[str, str, str], StudyCell] = {}
            runs_of: dict[tuple[str, str, str], list[RunResult]] = {}
            for fw in FRAMEWORKS:
                for device in devices:
                    for prec in PRECISIONS:
                        runs = [
                            r for r in here
                            if (r.profile.framework, r.profile.precision) == (fw, prec) and labels[id(r)] == device
                        ]
                        cell = _study_cell(runs, pool_list, key, device) if runs else None
                        if cell is not None:
                            picked[(fw, device, prec)] = cell
                            runs_of[(fw, device, prec)] = runs
            for device in devices:  # cells with fewer than 3 repeats: the device's pooled spread
                cells_here = {k: c for k, c in picked.items() if k[1] == device and c.status == "ok"}
                for k, c in cells_here.items():
                    if c.repeats >= MIN_FOR_INTERVAL and not _short_baseline(c, cells_here):
                        continue
                    pooled = pooled_for(c.values, (o.values for ok, o in cells_here.items() if ok != k))
                    if pooled is None:
                        continue
                    again = _study_cell(runs_of[k], pool_list, key, device, pooled)
                    if again is not None:
                        picked[k] = again
            precisions = tuple(q for q in PRECISIONS if any(k[2] == q for k in picked))
            rows = [
                StudyRow(fw, tuple(picked.get((fw, device, prec)) for prec in precisions), device)
                for fw in FRAMEWORKS
                for device in devices
                if any(k[:2] == (fw, device) for k in picked)
            ]
            tables.append(StudyTable(model, scenario, precisions, tuple(rows), devices, executed, delta, efficiency))
    return tables


def study_notes(tables: Iterable[StudyTable]) -> list[str]:
    """The legend under the study tables: what × means, and the notes the cells need (repeats
    and their interval, unstable, Δ, executed precision, efficiency, INVALID)."""
    tables = list(tables)
    if not tables:
        return []
    notes = [STUDY_SPEEDUP_NOTE]
    if any(t.has_repeats for t in tables):
        notes.append(STUDY_REPEATS_NOTE)
    if any(t.has_pooled for t in tables):
        notes.append(STUDY_POOLED_NOTE)
    if any(t.has_unstable for t in tables):
        notes.append(STUDY_UNSTABLE_NOTE)
    if any(t.show_delta for t in tables):
        notes.append(STUDY_DELTA_NOTE)
    if any(t.show_executed for t in tables):
        notes.append(STUDY_EXECUTED_NOTE)
    if any(t.show_efficiency for t in tables):
        notes.append(STUDY_EFFICIENCY_NOTE)
    if any(t.has_synthetic_calibration for t in tables):
        notes.append(STUDY_SYNTHETIC_CALIBRATION_NOTE)
    if any(t.has_invalid for t in tables):
        notes.append(STUDY_INVALID_NOTE)
    return notes + study_warning_notes(tables)


def study_warning_notes(tables: Iterable[StudyTable]) -> list[str]:
    """The legend of the `⚠` marks: what they mean, then each kind of warning once with the runs
    that recorded it, and the disturbed repeats left out of their cells; [] when every run was
    quiet."""
    by_kind: dict[str, list[str]] = {}
    left_out: list[str] = []
    for table in tables:
        for cell in table.cells():
            for w in cell.warnings:
                by_kind.setdefault(w.kind, []).append(w.run_id)
            left_out += cell.left_out
    notes = []
    if by_kind:
        notes.append(STUDY_WARNING_NOTE)
        notes += [f"{STUDY_WARNING_MARK} {WARNING_KINDS[k]}: {runs_text(by_kind[k])}" for k in WARNING_KINDS if k in by_kind]
    if left_out:
        notes.append(
            f"left out of their cells, disturbed (undisturbed repeats of the same measurement are "
            f"shown instead): {runs_text(left_out)}"
        )
    return notes


def study_markdown(
    results: Iterable[RunResult],
    pool: Iterable[RunResult] | None = None,
    *,
    executed: bool = False,
    delta: bool = False,
    efficiency: bool = False,
    saved: dict[str, dict[str, Any]] | None = None,
) -> str:
    """`study_tables` as Markdown: a heading and a table per model × scenario, a cell's lines
    joined by <br> (with what a quantized cell's artifact executed, and the per-layer citation of
    a cell slower than FP32 or far from the int8 peak, where `qtui explain` kept its summary in
    the cache or `saved` has one: `explain.cite`, as the terminal and HTML tables), and the notes
    (`study_notes`)."""
    from qtui.core.explain import cite

    results = list(results)
    by_id = {r.run_id: r for r in (results if pool is None else list(pool))}
    tables = study_tables(results, pool, executed=executed, delta=delta, efficiency=efficiency)
    blocks = []
    for table in tables:
        lines = [f"### {_md_cell(table.title)}", "", "| " + " | ".join(_md_cell(h) for h in table.header) + " |"]
        lines.append("|" + "---|" * table.label_columns + "---:|" * len(table.precisions))
        for row in cite.cited_text_rows(table, by_id, saved):
            lines.append("| " + " | ".join("<br>".join(_md_cell(x) for x in cell) for cell in row) + " |")
        blocks.append("\n".join(lines))
    for note in study_notes(tables):
        # a line starting "* " would be a list item
        blocks.append("\\" + note if note.startswith(STUDY_INVALID_MARK) else note)
    # read from files (summaries, model names, commands): through the Markdown cell escape
    blocks += [_md_cell(note) for note in cite.cited_notes(tables, by_id, saved)]
    return "\n\n".join(blocks) + ("\n" if blocks else "")
