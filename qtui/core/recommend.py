"""Recommendations: for each model × scenario × device, the fastest framework × precision whose
quality stays within a budget, the evidence it rests on, the runner-up, and what was not measured.

Speed is the scenario's metric (`results.scenario_metric`), the median of a cell's repeats, as in
the study table (`study_tables.study_tables`, whose cells this module reads). Quality evidence, in the
order it is used:

- **top-1 drop** versus FP32, when the cell's artifact and the FP32 one of the same framework were
  run in accuracy mode on labelled data;
- **fidelity** otherwise: SQNR of the logits and centred top-1 agreement against FP32 PyTorch on
  the same weights and samples, from the artifact's accuracy-mode run (with random weights or
  unlabelled data this is all there is, and the recommendation says so);
- **FP32** is the reference itself: nothing is quantized, no budget applies.

A cell without evidence is never recommended: it is listed as "quality not measured" with the
command that measures it. `recommend` returns `Recommendation`s; `text_lines` and `to_dict`
render them for `qtui recommend` (and its `--json`) and the HTML report.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from qtui.core import labels as names
from qtui.core.catalog import FRAMEWORK_TITLES, PRECISION_TITLES
from qtui.core.explain.peak import FAR, SLOWER, Citation, citation, flagged
from qtui.core.identity import device_label
from qtui.core.matching import accuracy_run_for, fp32_baseline
from qtui.core.model_source import is_user_model
from qtui.core.profile import FRAMEWORKS, PRECISIONS
from qtui.core.results import DISTURBING_KINDS, WARNING_KINDS, RunResult, order_key, scenario_metric
from qtui.core.run_table import format_figure, runs_text
from qtui.core.stats import CONFIDENCE, MIN_FOR_INTERVAL, UNSTABLE_SPREAD, Estimate, ratio_estimate
from qtui.core.study_tables import StudyCell, study_tables
from qtui.core.text import one_line, plural

#: Top-1 may drop at most this many points below FP32. MLPerf's closed division asks 99 % of
#: FP32's top-1 for image classification (0.7 points at MobileNetV2's 72 %), and a 1 % tolerance
#: is the usual default of quantization tools (e.g. Intel Neural Compressor).
DEFAULT_TOP1_DROP_POINTS = 1.0
#: SQNR of the logits against FP32 must be at least this: quantization noise at most 1 % of the
#: logits' power (error RMS ≤ 10 % of theirs). INT8 static measures 13-31 dB on these models,
#: so the bar separates good calibrations from poor ones. A screen, not an accuracy guarantee.
DEFAULT_SQNR_DB = 20.0
#: Centred top-1 agreement with FP32 must be at least this (a fraction). A broken artifact agrees
#: at chance (about 1 / the distinct classes, a few %); random weights leave near-tied classes that
#: flip, and a few hundred samples carry ±3-6 points of sampling noise: 70 % catches the first
#: and tolerates the others.
DEFAULT_AGREEMENT = 0.70

RANDOM_WEIGHTS_CAVEAT = "random weights: fidelity only, accuracy not measured — run with real weights and data to confirm"
UNLABELLED_CAVEAT = (
    "unlabelled data: fidelity only, accuracy not measured — run with labelled data (an ImageNet "
    "val folder) to confirm"
)
#: The caveat of fidelity for the user's own model without labelled data (its weights are its own).
USER_UNLABELLED_CAVEAT = (
    "unlabelled data: fidelity only, accuracy not measured — run with labelled data (class folders "
    "or a .npz with labels) to confirm"
)
REFERENCE_EVIDENCE = "FP32 is the reference precision: nothing is quantized, so no quality budget applies"
NOT_RUN = "not run"
NO_COMMAND = (
    "run its profile again with mode = \"accuracy\" (no named profile here reproduces it, so "
    "qtui cannot suggest a command)"
)


@dataclass(frozen=True)
class Budgets:
    """How much quality a faster cell may give up (see the DEFAULT_* constants for why)."""

    top1_drop_points: float = DEFAULT_TOP1_DROP_POINTS
    sqnr_db: float = DEFAULT_SQNR_DB
    agreement: float = DEFAULT_AGREEMENT  # a fraction: 0.70 = 70 %

    def text(self) -> str:
        return (
            f"top-1 drop ≤ {self.top1_drop_points:g} point{'' if self.top1_drop_points == 1 else 's'} "
            f"with labelled data, else SQNR ≥ "
            f"{self.sqnr_db:g} dB and centred agreement ≥ {self.agreement * 100:g} %"
        )


@dataclass(frozen=True)
class Quality:
    """A cell's quality evidence: which kind ("reference", "top-1", "fidelity", "none"), whether
    it is within budget (None: not measured), the figures, a caveat about what the evidence
    cannot say, the accuracy run it comes from and what to run to get (better) evidence."""

    evidence: str
    within: bool | None
    summary: str
    caveat: str = ""
    run_id: str | None = None
    to_run: str = ""


@dataclass(frozen=True)
class Option:
    """One measured framework × precision cell and its quality."""

    cell: StudyCell
    quality: Quality

    @property
    def label(self) -> str:
        return f"{FRAMEWORK_TITLES.get(self.cell.framework, self.cell.framework)} {PRECISION_TITLES.get(self.cell.precision, self.cell.precision)}"


@dataclass(frozen=True)
class Recommendation:
    """The answer for one model, scenario and device."""

    model: str
    scenario: str
    device: str
    budgets: Budgets
    best: Option | None
    runner_up: Option | None = None
    #: how much faster `best` is than `runner_up` (ratio of their repeats' medians), with interval
    margin: Estimate | None = None
    #: faster than `best` (or every cell when there is none) but without quality evidence
    faster_unmeasured: tuple[Option, ...] = ()
    over_budget: tuple[Option, ...] = ()
    #: every cell without quality evidence (the faster ones included)
    quality_unmeasured: tuple[Option, ...] = ()
    #: (framework, precision, reason) of every combination with no ok measurement on this device
    not_measured: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    #: each quantized cell slower than its FP32 or far from the int8 peak (`explain.peak`), with
    #: why per layer or the command that shows it (`explain.cite`)
    cited: tuple[Citation, ...] = ()

    @property
    def title(self) -> str:
        metric = scenario_metric(self.scenario)
        better = "higher" if metric.higher_is_better else "lower"
        return f"{names.title(self.model)} · {self.scenario} · {self.device} ({metric.label}, {better} is better)"

    # -- text ---------------------------------------------------------------------------------------
    def text_lines(self) -> list[str]:
        """The recommendation as plain lines (the CLI prints them, the HTML report lists them)."""
        unit = scenario_metric(self.scenario).label
        lines = [self.title]
        if self.best is None:
            lines.append("  no recommendation: no measured cell has quality evidence within budget")
        else:
            lines.append(f"  recommended: {self.best.label}: {_speed(self.best.cell, unit)}")
            lines += [f"    {line}" for line in _warning_lines(self.best.cell)]
            lines += _quality_lines(self.best.quality, "    ")
            lines += [f"    {line}" for line in _stability(self.best.cell)]
        if self.runner_up is not None:
            lines.append(f"  runner-up: {self.runner_up.label}: {_speed(self.runner_up.cell, unit)}")
            lines += [f"    {line}" for line in _warning_lines(self.runner_up.cell)]
            lines.append(f"    evidence: {self.runner_up.quality.summary}")
            if self.margin_verdict is not None and self.best is not None:
                lines.append(f"    {self.best.label} is {self.margin_verdict}")
        elif self.best is not None:
            lines.append("  runner-up: none (no other cell with quality evidence within budget)")
        for option in self.faster_unmeasured:
            lines.append(f"  faster, but quality not measured: {option.label}: {_speed(option.cell, unit)}")
            lines += [f"    {line}" for line in _warning_lines(option.cell)]
            lines.append(f"    to measure it: {option.quality.to_run or NO_COMMAND}")
        for option in self.over_budget:
            lines.append(f"  over budget: {option.label}: {option.quality.summary}")
        slower = [o for o in self.quality_unmeasured if o not in self.faster_unmeasured]
        if slower:
            lines.append("  quality not measured (slower): " + ", ".join(o.label for o in slower))
        for reason, labels in _grouped(self.not_measured):
            lines.append(f"  not measured: {'; '.join(labels)}: {reason}")
        lines += [f"  {c.text()}" for c in self.cited]
        return lines

    @property
    def margin_verdict(self) -> str | None:
        """"×1.50 [1.40–1.60] as fast as the runner-up: faster at 95 % confidence", with what
        the runs behind it recorded ("— but 3 of 6 runs were disturbed (…): re-measure on a quiet
        machine"); None without a runner-up."""
        if self.margin is None or self.best is None or self.runner_up is None:
            return None
        return _margin(self.margin) + _disturbed_clause([self.best.cell, self.runner_up.cell])

    def to_dict(self) -> dict[str, Any]:
        """For `qtui recommend --json`."""
        metric = scenario_metric(self.scenario)
        return {
            "model": self.model,
            "scenario": self.scenario,
            "device": self.device,
            "metric": metric.label,
            "higher_is_better": metric.higher_is_better,
            "budgets": {
                "top1_drop_points": self.budgets.top1_drop_points,
                "sqnr_db": self.budgets.sqnr_db,
                "centred_agreement": self.budgets.agreement,
            },
            "recommended": _option_dict(self.best),
            "runner_up": _option_dict(self.runner_up),
            "margin_over_runner_up": _estimate_dict(self.margin),
            "margin_verdict": self.margin_verdict,
            "faster_but_quality_not_measured": [_option_dict(o) for o in self.faster_unmeasured],
            "over_budget": [_option_dict(o) for o in self.over_budget],
            "quality_not_measured": [_option_dict(o) for o in self.quality_unmeasured],
            "not_measured": [{"framework": f, "precision": p, "reason": r} for f, p, r in self.not_measured],
            "slower_than_fp32": [c.as_dict() for c in self.cited if c.trigger == SLOWER],
            "far_from_int8_peak": [c.as_dict() for c in self.cited if c.trigger == FAR],
        }


def _speed(cell: StudyCell, unit: str) -> str:
    text = f"{format_figure(cell.value)}"
    est = cell.estimate
    if est is not None and est.has_interval:
        text += f" [{format_figure(est.low)}–{format_figure(est.high)}]"
    text += f" {unit}"
    if cell.speedup is not None:
        text += f", {cell.speedup_text()} over {FRAMEWORK_TITLES.get(cell.framework, cell.framework)} FP32"
    elif cell.precision != "fp32":
        text += f", no speed-up (no matching {FRAMEWORK_TITLES.get(cell.framework, cell.framework)} FP32 run)"
    return text + f" ({cell.repeats} run{'s' if cell.repeats != 1 else ''})"


def _kinds_text(kinds: Iterable[str]) -> str:
    chosen = set(kinds)
    return "; ".join(WARNING_KINDS[k] for k in WARNING_KINDS if k in chosen)


def _warning_lines(cell: StudyCell) -> list[str]:
    """"⚠ 2 of 3 runs disturbed (other processes kept the CPU busy): runs a, b", and the same for
    the FP32 runs its speed-up divides by; [] when every run behind the cell was quiet."""
    out = []
    for baseline in (False, True):
        warned = [w for w in cell.warnings if w.baseline == baseline]
        if not warned:
            continue
        ids = list(dict.fromkeys(w.run_id for w in warned))
        kinds = {w.kind for w in warned}
        how = "disturbed" if kinds & set(DISTURBING_KINDS) else "with warnings"
        whose = f"{len(ids)} of {plural(cell.repeats, 'run')}" if not baseline else f"its speed-up's FP32 baseline: {plural(len(ids), 'run')}"
        out.append(f"⚠ {whose} {how} ({_kinds_text(kinds)}): {runs_text(ids)}")
    return out


def _disturbed_clause(cells: list[StudyCell]) -> str:
    """" — but 3 of 6 runs were disturbed (…): re-measure on a quiet machine" when runs behind
    a comparison of `cells` recorded warnings; "" when they were all quiet."""
    total = sum(c.repeats for c in cells)
    warned = [w for c in cells for w in c.warnings if not w.baseline]
    if not warned:
        return ""
    ids = set(w.run_id for w in warned)
    kinds = {w.kind for w in warned}
    if kinds & set(DISTURBING_KINDS):
        return f" — but {len(ids)} of {plural(total, 'run')} were disturbed ({_kinds_text(kinds)}): re-measure on a quiet machine"
    return f" — but {len(ids)} of {plural(total, 'run')} recorded warnings ({_kinds_text(kinds)})"


def _quality_lines(quality: Quality, indent: str) -> list[str]:
    lines = [f"{indent}evidence: {quality.summary}"]
    if quality.caveat:
        lines.append(f"{indent}{quality.caveat}")
    return lines


def _stability(cell: StudyCell) -> list[str]:
    est = cell.estimate
    out = []
    if est is None or not est.has_interval:
        out.append(
            f"no confidence interval: {cell.repeats} run{'s' if cell.repeats != 1 else ''} "
            f"(repeats = {MIN_FOR_INTERVAL} or more give a {CONFIDENCE * 100:.0f} % interval)"
        )
    if cell.unstable and est is not None and est.spread is not None:
        out.append(f"unstable: its runs spread {est.spread * 100:.0f} % (> {UNSTABLE_SPREAD * 100:.0f} %)")
    return out


def _margin(margin: Estimate) -> str:
    text = f"×{margin.median:.2f}"
    if not margin.has_interval:
        return text + " as fast as the runner-up (no interval: fewer than 3 runs in a cell)"
    assert margin.low is not None and margin.high is not None
    text += f" [{margin.low:.2f}–{margin.high:.2f}] as fast as the runner-up"
    if margin.low > 1.0:
        return text + f": faster at {CONFIDENCE * 100:.0f} % confidence"
    return text + f": not distinguishable at {CONFIDENCE * 100:.0f} % (the interval includes ×1)"


def _grouped(items: Iterable[tuple[str, str, str]]) -> list[tuple[str, list[str]]]:
    """(reason, combinations) with the combinations of one framework together: "OpenVINO (every
    precision)", "PyTorch FP16, INT8 dynamic"."""
    by_reason: dict[str, dict[str, list[str]]] = {}
    for fw, prec, reason in items:
        by_reason.setdefault(reason, {}).setdefault(fw, []).append(prec)
    out = []
    for reason, frameworks in by_reason.items():
        labels = []
        for fw, precs in frameworks.items():
            title = FRAMEWORK_TITLES.get(fw, fw)
            if set(precs) == set(PRECISIONS):
                labels.append(f"{title} (every precision)")
            else:
                labels.append(f"{title} {', '.join(PRECISION_TITLES.get(p, p) for p in precs)}")
        out.append((reason, labels))
    return out


def _estimate_dict(est: Estimate | None) -> dict[str, Any] | None:
    if est is None:
        return None
    return {"median": est.median, "low": est.low, "high": est.high, "n": est.n, "spread": est.spread, "unstable": est.unstable}


def _option_dict(option: Option | None) -> dict[str, Any] | None:
    if option is None:
        return None
    c, q = option.cell, option.quality
    return {
        "framework": c.framework,
        "precision": c.precision,
        "value": c.value,
        "estimate": _estimate_dict(c.estimate),
        "speedup_vs_fp32": c.speedup,
        "speedup_estimate": _estimate_dict(c.speedup_estimate),
        "runs": list(c.run_ids),
        "warnings": [w._asdict() for w in c.warnings],
        "left_out_disturbed_runs": list(c.left_out),
        "executed_precision": c.executed,
        "quality": {
            "evidence": q.evidence, "within_budget": q.within, "summary": q.summary,
            "caveat": q.caveat, "accuracy_run": q.run_id, "to_run": q.to_run,
        },
    }


# -- quality ------------------------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def accuracy_command(run: RunResult) -> str:
    """The command that measures `run`'s artifact in accuracy mode: `run`'s own profile with
    mode = accuracy and its device label, every argument shell-quoted (`commands.run_command`);
    "" when no command here reproduces that profile (`NO_COMMAND` says so)."""
    from dataclasses import replace

    from qtui.core.commands import run_command

    label = run.environment.get("device")
    device = label if isinstance(label, str) and label.strip() else None
    return run_command(replace(run.profile, mode="accuracy"), device) or ""


def assess(run: RunResult, pool: list[RunResult], budgets: Budgets) -> Quality:
    """The quality evidence of `run`'s cell (see the module docstring)."""
    p = run.profile
    if p.precision == "fp32":
        return Quality("reference", True, REFERENCE_EVIDENCE)
    to_run = accuracy_command(run)
    acc = accuracy_run_for(run, pool)
    if acc is None:
        return Quality("none", None, "quality not measured: no accuracy-mode run of this artifact", to_run=to_run)
    figures = acc.accuracy or {}
    top1 = _number(figures.get("top1"))
    note = ""
    if top1 is not None:
        base = fp32_baseline(acc, pool)
        base_top1 = _number((base.accuracy or {}).get("top1")) if base is not None else None
        if base_top1 is not None:
            # rounded: 0.75 - 0.74 is 1.0000000000000009 points in floats, and a drop shown as
            # "1.0 points" must not fail a 1-point budget
            drop = round((base_top1 - top1) * 100, 9)
            within = drop <= budgets.top1_drop_points
            samples = figures.get("samples")
            on = f" on {samples} labelled images" if isinstance(samples, int) else " on labelled images"
            summary = (
                f"top-1 {top1 * 100:.1f} % vs FP32 {base_top1 * 100:.1f} %{on}: drop {drop:.1f} points "
                f"({'≤' if within else '>'} {budgets.top1_drop_points:g})"
            )
            return Quality("top-1", within, summary, run_id=acc.run_id)
        note = (
            f"top-1 {top1 * 100:.1f} % measured, but no FP32 accuracy-mode run of "
            f"{FRAMEWORK_TITLES.get(p.framework, p.framework)} to compare with: run one to judge the drop"
        )
    fid = figures.get("fidelity") or {}
    sqnr = _number(fid.get("sqnr_db"))
    agreement = _number(fid.get("centred_top1_agreement"))
    if sqnr is None and agreement is None:
        return Quality(
            "none", None, "quality not measured: the accuracy-mode run recorded neither top-1 against FP32 nor fidelity",
            caveat=note, run_id=acc.run_id, to_run=to_run,
        )
    checks = []
    within = True
    if sqnr is not None:
        ok = sqnr >= budgets.sqnr_db
        checks.append(f"SQNR {sqnr:.1f} dB ({'≥' if ok else '<'} {budgets.sqnr_db:g})")
        within = within and ok
    if agreement is not None:
        ok = agreement >= budgets.agreement
        classes = fid.get("centred_distinct_classes")
        over = f" over {classes} classes" if isinstance(classes, int) and not isinstance(classes, bool) else ""
        checks.append(f"centred top-1 agreement {agreement * 100:.0f} %{over} ({'≥' if ok else '<'} {budgets.agreement * 100:g} %)")
        within = within and ok
    elif sqnr is not None:  # outputs that are not class scores: no agreement to judge
        cos = _number(fid.get("cosine"))
        checks.append(
            (f"cosine {cos:.4f}; " if cos is not None else "") + "no top-1 agreement: the output is not a class vector"
        )
    samples = fid.get("samples") or figures.get("samples")
    on = f" and {samples} samples" if isinstance(samples, int) and not isinstance(samples, bool) else " and samples"
    against = _reference_of(acc)
    summary = f"fidelity against {against}{on}: " + ", ".join(checks)
    caveat = note or _fidelity_caveat(acc)
    return Quality("fidelity", within, summary, caveat=caveat, run_id=acc.run_id)


def _reference_of(acc: RunResult) -> str:
    """What a cell's fidelity was measured against: the reference the accuracy run recorded
    (`accuracy.reference`, "… and samples"), else, for a result from before that field, the
    runner's reference for that kind of model."""
    from qtui.core.model_source import source_kind

    recorded = (acc.accuracy or {}).get("reference")
    if isinstance(recorded, str) and recorded.strip():
        return one_line(recorded).strip().removesuffix(" and samples")
    kind = source_kind(acc.profile.model)
    if kind == "onnx":
        return "FP32 ONNX Runtime on the same model file"
    if kind == "tflite":
        return "FP32 TensorFlow Lite on the same model file"
    return "FP32 PyTorch on the same weights"  # a built-in or an entry point


def _fidelity_caveat(acc: RunResult) -> str:
    user_model = is_user_model(acc.profile.model)  # its weights are in the file, never random
    if acc.profile.weights.source == "random" and not user_model:
        return RANDOM_WEIGHTS_CAVEAT
    labelled = acc.provenance.get("data_has_labels")
    if labelled is False or (labelled is None and acc.profile.dataset.source == "synthetic"):
        return USER_UNLABELLED_CAVEAT if user_model else UNLABELLED_CAVEAT
    return ""


# -- the recommendation ------------------------------------------------------------------------------
def _default_unavailable(framework: str, precision: str) -> str | None:
    from qtui.core.catalog import unavailable_reason

    return unavailable_reason(framework, precision)


def recommend(
    results: Iterable[RunResult],
    pool: Iterable[RunResult] | None = None,
    budgets: Budgets | None = None,
    *,
    unavailable: Callable[[str, str], str | None] | None = None,
    this_host: str | None = None,
) -> list[Recommendation]:
    """A `Recommendation` per model × scenario × device with performance runs in `results`
    (cells as in the study table; baselines, repeats and accuracy runs from `pool`, default
    `results`). Combinations never measured on a device get a reason: the newest failed run's
    message, "only INVALID runs", on this machine (`this_host`, default this host name) why the
    framework cannot run here (`unavailable`, default `catalog.unavailable_reason`), else "not
    run"."""
    results = list(results)
    pool_list = list(pool) if pool is not None else results
    budgets = budgets or Budgets()
    unavailable = unavailable or _default_unavailable
    host = this_host if this_host is not None else socket.gethostname()
    by_id = {r.run_id: r for r in pool_list}
    out = []
    for table in study_tables(results, pool_list):
        higher = table.metric.higher_is_better
        for device in table.devices:
            cells = [c for row in table.rows if row.device == device for c in row.cells if c is not None]
            options = []
            for cell in cells:
                run = by_id.get(cell.run_id)
                if cell.status != "ok" or cell.value is None or run is None:
                    continue
                options.append(Option(cell, assess(run, pool_list, budgets)))
            options.sort(key=lambda o: _speed_key(o.cell, higher))
            within = [o for o in options if o.quality.within]
            best = within[0] if within else None
            runner_up = within[1] if len(within) > 1 else None
            margin = None
            if best is not None and runner_up is not None and best.cell.values and runner_up.cell.values:
                a, b = list(best.cell.values), list(runner_up.cell.values)
                margin = ratio_estimate(a, b) if higher else ratio_estimate(b, a)
            unmeasured = tuple(o for o in options if o.quality.within is None)
            faster = tuple(o for o in unmeasured if best is None or options.index(o) < options.index(best))
            over = tuple(o for o in options if o.quality.within is False)
            measured = {(o.cell.framework, o.cell.precision) for o in options}
            missing = _not_measured(
                table.model, table.scenario, device, measured, cells, pool_list, unavailable, host
            )
            out.append(Recommendation(
                table.model, table.scenario, device, budgets, best, runner_up, margin,
                faster, over, unmeasured, missing, _cited(options, by_id, table.metric.label),
            ))
    return out


def _cited(options: list[Option], by_id: dict[str, RunResult], unit: str) -> tuple[Citation, ...]:
    """Each quantized cell slower than its FP32 or far from the int8 peak of its model, scenario
    and device (`explain.peak`), with why (per layer) or how to see it."""
    from qtui.core.explain.cite import why_slower

    out = []
    for kind, cell, best in flagged(o.cell for o in options):
        run = by_id.get(cell.run_id)
        if run is not None:
            out.append(citation(kind, cell, best, unit, why_slower(run)))
    return tuple(out)


def _speed_key(cell: StudyCell, higher_is_better: bool) -> float:
    """Fastest first: the highest throughput or the lowest latency (cells have a value here)."""
    value = cell.value if cell.value is not None else float("nan")
    return -value if higher_is_better else value


def _source_of(model: str) -> Any:
    """The model table's row for the kind of the user's model file, None for a built-in."""
    from qtui.core import model_table
    from qtui.core.model_source import source_kind

    kind = source_kind(model)
    if kind == "builtin":
        return None
    try:
        return model_table.source_kind(kind)
    except KeyError:
        return None


def _not_measured(
    model: str,
    scenario: str,
    device: str,
    measured: set[tuple[str, str]],
    cells: list[StudyCell],
    pool: list[RunResult],
    unavailable: Callable[[str, str], str | None],
    host: str,
) -> tuple[tuple[str, str, str], ...]:
    here = [
        r for r in pool
        if r.profile.mode == "performance" and (r.profile.model, r.profile.scenario) == (model, scenario)
        and device_label(r) == device
    ]
    on_this_host = any(r.environment.get("hostname") == host for r in here)
    invalid = {(c.framework, c.precision) for c in cells if c.status != "ok"}
    out = []
    source = _source_of(model)
    for fw in FRAMEWORKS:
        for prec in PRECISIONS:
            if (fw, prec) in measured:
                continue
            if source is not None and (cannot := source.reason(fw, prec)):
                out.append((fw, prec, cannot))  # a cell the user's model file cannot fill, anywhere
                continue
            reason = NOT_RUN
            failed = max(
                (r for r in here if (r.profile.framework, r.profile.precision) == (fw, prec) and r.status in ("failed", "cancelled")),
                key=order_key, default=None,
            )
            if (fw, prec) in invalid:
                reason = "only INVALID runs (LoadGen: e.g. too short)"
            elif failed is not None and failed.status == "failed":
                reason = "failed: " + _short(failed.message or "see its result")
            elif on_this_host and (why := unavailable(fw, prec)):
                reason = f"cannot run here: {one_line(why)}"
            elif failed is not None:
                reason = "cancelled"
            out.append((fw, prec, reason))
    return tuple(out)


def _short(text: str, limit: int = 120) -> str:
    line = one_line(text).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def recommendations_text(recommendations: list[Recommendation]) -> str:
    """Every recommendation's lines, a blank line between them, then the budgets."""
    if not recommendations:
        return ""
    blocks = ["\n".join(r.text_lines()) for r in recommendations]
    blocks.append(f"budgets: {recommendations[0].budgets.text()} (change them with --budget-...)")
    return "\n\n".join(blocks) + "\n"
