"""Names and labels of the precisions and scenarios, and one lookup of the words every view
(the CLI, the UI, the report, the HTML report, `recommend`) draws for a profile value: a model
(`model_table`), a framework (`frameworks`), a precision or a scenario (here).

Three lengths: `title` where there is room (menus, reports: "INT8 static", "SingleStream"),
`short` for table cells at 100+ columns ("INT8s", "Single"), `narrow` for table cells at 80
columns ("INT8s", "SS"). A value no table knows (an old result's) is drawn as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from qtui.core import frameworks, model_table
from qtui.core.model_source import model_label


@dataclass(frozen=True)
class Label:
    """The words for one precision or scenario."""

    id: str  #: the profile value, e.g. "int8_dynamic"
    title: str  #: e.g. "INT8 dynamic"
    short: str  #: e.g. "INT8d"
    narrow: str  #: e.g. "INT8d"
    #: the setup screen's availability grid column (a precision), e.g. "INT8 dyn"
    grid: str = ""


PRECISION_TABLE: tuple[Label, ...] = (
    Label("fp32", "FP32", "FP32", "FP32", "FP32"),
    Label("fp16", "FP16", "FP16", "FP16", "FP16"),
    Label("int8_dynamic", "INT8 dynamic", "INT8d", "INT8d", "INT8 dyn"),
    Label("int8_static", "INT8 static", "INT8s", "INT8s", "INT8 static"),
)
SCENARIO_TABLE: tuple[Label, ...] = (
    Label("SingleStream", "SingleStream", "Single", "SS"),
    Label("MultiStream", "MultiStream", "Multi", "MS"),
    Label("Offline", "Offline", "Offline", "Off"),
)

#: Precision and scenario ids in table order (the profile's allowed values).
PRECISIONS: tuple[str, ...] = tuple(p.id for p in PRECISION_TABLE)
SCENARIOS: tuple[str, ...] = tuple(s.id for s in SCENARIO_TABLE)

_TITLE: dict[str, str] = {
    **{m.id: m.title for m in model_table.TABLE},
    **{f.id: f.title for f in frameworks.TABLE},
    **{p.id: p.title for p in PRECISION_TABLE},
    **{s.id: s.title for s in SCENARIO_TABLE},
}
_SHORT: dict[str, str] = {
    **{m.id: m.title for m in model_table.TABLE},  # a model's title fits a 100+ column table
    **{f.id: f.short for f in frameworks.TABLE},
    **{p.id: p.short for p in PRECISION_TABLE},
    **{s.id: s.short for s in SCENARIO_TABLE},
}
_NARROW: dict[str, str] = {
    **{m.id: m.short for m in model_table.TABLE},
    **{f.id: f.narrow for f in frameworks.TABLE},
    **{p.id: p.narrow for p in PRECISION_TABLE},
    **{s.id: s.narrow for s in SCENARIO_TABLE},
}
_GRID: dict[str, str] = {p.id: p.grid for p in PRECISION_TABLE}


def _unknown(value: str) -> str:
    """A value no table knows: the user's model by its file name (never its folder,
    `model_source.model_label`), anything else (an old result's value) as it is."""
    return model_label(value)


def title(value: str) -> str:
    """A model's, framework's, precision's or scenario's title; a model file's name; else the
    value itself."""
    return _TITLE.get(value) or _unknown(value)


def short(value: str) -> str:
    """Its words in a table cell at 100+ columns ("MobileNetV2", "ORT", "INT8s", "Single")."""
    return _SHORT.get(value) or _unknown(value)


def narrow(value: str) -> str:
    """Its words in a table cell at 80 columns ("MNetV2", "ORT", "INT8s", "SS")."""
    return _NARROW.get(value) or _unknown(value)


def grid(precision: str) -> str:
    """A precision's column title in the setup screen's availability grid ("INT8 dyn")."""
    return _GRID.get(precision, precision)


def titles(values: tuple[str, ...]) -> dict[str, str]:
    """{value: title} for `values`, in their order (for menus and filters)."""
    return {v: title(v) for v in values}
