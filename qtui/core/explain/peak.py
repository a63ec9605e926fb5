"""Which quantized cells `recommend` and the study tables explain per layer, and what they say:
a quantized cell **slower than its FP32**, or an INT8 cell **far from the int8 peak** this CPU
showed for the same model, scenario and device.

The int8 peak is measured, never nominal: the best speed-up over FP32 among the INT8 cells (INT8
dynamic and INT8 static, every framework) of the same model × scenario × device, each over its
own framework's FP32 run (the study tables' ×). An INT8 cell that is not slower than its FP32 is
far from that peak when its speed-up is below `FAR_FROM_PEAK` (half) of the peak's — e.g. ONNX
Runtime INT8 dynamic at ×1.2 where OpenVINO INT8 static reaches ×2.6. Speed-ups, not absolute
speeds, are compared, so a framework that is slower at every precision is not flagged for what
quantization did not cause. A cell alone in its table (no other INT8 cell) has no peak to be far
from. The trigger is the measured speed only: a float island that costs nothing measurable needs
no explaining; the executed-precision summary is what the citation then shows.

Why half: a factor of two is far outside run-to-run noise (a cell whose repeats spread more than
10 % is already marked unstable), so a cell below it loses to something structural on the same
CPU — layers left in float, activations quantized at every inference, reorders, (de)quantize
nodes — which is what the per-layer profile shows. A threshold nearer 1 would flag cells whose
runtimes merely fuse differently. Medians are compared, as in the tables.

The citation reads "far from the int8 peak: ONNX Runtime INT8 dynamic: 190 samples/s, ×1.10 of
FP32; per layer (qtui explain): 91 % of its time in int8 kernels, 53 layers quantizing float
activations at every inference → the int8 peak here: OpenVINO INT8 static, ×2.60 of its FP32".
Reads cells and saved summaries only: no runtime, no profiling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from qtui.core.catalog import FRAMEWORK_TITLES, PRECISION_TITLES

#: An INT8 cell is far from the int8 peak when its speed-up over its FP32 is below this fraction
#: of the best INT8 speed-up of the same model, scenario and device (see the module docstring).
FAR_FROM_PEAK = 0.5
#: The precisions whose peak is the int8 peak.
INT8 = ("int8_dynamic", "int8_static")
SLOWER = "slower than FP32"
FAR = "far from the int8 peak"


class Citation(NamedTuple):
    """What `recommend` and the study tables say about one flagged cell."""

    trigger: str  # SLOWER or FAR
    cell: str  # "ONNX Runtime INT8 dynamic"
    value: str  # "19 samples/s", "p90 50 ms"
    speedup: str  # "×0.20 of FP32"
    why: str  # the per-layer reason (`cite.reason_text`), or the command that shows it
    peak: str = ""  # "OpenVINO INT8 static, ×2.60 of its FP32"; "" when no other INT8 cell is faster

    def text(self) -> str:
        peak = f" → the int8 peak here: {self.peak}" if self.peak else ""
        return f"{self.trigger}: {self.cell}: {self.value}, {self.speedup}; {self.why}{peak}"

    def as_dict(self) -> dict[str, str]:
        return {"cell": self.cell, "value": self.value, "speedup": self.speedup, "why": self.why, "int8_peak": self.peak}


def label(cell: Any) -> str:
    """'ONNX Runtime INT8 dynamic' for a `study_tables.StudyCell`."""
    return f"{FRAMEWORK_TITLES.get(cell.framework, cell.framework)} {PRECISION_TITLES.get(cell.precision, cell.precision)}"


def _measured(cell: Any) -> bool:
    return cell is not None and cell.status == "ok" and cell.value is not None and cell.speedup is not None


def int8_peak(cells: Iterable[Any]) -> Any | None:
    """The INT8 cell with the best speed-up over its FP32 among `cells` (one model × scenario ×
    device), or None."""
    found = [c for c in cells if _measured(c) and c.precision in INT8]
    return max(found, key=lambda c: c.speedup) if found else None


def trigger(cell: Any, peak: Any | None) -> str | None:
    """SLOWER, FAR or None for `cell` given the int8 `peak` of its model × scenario × device."""
    if not _measured(cell) or cell.precision == "fp32":
        return None
    if cell.speedup < 1:
        # with an interval, slower only when the whole of it is below ×1 (×0.91 [0.71–1.15] is
        # not shown to be slower); a cell without one is judged by its figure, which it shows bare
        est = getattr(cell, "speedup_estimate", None)
        if est is None or not est.has_interval or est.high < 1:
            return SLOWER
        return None
    if cell.precision in INT8 and peak is not None and cell.speedup < FAR_FROM_PEAK * peak.speedup:
        return FAR
    return None


def flagged(cells: Iterable[Any]) -> list[tuple[str, Any, Any | None]]:
    """`(trigger, cell, peak)` for each cell of `cells` (one model × scenario × device) that is
    slower than FP32 or far from the int8 peak, in the order given; peak is None when no other
    INT8 cell is faster than FP32 by more."""
    cells = [c for c in cells if c is not None]
    peak = int8_peak(cells)
    out = []
    for cell in cells:
        why = trigger(cell, peak)
        if why is None:
            continue
        shown = peak if peak is not None and peak is not cell and peak.speedup > max(cell.speedup, 1.0) else None
        out.append((why, cell, shown))
    return out


def citation(kind: str, cell: Any, peak: Any | None, unit: str, why: str) -> Citation:
    """The citation of a flagged cell (`flagged`), its metric in `unit`, `why` the per-layer
    reason or how to see it."""
    from qtui.core.run_table import format_figure

    shown = f"{label(peak)}, ×{peak.speedup:.2f} of its FP32" if peak is not None else ""
    return Citation(kind, label(cell), value_text(format_figure(cell.value), unit), f"{cell.speedup_text()} of FP32", why, shown)


def value_text(figure: str, unit: str) -> str:
    """'19 samples/s'; a latency metric's label ('p90 ms') around its figure: 'p90 50 ms'."""
    name, _, rest = unit.partition(" ")
    return f"{name} {figure} {rest}" if rest else f"{figure} {unit}"
