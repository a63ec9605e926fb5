"""What qtui offers and what can run here: models, frameworks, precisions, scenarios, and for
every framework × precision whether it is available on this machine and, if not, why.

Availability is decided without importing any framework (`importlib.util.find_spec` and package
metadata only), so `qtui doctor` and the TUI's menus stay fast on a Raspberry Pi.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from qtui.core import frameworks, labels, model_table
from qtui.core.profile import FRAMEWORKS, MODELS, PRECISIONS, SCENARIOS

#: {id: title} of the built-in models, frameworks, precisions and scenarios, from their tables
#: (`model_table`, `frameworks`, `labels`).
MODEL_TITLES = {m.id: m.title for m in model_table.TABLE}
FRAMEWORK_TITLES = {f.id: f.title for f in frameworks.TABLE}
PRECISION_TITLES = {p.id: p.title for p in labels.PRECISION_TABLE}
SCENARIO_TITLES = {s.id: s.title for s in labels.SCENARIO_TABLE}

#: The values each `--model/--framework/--precision/--scenario` filter takes (`filter_value`).
FILTER_CHOICES: dict[str, tuple[str, ...]] = {
    "model": MODELS, "framework": FRAMEWORKS, "precision": PRECISIONS, "scenario": SCENARIOS,
}
#: Other names a filter value is known by: its title and table labels (`labels`), and a few
#: names users type that no table draws.
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "mobilenet_v2": ("MobileNet",), "tflite": ("TFLite", "TFL", "LiteRT"),
}
_FILTER_ALIASES: dict[str, tuple[str, ...]] = {
    value: (labels.title(value), labels.short(value), labels.narrow(value), *_EXTRA_ALIASES.get(value, ()))
    for value in (*MODELS, *FRAMEWORKS, *PRECISIONS, *SCENARIOS)
}


def _filter_key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def filter_value(kind: str, text: str) -> str | None:
    """The value a `--model`, `--framework`, `--precision` or `--scenario` filter names (`kind`:
    a key of FILTER_CHOICES): its id, title or table label, in any case, with or without spaces,
    `-` or `_` ("offline", "mobilenetv2", "ONNX Runtime", "int8s"); None when it names none. The
    one parser every command's filters go through."""
    key = _filter_key(text)
    if not key:
        return None
    titles = {**MODEL_TITLES, **FRAMEWORK_TITLES, **PRECISION_TITLES, **SCENARIO_TITLES}
    for value in FILTER_CHOICES[kind]:
        names = (value, titles.get(value, value), *_FILTER_ALIASES.get(value, ()))
        if key in {_filter_key(n) for n in names}:
            return value
    return None


#: Python modules a framework's runtime needs (from the framework table).
RUNTIME_MODULES: dict[str, tuple[str, ...]] = {f.id: f.runtime_modules for f in frameworks.TABLE}


@dataclass(frozen=True)
class Availability:
    framework: str
    precision: str
    available: bool
    reason: str  # why not, or a note on what it means when available


def module_present(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def framework_installed(framework: str) -> bool:
    return all(module_present(m) for m in RUNTIME_MODULES[framework])


def install_hint(framework: str) -> str:
    return frameworks.info(framework).install_hint


def _prepare_module(framework: str) -> Any:
    """The framework's prepare module: it imports no framework at module level."""
    from qtui.core.prepare import prepare_module

    return prepare_module(framework)


def availability(framework: str, precision: str, model: str | None = None) -> Availability:
    """Whether `framework` × `precision` can run here, and why not; with `model`, also whether
    that model's kind of source (`model_table.SOURCES`) can fill the cell."""
    if model is not None:
        from qtui.core.model_source import source_kind

        kind = source_kind(model)
        if kind != "unknown":
            refused = model_table.source_kind(kind).reason(framework, precision)
            if refused:
                return Availability(framework, precision, False, refused)
        if kind == "entry":  # torch builds it to check it before any run, even of a prepared artifact
            from qtui.core.prepare import torch_missing_reason

            needs = torch_missing_reason(model)
            if needs:
                return Availability(framework, precision, False, needs)
    if not framework_installed(framework):
        return Availability(
            framework, precision, False, f"{framework} not installed — {install_hint(framework)}"
        )
    try:
        module = _prepare_module(framework)
    except Exception as exc:  # PrepareError: framework not wired in this version
        return Availability(framework, precision, False, str(exc))
    from qtui.core.artifacts import has_artifacts

    runtime_reason = module.runtime_unavailable_reason(precision)
    if runtime_reason:
        return Availability(framework, precision, False, runtime_reason)
    from qtui.core.prepare import source_unavailable_reason, torch_missing_reason

    reason = (
        source_unavailable_reason(module, model, precision) if model
        else module.unavailable_reason(precision) or torch_missing_reason(None)
    )
    if reason:
        # e.g. TFLite on a Raspberry Pi: the converter has no aarch64 wheel, but artifacts
        # prepared elsewhere and imported with `qtui bundle import` run here.
        if has_artifacts(framework, precision, model):
            return Availability(framework, precision, True, f"runs cached or imported artifacts only: {reason}")
        return Availability(framework, precision, False, reason)
    kind_notes = getattr(module, "SOURCE_PRECISION_NOTES", {}).get(_source(model) if model else "builtin", {})
    note = kind_notes.get(precision) or module.PRECISION_NOTES.get(precision, "")
    return Availability(framework, precision, True, note)


def _source(model: str) -> str:
    from qtui.core.model_source import source_kind

    return source_kind(model)


def unavailable_reason(framework: str, precision: str, model: str | None = None) -> str | None:
    """Why this framework × precision (of `model`, when given) cannot run here (the same words
    as `qtui doctor` and the UI), or None when it can."""
    found = availability(framework, precision, model)
    return None if found.available else found.reason


def matrix(model: str | None = None) -> list[Availability]:
    return [availability(f, p, model) for f in FRAMEWORKS for p in PRECISIONS]


__all__ = [
    "MODELS",
    "FRAMEWORKS",
    "PRECISIONS",
    "SCENARIOS",
    "Availability",
    "availability",
    "unavailable_reason",
    "matrix",
    "framework_installed",
    "install_hint",
]
