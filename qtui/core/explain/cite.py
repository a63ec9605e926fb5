"""What `recommend` and the study tables say about a quantized cell slower than FP32 or far from
the int8 peak (`explain.peak`): the per-layer reason when a profile of its artifact was made (its
summary in the cache's `explain/` folder, or a profile saved beside the runs), else the `qtui
explain` command that shows it; the study tables' executed-precision line of each quantized cell;
and, for a result, its artifact's saved profile (what the TUI's `w` shows). Reads files only: no
runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qtui.core.files import read_regular
from qtui.core.text import plural

#: Largest summary file read.
MAX_SUMMARY_BYTES = 1 << 20


def summary_path(key: str) -> Path:
    """Where the executed-precision summary of artifact `key` is kept: the cache's `explain/`
    folder, never inside the artifact's own folder (content-addressed: it holds what was
    prepared, and bundles and integrity checks carry exactly that)."""
    from qtui.core.paths import cache_dir

    return cache_dir() / "explain" / f"{key}.json"


def artifact_summary(key: str | None) -> dict[str, Any] | None:
    """The saved executed-precision summary of artifact `key` in this cache, or None."""
    if not key or "/" in key or key.startswith("."):
        return None
    try:
        data = json.loads(read_regular(summary_path(key), MAX_SUMMARY_BYTES))
    except (OSError, ValueError):
        return None
    summary = data.get("summary") if isinstance(data, dict) else None
    return summary if isinstance(summary, dict) else None


def _pct(value: Any) -> str | None:
    return f"{value * 100:.0f} %" if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def reason_text(summary: dict[str, Any]) -> str:
    """'91 % of its time in int8 kernels, 53 layers quantize float activations at every
    inference, 2 layers in float, (de)quantize 6 %'."""
    parts = []
    share = _pct(summary.get("int8_share"))
    if share is not None:
        parts.append(f"{share} of its time in int8 kernels")
    found = summary.get("compute_layers")
    counts: dict[str, Any] = found if isinstance(found, dict) else {}
    floats = sum(int(n) for p, n in counts.items() if p == "f32" and isinstance(n, int))
    if floats:
        parts.append(f"{plural(floats, 'compute layer')} in f32")
    activations = summary.get("float_activation_layers")
    if isinstance(activations, int) and activations:
        parts.append(f"{plural(activations, 'layer')} quantizing float activations at every inference")
    quantize = _pct(summary.get("quantize_share"))
    if quantize is not None:
        parts.append(f"(de)quantize {quantize}")
    return ", ".join(parts) or "no per-layer times recorded"


def explain_command(run: Any) -> str | None:
    """The `qtui explain` command (shell-quoted) that profiles `run`'s artifact, or None."""
    from qtui.core.commands import run_argv
    from qtui.core.sinks import shell_command

    argv = run_argv(run.profile)
    if argv is None:
        return None
    argv[1] = "explain"
    try:
        return shell_command(argv)
    except ValueError:
        return None


def artifact_key(run: Any) -> str | None:
    """The cache key of the artifact `run` ran (as its result recorded it), or None."""
    key = run.artifact.get("key") if isinstance(run.artifact, dict) else None
    return key if isinstance(key, str) and key else None


def saved_profile(run: Any, results_root: Path) -> Path | None:
    """The newest profile of `run`'s artifact saved under `results_root`'s explain/ (by `qtui
    explain` or the TUI), or None."""
    key = artifact_key(run)
    folder = results_root / "explain"
    if key is None or not folder.is_dir():
        return None
    found = []
    for path in folder.glob("explain-*.json"):
        if path.name.endswith(f"-{key}.json") and path.is_file():
            found.append((path.stat().st_mtime, path.name, path))
    return max(found)[2] if found else None


def why_slower(run: Any, saved: dict[str, dict[str, Any]] | None = None) -> str:
    """For a quantized run slower than FP32 (or far from the int8 peak): its artifact's per-layer
    reason (this cache's summary, else one of `saved`), or how to see it."""
    key = artifact_key(run)
    summary = artifact_summary(key)
    if summary is None and key is not None and saved:
        summary = saved.get(key)
    if summary is not None:
        return f"per layer (qtui explain): {reason_text(summary)}"
    command = explain_command(run)
    return f"why, per layer: {command}" if command else "per layer: qtui explain with the profile it ran"


# -- the study tables ----------------------------------------------------------------------------
#: Joins a figure and its unit so that no wrapping (textwrap, a table cell) splits them.
NBSP = "\u00a0"
#: The legend of the study tables' executed-precision lines.
CELL_NOTE = ("int8 94\u00a0%: share of the profiled time in int8 (f16, bf16) kernels of that cell's artifact, "
             "from its qtui explain summary (kept per artifact; nothing is profiled for a report); "
             "without per-op times (TFLite) the compute layers that ran in it")
_LOW = {"int8_dynamic": "int8", "int8_static": "int8"}


def pct(value: float) -> str:
    """'94 %' with a non-breaking space: a line wrapped at any width keeps the figure and its %."""
    return f"{value * 100:.0f}{NBSP}%"


def summary_cell_text(summary: dict[str, Any], precision: str) -> str:
    """What a quantized cell executed, from its artifact's summary: 'int8 94 %' (share of the
    profiled time in int8 kernels; 'f16 88 %' for FP16), or 'int8 52/53 layers' when the runtime
    gave no times; "" when the summary says nothing about it."""
    found = summary.get("compute_layers")
    counts = {str(k): int(v) for k, v in found.items() if isinstance(v, int)} if isinstance(found, dict) else {}
    shares = summary.get("compute_share") if isinstance(summary.get("compute_share"), dict) else {}
    label = _LOW.get(precision)
    if label is None:  # FP16 and friends: the half precision that ran most (f16 or bf16)
        low = [p for p in ("f16", "bf16") if counts.get(p) or (shares or {}).get(p)]
        label = max(low, key=lambda p: (shares or {}).get(p, 0.0) or counts.get(p, 0)) if low else "f16"
        share = summary.get("low_precision_share")
    else:
        share = summary.get("int8_share")
    if isinstance(share, (int, float)) and not isinstance(share, bool):
        return f"{label} {pct(float(share))}"
    if counts:
        return f"{label} {counts.get(label, 0)}/{sum(counts.values())}{NBSP}layers"
    return ""


def cell_text(cell: Any, by_id: dict[str, Any], saved: dict[str, dict[str, Any]] | None = None) -> str:
    """The executed-precision line of a study cell (`study_tables.StudyCell`) whose artifact has a
    summary: this cache's, else one of `saved` (`offline.summaries` of the profiles saved in the
    results folders). "" for FP32 cells, cells without one, and runs not in `by_id`."""
    if cell is None or cell.precision == "fp32":
        return ""
    run = by_id.get(cell.run_id)
    key = artifact_key(run) if run is not None else None
    summary = artifact_summary(key)
    if summary is None and key is not None and saved:
        summary = saved.get(key)
    return summary_cell_text(summary, cell.precision) if summary is not None else ""


def cited_text_rows(table: Any, by_id: dict[str, Any], saved: dict[str, dict[str, Any]] | None = None) -> list[list[tuple[str, ...]]]:
    """`table.text_rows()` (a `study_tables.StudyTable`) with each quantized cell's executed-precision
    line (`cell_text`) under its figures, where its artifact's summary is kept."""
    rows = table.text_rows()
    for out, row in zip(rows, table.rows, strict=True):
        for i, cell in enumerate(row.cells):
            text = cell_text(cell, by_id, saved)
            if text:
                out[table.label_columns + i] = (*out[table.label_columns + i], text)
    return rows


def cited_notes(tables: list[Any], by_id: dict[str, Any], saved: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The legend of the executed-precision lines (`CELL_NOTE`) when a cell has one, then, for
    each cell that has one and is slower than its FP32 or far from the int8 peak of its model,
    scenario and device (`peak.flagged`), its citation ("Mobilenet V2 · Offline: far from the int8
    peak: ONNX Runtime INT8 dynamic: 190 samples/s, ×1.10 of FP32; per layer (qtui explain): …
    → the int8 peak here: …"). [] when no cell is cited."""
    from qtui.core.explain import peak
    from qtui.core.labels import title

    if not any_cited(tables, by_id, saved):
        return []
    notes = [CELL_NOTE]
    for table in tables:
        devices = table.devices or ("",)
        for device in devices:
            cells = [c for row in table.rows if not table.by_device or row.device == device for c in row.cells if c is not None]
            for kind, cell, best in peak.flagged(cells):
                if not cell_text(cell, by_id, saved):
                    continue  # only cells the table already cites: a report never profiles
                where = f"{title(table.model)} · {table.scenario}" + (f" · {device}" if table.by_device else "")
                why = why_slower(by_id[cell.run_id], saved)
                notes.append(f"{where}: {peak.citation(kind, cell, best, table.metric.label, why).text()}")
    return notes


def any_cited(tables: list[Any], by_id: dict[str, Any], saved: dict[str, dict[str, Any]] | None = None) -> bool:
    """True when a cell of `tables` has an executed-precision line (the legend then explains it)."""
    return any(cell_text(c, by_id, saved) for t in tables for c in t.cells())
