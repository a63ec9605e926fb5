"""Did it get faster? `qtui compare A B`: per matching cell, the time ratio B/A with a 95 %
interval and a verdict, what differs between the two sides, and a geometric mean over cells.

A side is a set of results (a results folder — a study's, for instance —, one device of a
folder, the runs one study or sweep made, one run). A **cell** is model × framework × precision × scenario, performance mode, `ok`
runs only. A side's cell is its newest run and the runs that repeat it (`matching.repeats_of`):
other setups of the same cell on that side are left out and said so. Two single runs of one
scenario are compared whatever their model, framework or precision (listed as the difference).

The ratio is always **time B/A** (< 1: B is faster): per-query latency for the stream scenarios,
A's samples/s over B's for Offline. Its interval fits the data:

- **SingleStream / MultiStream, per-query latencies** (`latencies.npz` beside each result),
  `stream_ratio`: with `MIN_FOR_INTERVAL` runs a side or more, each run's median latency is one
  value and the ratio of their medians gets Welch's t interval on the logs (basis `runs`: the
  run-to-run variation, which a run's thousands of queries cannot show, is what decides). With
  fewer runs, the ratio of the median per-query latencies with a percentile bootstrap (seeded,
  2000 resamples; basis `queries`): each resample draws the runs with replacement (when a side
  has several), then queries from them (at most `QUERIES_PER_SIDE` a side, an evenly spread
  sample). The Mann-Whitney U test's p-value is shown beside it when scipy is installed. That
  interval covers query-to-query variation, not run-to-run: the output says "1 run a side", or
  "fewer than 3 runs a side".
- **Offline, and stream cells without saved latencies**: the repeats' scenario metric
  (samples/s; p90/p99), the ratio of the medians with Welch's t interval on the log values
  (`stats.ratio_estimate`: a bootstrap of 3 repeats covers far less than it claims); fewer than
  `MIN_FOR_INTERVAL` repeats on either side give no verdict ("cannot say"), never a guess.

Verdict: `slower` when the whole interval lies above 1, `faster` when below, `no difference`
when it straddles 1 (all at 95 % confidence). `regressions(cmp, pct)` are the cells slower by
more than `pct` % with confidence (the interval's low end above 1 + pct/100).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qtui.core.identity import device_label, effective_threads
from qtui.core.matching import repeats_of
from qtui.core.raw_latencies import RAW_LATENCIES_FILE, load_latencies, run_folder
from qtui.core.results import RunResult, measurement_disturbed, order_key, scenario_metric
from qtui.core.run_table import runs_text
from qtui.core.stats import CONFIDENCE, MIN_FOR_INTERVAL, RESAMPLES, ratio_estimate, welch_logs
from qtui.core.text import one_line

#: At most this many per-query latencies a side enter the bootstrap (evenly spread over each
#: run): the median's interval is as narrow as the data allow long before that.
QUERIES_PER_SIDE = 2000
#: Fewer queries than this a side: no per-query test (use the repeats).
MIN_QUERIES = 20
VERDICTS = ("faster", "slower", "no difference", "cannot say", "only in A", "only in B")


class CompareError(ValueError):
    """An argument of `qtui compare` that names no results; the message says which and why."""


# -- the two sides ---------------------------------------------------------------------------------
@dataclass
class Side:
    """One side of a comparison: what the user named, and its results (with their folders)."""

    name: str
    what: str  # "results folder", "device", "study", "run", "report"
    results: list[RunResult]
    folders: dict[str, Path] = field(default_factory=dict)  # run id → folder

    @property
    def description(self) -> str:
        return f"{self.what} {one_line(self.name)} ({len(self.results)} result{'s' if len(self.results) != 1 else ''})"


def resolve_side(
    arg: str, roots: list[Path], load_dir: Callable[[Path], list[RunResult]], pool: Callable[[], list[RunResult]]
) -> Side:
    """What `arg` names: an existing folder (its results), else a run id in `pool()`, else a
    device in `pool()` (`identity.device_matches`); `CompareError` naming the devices there are
    when it is none of those."""
    from qtui.core.identity import device_matches

    path = Path(arg)
    if arg.strip() and path.is_dir():
        results = load_dir(path)
        return Side(arg, "results folder", results, _folders(results, [path]))
    everything = pool()
    run = [r for r in everything if r.run_id == arg]
    if run:
        return Side(arg, "run", run, _folders(run, roots))
    device = [r for r in everything if device_matches(r, arg)]
    if device:
        return Side(arg, "device", device, _folders(device, roots))
    study = [r for r in everything if study_name(r) == arg]
    if study:
        return Side(arg, "study", study, _folders(study, roots))
    devices = sorted({device_label(r) for r in everything}, key=str.casefold)
    studies = study_names(everything)
    raise CompareError(
        f"{one_line(arg)}: not a results folder, a run id, a device or a study of the results; devices: "
        f"{', '.join(devices) or 'none'}; studies: {', '.join(studies) or 'none'}"
    )


def study_name(result: RunResult) -> str | None:
    """The study (or sweep) that made a run: its profile's name before the "/" that
    `profile.expand_sweep` adds ("paper-matrix/mobilenet_v2-onnxruntime-fp32-Offline" →
    "paper-matrix"); None for a single run."""
    name = result.profile.name
    return one_line(name.split("/", 1)[0]) if "/" in name else None


def study_names(results: Iterable[RunResult]) -> list[str]:
    """The studies the results were made by (`study_name`), sorted."""
    return sorted({n for r in results if (n := study_name(r)) is not None}, key=str.casefold)


def sides_in(results: list[RunResult]) -> list[tuple[str, str]]:
    """(kind, name) of every side a pool of results offers beyond single runs: each device
    (`device_label`) and each study (`study_name`), as `side_from` takes them."""
    devices = sorted({device_label(r) for r in results}, key=str.casefold)
    return [("device", d) for d in devices] + [("study", s) for s in study_names(results)]


def side_from_results(name: str, what: str, results: list[RunResult], roots: list[Path]) -> Side:
    """A side made of `results` (their folders looked up under `roots`, where their latencies
    are), described as `what` `name`."""
    return Side(name, what, results, _folders(results, roots))


def side_from(kind: str, name: str, results: list[RunResult], roots: list[Path]) -> Side:
    """The side named by `sides_in` (or kind "run" and a run id) out of `results`; its runs'
    folders looked up under `roots` (where their latencies are)."""
    if kind == "device":
        chosen = [r for r in results if device_label(r) == name]
    elif kind == "study":
        chosen = [r for r in results if study_name(r) == name]
    elif kind == "run":
        chosen = [r for r in results if r.run_id == name]
    else:
        raise CompareError(f"{one_line(kind)}: not a kind of side; allowed: device, study, run")
    return Side(name, kind, chosen, _folders(chosen, roots))


def _folders(results: list[RunResult], roots: list[Path]) -> dict[str, Path]:
    out = {}
    for r in results:
        folder = run_folder(r.run_id, roots, r.loadgen.get("log_dir"))
        if folder is not None:
            out[r.run_id] = folder
    return out


# -- what differs ----------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, (dict, list)):
        return one_line(json.dumps(value, sort_keys=True, default=str))
    return one_line(value)


def setup_of(result: RunResult) -> dict[str, str | None]:
    """The named parts of a run's setup that a comparison reports when they differ: software
    (qtui, the framework's version, Python, OS, kernel), machine (CPU, board, device, host,
    cores, governor) and the measured setup (threads, batch, warm-up, weights, data, input,
    LoadGen settings)."""
    env, p, prov = result.environment, result.profile, result.provenance
    versions = env.get("frameworks") or {}
    python = env.get("python") or {}
    return {
        "qtui": _text(env.get("qtui_version")),
        f"{p.framework} version": _text(versions.get(p.framework) if isinstance(versions, dict) else None),
        "Python": _text(python.get("version") if isinstance(python, dict) else None),
        "OS": _text(env.get("os")),
        "kernel": _text(env.get("kernel")),
        "governor": _text(env.get("governor")),
        "CPU": _text(env.get("cpu_model")),
        "board": _text(env.get("board_model")),
        "device": device_label(result),
        "host": _text(env.get("hostname")),
        "cores": _text(env.get("cores_logical")),
        "threads": _text(effective_threads(result)),
        "batch size": _text(p.batch_size),
        "warm-up queries": _text(p.warmup_queries),
        "weights": _text([p.weights, prov.get("weights_digest")]),
        "data": _text([p.dataset, prov.get("data_digest")]),
        "input": _text(p.input),
        "LoadGen settings": _text(p.loadgen),
    }


#: Setup items that a cell lists as its own difference (machine-wide ones are listed once, at
#: the top).
CELL_ITEMS = ("threads", "batch size", "warm-up queries", "weights", "data", "input", "LoadGen settings")


def _values(setups: Iterable[dict[str, str | None]], item: str) -> list[str]:
    """The values of `item` among the setups that have it (a framework's version only among
    that framework's runs), "unknown" for one not recorded."""
    return list(dict.fromkeys((s[item] or "unknown") for s in setups if item in s))


def differences(a: Iterable[RunResult], b: Iterable[RunResult], items: Iterable[str] | None = None) -> list[tuple[str, str, str]]:
    """(item, A's values, B's values) for every setup item whose values differ between the
    two sets of runs (several values on a side are joined with ", ")."""
    a_setups, b_setups = [setup_of(r) for r in a], [setup_of(r) for r in b]
    names = list(items) if items is not None else list(dict.fromkeys(k for s in [*a_setups, *b_setups] for k in s))
    out = []
    for item in names:
        va, vb = _values(a_setups, item), _values(b_setups, item)
        if va and vb and set(va) != set(vb):
            out.append((item, ", ".join(va), ", ".join(vb)))
    return out


# -- cells -----------------------------------------------------------------------------------------
CellKey = tuple[str, str, str, str]  # model, framework, precision, scenario


def cell_key(result: RunResult) -> CellKey:
    p = result.profile
    return p.model, p.framework, p.precision, p.scenario


def _cells(side: Side) -> tuple[dict[CellKey, list[RunResult]], list[str]]:
    """Each cell's runs on a side (the newest ok run and its repeats), and notes on the runs
    left out (other setups of the cell)."""
    by_cell: dict[CellKey, list[RunResult]] = {}
    for r in side.results:
        if r.status == "ok" and r.profile.mode == "performance":
            by_cell.setdefault(cell_key(r), []).append(r)
    chosen, notes = {}, []
    for key, runs in by_cell.items():
        newest = max(runs, key=order_key)
        group = repeats_of(newest, runs)
        chosen[key] = group
        left = len(runs) - len(group)
        if left:
            notes.append(
                f"{side.name}: {' '.join(key)}: {left} older run{'s' if left != 1 else ''} of another setup left out "
                f"(the newest run's repeats are compared)"
            )
    return chosen, notes


@dataclass
class CellComparison:
    """One cell compared: the time ratio B/A with its interval, the verdict and how it was
    reached."""

    key: CellKey
    runs_a: list[RunResult]
    runs_b: list[RunResult]
    verdict: str
    basis: str = ""  # "runs" | "queries" | "repeats" | ""
    basis_text: str = ""  # the test in words
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    p_value: float | None = None
    value_a: float | None = None
    value_b: float | None = None
    unit: str = ""
    differs: list[tuple[str, str, str]] = field(default_factory=list)
    reason: str = ""
    resampled: np.ndarray | None = field(default=None, repr=False)

    @property
    def disturbed(self) -> list[str]:
        """The runs behind the cell whose measurement was disturbed (other processes' load,
        throttling, heat: `results.measurement_disturbed`)."""
        return [one_line(r.run_id) for r in [*self.runs_a, *self.runs_b] if measurement_disturbed(r)]

    @property
    def change_pct(self) -> float | None:
        """How much slower B is, in % (negative: faster)."""
        return None if self.ratio is None else (self.ratio - 1.0) * 100.0


@dataclass
class Comparison:
    a: Side
    b: Side
    differences: list[tuple[str, str, str]]
    cells: list[CellComparison]
    geomean: float | None
    geomean_low: float | None
    geomean_high: float | None
    geomean_cells: int
    notes: list[str]
    confidence: float = CONFIDENCE


def _even_sample(values: np.ndarray, limit: int) -> np.ndarray:
    if values.size <= limit:
        return values
    return values[np.linspace(0, values.size - 1, limit).astype(np.intp)]


def _bootstrap_medians(groups: list[np.ndarray], rng: np.random.Generator, resamples: int) -> np.ndarray:
    """The median of each resample: runs drawn with replacement (when there are several), then
    values drawn with replacement from the drawn runs' values (equal counts per run)."""
    per_run = min(min(g.size for g in groups), max(1, QUERIES_PER_SIDE // len(groups)))
    matrix = np.stack([_even_sample(np.sort(g), per_run) if g.size > per_run else g for g in groups]).astype(np.float64)
    k, m = matrix.shape
    out = np.empty(resamples, dtype=np.float64)
    chunk = max(1, 400_000 // (k * m))
    for start in range(0, resamples, chunk):
        c = min(chunk, resamples - start)
        runs = rng.integers(0, k, size=(c, k)) if k > 1 else np.zeros((c, 1), dtype=np.intp)
        picked = matrix[runs].reshape(c, k * m)
        if m > 1:
            picked = np.take_along_axis(picked, rng.integers(0, k * m, size=(c, k * m)), axis=1)
        out[start : start + c] = np.median(picked, axis=1)
    return out


def _welch_draws(num: list[float], den: list[float], rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Draws of the ratio of two sides' medians from Welch's t on their log values (what
    `stats.ratio_estimate`'s interval is made of), for the geometric mean's interval."""
    centre, se, df = welch_logs(num, den)
    if se == 0.0:
        return np.full(resamples, math.exp(centre))
    return np.exp(centre + se * rng.standard_t(df, size=resamples))


def _mann_whitney(a: np.ndarray, b: np.ndarray) -> float | None:
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:  # scipy is optional: the interval decides the verdict anyway
        return None
    try:
        return float(mannwhitneyu(b, a, alternative="two-sided").pvalue)
    except ValueError:
        return None


def _verdict(low: float, high: float) -> str:
    if low > 1.0:
        return "slower"
    if high < 1.0:
        return "faster"
    return "no difference"


def _interval(resampled: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(resampled, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _latencies(side: Side, runs: list[RunResult]) -> list[np.ndarray] | str:
    """The runs' saved per-query latencies (ns), or why not (a run without a readable file or
    with fewer than `MIN_QUERIES`)."""
    out = []
    for r in runs:
        folder = side.folders.get(r.run_id)
        path = folder / RAW_LATENCIES_FILE if folder is not None else None
        if path is None or not path.exists():
            return "no per-query latencies saved"
        try:
            raw = load_latencies(path)
        except (OSError, ValueError) as exc:
            return f"run {one_line(r.run_id)}'s latencies unreadable: {one_line(exc)}"
        if raw.latency_ns.size < MIN_QUERIES:
            return f"run {one_line(r.run_id)} saved {raw.latency_ns.size} latencies"
        out.append(raw.latency_ns)
    return out


@dataclass
class StreamRatio:
    """A stream cell's time ratio B/A from per-query latencies, its interval, and on what basis:
    `runs` (each side's runs' median latencies, Welch's t on their logs: run-to-run variation
    included) or `queries` (a bootstrap of the pooled queries' median ratio)."""

    ratio: float
    low: float
    high: float
    basis: str
    value_a: float
    value_b: float
    resampled: np.ndarray = field(repr=False)


def stream_ratio(
    lat_a: list[np.ndarray], lat_b: list[np.ndarray], rng: np.random.Generator,
    confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
) -> StreamRatio:
    """B/A from each side's runs' per-query latencies (one array a run, all positive medians).

    With `MIN_FOR_INTERVAL` runs a side or more, the runs are the sample: each run's median
    latency, Welch's t on their logs (`stats.ratio_estimate`), because a run's thousands of
    queries pin its own median down far more tightly than the next run repeats it. Bootstrapping
    runs and then queries, as before, covered a ratio of 1 between two identical setups 82 % of
    the time ("95 %") with 3 runs a side of 3 % run-to-run spread, 70 % with 2. With fewer runs
    there is no run-to-run spread to speak of: the bootstrap of the queries (runs, then queries)
    is kept, and the cell says what it does not cover."""
    if min(len(lat_a), len(lat_b)) >= MIN_FOR_INTERVAL:
        meds_a = [float(np.median(g)) for g in lat_a]
        meds_b = [float(np.median(g)) for g in lat_b]
        est = ratio_estimate(meds_b, meds_a, confidence)
        assert est.low is not None and est.high is not None  # MIN_FOR_INTERVAL runs a side
        return StreamRatio(
            est.median, est.low, est.high, "runs", float(np.median(meds_a)), float(np.median(meds_b)),
            _welch_draws(meds_b, meds_a, rng, resamples),
        )
    med_a, med_b = float(np.median(np.concatenate(lat_a))), float(np.median(np.concatenate(lat_b)))
    ma, mb = _bootstrap_medians(lat_a, rng, resamples), _bootstrap_medians(lat_b, rng, resamples)
    resampled = mb / np.maximum(ma, 1.0)
    low, high = _interval(resampled, confidence)
    return StreamRatio(med_b / med_a, low, high, "queries", med_a, med_b, resampled)


def compare_cell(
    key: CellKey, a: Side, runs_a: list[RunResult], b: Side, runs_b: list[RunResult],
    confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0,
) -> CellComparison:
    """One cell's ratio, interval and verdict (see the module's docstring for the test)."""
    cell = CellComparison(key, runs_a, runs_b, "cannot say")
    cell.differs = differences(runs_a, runs_b, CELL_ITEMS)
    rng = np.random.default_rng(seed)
    metric = scenario_metric(key[3])
    lat_a: list[np.ndarray] | str = _latencies(a, runs_a) if metric.percentile is not None else ""
    lat_b: list[np.ndarray] | str = _latencies(b, runs_b) if not isinstance(lat_a, str) else lat_a
    if not isinstance(lat_a, str) and not isinstance(lat_b, str):
        all_a, all_b = np.concatenate(lat_a), np.concatenate(lat_b)
        if float(np.median(all_a)) <= 0 or float(np.median(all_b)) <= 0:
            cell.reason = "a median latency of 0"
            return cell
        stream = stream_ratio(lat_a, lat_b, rng, confidence, resamples)
        cell.ratio, cell.low, cell.high, cell.resampled = stream.ratio, stream.low, stream.high, stream.resampled
        cell.value_a, cell.value_b, cell.unit = stream.value_a / 1e6, stream.value_b / 1e6, "ms median"
        cell.basis = stream.basis
        runs_text = f"{len(runs_a)}+{len(runs_b)} runs" if len(runs_a) + len(runs_b) > 2 else "1 run a side"
        if stream.basis == "runs":
            cell.basis_text = (
                f"each run's median latency ({runs_text}, {all_a.size:_} vs {all_b.size:_} queries): "
                "Welch's t on the log values"
            )
        else:
            cell.p_value = _mann_whitney(_even_sample(all_a, QUERIES_PER_SIDE), _even_sample(all_b, QUERIES_PER_SIDE))
            cell.basis_text = (
                f"per-query latencies ({all_a.size:_} vs {all_b.size:_} queries, {runs_text}): bootstrap of the "
                f"median ratio" + ("" if cell.p_value is None else f", Mann-Whitney U p={cell.p_value:.2g}")
                + ("" if runs_text == "1 run a side" else f"; fewer than {MIN_FOR_INTERVAL} runs a side: run-to-run variation is not covered")
            )
        cell.verdict = _verdict(cell.low, cell.high)
        return cell
    values_a = [v for r in runs_a if (v := r.metric[1]) is not None and v > 0]
    values_b = [v for r in runs_b if (v := r.metric[1]) is not None and v > 0]
    if not values_a or not values_b:
        cell.reason = "no scenario metric recorded"
        return cell
    med_a, med_b = float(np.median(values_a)), float(np.median(values_b))
    # time B/A: latencies B/A, throughputs A/B
    cell.ratio = med_a / med_b if metric.higher_is_better else med_b / med_a
    cell.value_a, cell.value_b, cell.unit = med_a, med_b, metric.label
    cell.basis = "repeats"
    source = "" if metric.percentile is None else f" ({lat_b})"
    cell.basis_text = f"repeats of {metric.label}{source}: {len(values_a)} vs {len(values_b)} runs"
    if min(len(values_a), len(values_b)) < MIN_FOR_INTERVAL:
        cell.reason = (
            f"{len(values_a)} run{'s' if len(values_a) != 1 else ''} in A, {len(values_b)} in B: "
            f"a verdict needs {MIN_FOR_INTERVAL} repeats a side"
        )
        cell.basis_text += f"; {cell.reason}"
        return cell
    # time B/A: latencies B over A, throughputs A over B
    num, den = (values_a, values_b) if metric.higher_is_better else (values_b, values_a)
    est = ratio_estimate(num, den, confidence)
    assert est.low is not None and est.high is not None  # 3 repeats a side or more
    cell.low, cell.high = est.low, est.high
    cell.resampled = _welch_draws(num, den, rng, resamples)
    cell.basis_text += ": Welch's t on the log values"
    cell.verdict = _verdict(cell.low, cell.high)
    return cell


def compare(a: Side, b: Side, confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Comparison:
    """Every cell of either side compared (cells on one side only listed as such), what differs
    between the sides, and the geometric mean of the time ratios over the cells with an
    interval, with its own interval (the cells' resamples combined)."""
    cells_a, notes_a = _cells(a)
    cells_b, notes_b = _cells(b)
    renamed: list[tuple[str, str, str]] = []
    if a.what == b.what == "run" and len(cells_a) == len(cells_b) == 1:
        (key_a,), (key_b,) = cells_a, cells_b
        if key_a != key_b and key_a[3] == key_b[3]:  # two runs of one scenario: compare them
            renamed = [(n, x, y) for n, x, y in zip(("model", "framework", "precision"), key_a[:3], key_b[:3], strict=True) if x != y]
            cells_b = {key_a: cells_b[key_b]}
    keys = sorted(set(cells_a) | set(cells_b))
    out: list[CellComparison] = []
    for i, key in enumerate(keys):
        if key not in cells_b:
            out.append(CellComparison(key, cells_a[key], [], "only in A"))
        elif key not in cells_a:
            out.append(CellComparison(key, [], cells_b[key], "only in B"))
        else:
            out.append(compare_cell(key, a, cells_a[key], b, cells_b[key], confidence, resamples, seed=i))
            out[-1].differs[:0] = renamed
    used = [c for c in out if c.resampled is not None and c.ratio is not None]
    gm = gm_low = gm_high = None
    if used:
        gm = math.exp(float(np.mean([math.log(c.ratio) for c in used if c.ratio])))
        logs = np.mean([np.log(c.resampled) for c in used if c.resampled is not None], axis=0)
        gm_low, gm_high = _interval(np.exp(logs), confidence)
    machine_a = [r for runs in cells_a.values() for r in runs] or a.results
    machine_b = [r for runs in cells_b.values() for r in runs] or b.results
    diffs = differences(machine_a, machine_b)
    notes = notes_a + notes_b
    if not cells_a:
        notes.append(f"A ({a.name}) has no ok performance-mode run")
    if not cells_b:
        notes.append(f"B ({b.name}) has no ok performance-mode run")
    return Comparison(a, b, diffs, out, gm, gm_low, gm_high, len(used), notes, confidence)


def regressions(cmp: Comparison, pct: float) -> list[CellComparison]:
    """The cells where B is slower than A by more than `pct` % with confidence (the interval's
    low end above 1 + pct/100)."""
    bound = 1.0 + pct / 100.0
    return [c for c in cmp.cells if c.verdict == "slower" and c.low is not None and c.low > bound]


# -- rendering -------------------------------------------------------------------------------------
COLUMNS = ("model", "framework", "precision", "scenario", "A", "B", "B/A time", "interval", "verdict", "test", "differs")


def _figure(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g}" if abs(value) < 99.95 else f"{value:.0f}"


def ratio_text(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def cell_row(cell: CellComparison) -> dict[str, Any]:
    """A cell as the table's text columns (`COLUMNS`) plus its figures for CSV and JSON."""
    model, framework, precision, scenario = cell.key
    unit = " /s" if cell.unit == "samples/s" else " ms" if cell.unit else ""
    return {
        "model": model, "framework": framework, "precision": precision, "scenario": scenario,
        "A": _figure(cell.value_a) + (unit if cell.value_a is not None else ""),
        "B": _figure(cell.value_b) + (unit if cell.value_b is not None else ""),
        "B/A time": ratio_text(cell.ratio),
        "interval": f"{ratio_text(cell.low)}–{ratio_text(cell.high)}" if cell.low is not None else "",
        "verdict": cell.verdict + (" ⚠" if cell.disturbed else ""),
        "test": cell.basis,
        "differs": "; ".join(f"{item} {va} → {vb}" for item, va, vb in cell.differs),
    }


def header_lines(cmp: Comparison) -> list[str]:
    """What each side is, what differs between them, and how to read the ratios."""
    lines = [f"A: {cmp.a.description}", f"B: {cmp.b.description}"]
    if cmp.differences:
        lines.append("Differs between A and B:")
        lines += [f"  {item}: {va} → {vb}" for item, va, vb in cmp.differences]
    else:
        lines.append("Same setup on both sides (software, machine, threads, weights, data).")
    pct = f"{cmp.confidence * 100:g} %"
    lines.append(f"B/A time: < 1 B faster, > 1 B slower; intervals and verdicts at {pct} confidence")
    return lines


def footer_lines(cmp: Comparison) -> list[str]:
    """The geometric mean, each test's meaning, the cells without a verdict, and the notes."""
    lines = []
    if cmp.geomean is not None:
        verdict = _verdict(cmp.geomean_low or 0.0, cmp.geomean_high or 0.0) if cmp.geomean_low is not None else ""
        lines.append(
            f"Geometric mean over {cmp.geomean_cells} cell{'s' if cmp.geomean_cells != 1 else ''}: "
            f"{ratio_text(cmp.geomean)} [{ratio_text(cmp.geomean_low)}–{ratio_text(cmp.geomean_high)}], {verdict}"
        )
    else:
        lines.append("Geometric mean: no cell has an interval on both sides.")
    bases = {c.basis for c in cmp.cells}
    if "runs" in bases:
        lines.append(f"runs: each run's median per-query latency, Welch's t on the log values ({MIN_FOR_INTERVAL} runs a side or more)")
    if "queries" in bases:
        lines.append("queries: per-query latencies, bootstrap of the median ratio (runs, then queries)")
    if any(c.basis == "queries" and len(c.runs_a) == len(c.runs_b) == 1 for c in cmp.cells):
        lines.append("  (1 run a side: the interval covers query-to-query variation only)")
    elif any(c.basis == "queries" for c in cmp.cells):
        lines.append(f"  (fewer than {MIN_FOR_INTERVAL} runs a side: the interval does not cover run-to-run variation)")
    if "repeats" in bases:
        lines.append("repeats: each run's scenario metric, Welch's t on the log values (ratio of the medians)")
    for c in cmp.cells:
        if c.disturbed:
            lines.append(
                f"⚠ {' '.join(c.key)}: measured while disturbed (other processes, throttling, heat): "
                f"{runs_text(c.disturbed)}; re-measure on a quiet machine before trusting the verdict"
            )
    for c in cmp.cells:
        if c.verdict == "cannot say":
            lines.append(f"cannot say: {' '.join(c.key)}: {c.basis_text or c.reason}")
    lines += cmp.notes
    return lines


def to_markdown(cmp: Comparison) -> str:
    from qtui.core.sinks import for_markdown

    out = [for_markdown(line) + "  " for line in header_lines(cmp)]
    out += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for cell in cmp.cells:
        row = cell_row(cell)
        out.append("| " + " | ".join(for_markdown(row[c]) for c in COLUMNS) + " |")
    out.append("")
    out += [for_markdown(line) + "  " for line in footer_lines(cmp)]
    return "\n".join(out) + "\n"


CSV_COLUMNS = (
    "model", "framework", "precision", "scenario", "verdict", "ratio", "low", "high", "value_a", "value_b",
    "unit", "test", "p_value", "runs_a", "runs_b", "differs", "reason", "disturbed_runs",
)


def _record(cell: CellComparison) -> dict[str, Any]:
    row = cell_row(cell)
    return {
        "model": row["model"], "framework": row["framework"], "precision": row["precision"], "scenario": row["scenario"],
        "verdict": cell.verdict, "ratio": cell.ratio, "low": cell.low, "high": cell.high,
        "value_a": cell.value_a, "value_b": cell.value_b, "unit": cell.unit, "test": cell.basis_text,
        "p_value": cell.p_value, "runs_a": [one_line(r.run_id) for r in cell.runs_a],
        "runs_b": [one_line(r.run_id) for r in cell.runs_b], "differs": row["differs"], "reason": cell.reason,
        "disturbed_runs": cell.disturbed,
    }


def to_csv(cmp: Comparison) -> str:
    from qtui.core.raw_latencies import to_csv_text

    rows = []
    for cell in cmp.cells:
        record = _record(cell)
        for name in ("runs_a", "runs_b", "disturbed_runs"):
            record[name] = " ".join(record[name])
        rows.append(record)
    return to_csv_text(CSV_COLUMNS, rows)


def to_json_data(cmp: Comparison) -> dict[str, Any]:
    return {
        "a": {"name": one_line(cmp.a.name), "kind": cmp.a.what, "results": len(cmp.a.results)},
        "b": {"name": one_line(cmp.b.name), "kind": cmp.b.what, "results": len(cmp.b.results)},
        "confidence": cmp.confidence,
        "ratio": "time B/A (< 1: B faster)",
        "differences": [{"item": i, "a": va, "b": vb} for i, va, vb in cmp.differences],
        "cells": [_record(c) for c in cmp.cells],
        "geometric_mean": {"ratio": cmp.geomean, "low": cmp.geomean_low, "high": cmp.geomean_high, "cells": cmp.geomean_cells},
        "notes": list(cmp.notes),
    }


_HTML_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
"""


#: The comparison's CSS, for its own page and for the HTML report's section.
COMPARE_CSS = """
tr.slower td { background: #fde8e8; } tr.faster td { background: #e6f6e6; }
ul.notes, ul.sides { padding-left: 1.2em; }
"""


def html_context(cmp: Comparison, heading: str) -> dict[str, Any]:
    """What `templates/compare_section.html.j2` draws (as `compare`): the header lines, the
    table's columns and rows (each with its verdict's CSS class), the footer lines. Plain text:
    the template escapes it."""
    rows = []
    for cell in cmp.cells:
        row = cell_row(cell)
        verdict_css = cell.verdict if cell.verdict in ("slower", "faster") else "other"
        rows.append({"verdict_css": verdict_css, "cells": [row[c] or "–" for c in COLUMNS]})
    return {"heading": heading, "header": header_lines(cmp), "columns": COLUMNS, "rows": rows, "footer": footer_lines(cmp)}


def to_html(cmp: Comparison) -> str:
    """The comparison as one self-contained HTML page (Jinja2, autoescaped: text from result
    files is escaped by construction; nothing fetched)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined
    from markupsafe import Markup

    env = Environment(
        loader=PackageLoader("qtui.core", "templates"), autoescape=True, undefined=StrictUndefined,
        finalize=lambda value: value if isinstance(value, Markup) else one_line(value),
    )
    return str(env.get_template("compare.html.j2").render(
        title=f"qtui compare: {cmp.a.name} → {cmp.b.name}", css=Markup(_HTML_CSS + COMPARE_CSS),
        compare=html_context(cmp, "B against A"),
    ))
