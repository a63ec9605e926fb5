"""What a device lacks for a study: the device side of `fleet study` (`qtui fleet needs PROFILE`,
run there by its own qtui, which imports no Ansible) and the words the controller uses for it.

For every artifact of the study's plan the device answers with its own preparation path
(`qtui.core.prepare.lookup`, the same lookup a run does): `have` (in its cache: the key its
tools would make, or one imported with the same spec), `prepare` (it can make it), `lacks` (it
can run the framework but cannot make the artifact: no torch for a built-in model, no converter,
a torch that does not import), `cannot run` (the framework is not installed there, or cannot run
that precision), `error` (the cell is broken there: a weights file or data set it cannot read).
It also says its CPU architecture and, per artifact, its own architecture-bound recipe
(`arch_recipe`), so the controller never pushes an artifact made with another recipe than the
device's (ONNX Runtime's INT8 static is U8S8 on x86 and S8S8 on ARM; PyTorch's INT8 is packed
for the x86 engine or QNNPACK): it makes such an artifact with the device's recipe
(`device_target`).
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from qtui import __version__
from qtui.core.prepare.target import Target

#: The states a device gives an artifact of the study (see the module's docstring).
STATES = ("have", "prepare", "lacks", "cannot run", "error")


def arch_recipe(framework: str, precision: str, tools: dict[str, Any]) -> str | None:
    """The part of how an artifact is made that depends on the CPU architecture it is made on,
    read from its tools record (`tool_versions()` on the machine that makes it): ONNX Runtime's
    INT8 static recipe (U8S8 with or without reduce_range on x86, S8S8 on ARM) and PyTorch's
    quantized engine (x86 or qnnpack) for INT8. None: the artifact is the same made anywhere."""
    if framework == "onnxruntime" and precision == "int8_static":
        recipe = tools.get("recipe")
        return str(recipe) if recipe else None
    if framework == "torch" and precision.startswith("int8"):
        engine = tools.get("quantized_engine")
        return str(engine) if engine else None
    return None


def device_target(machine: str, recipe: object) -> Target:
    """The device to prepare for (`target.preparing_for`) when its architecture-bound recipe is
    not this machine's: its architecture, and for x86 whether its CPU has VNNI, read from its
    ONNX Runtime INT8 static recipe (7-bit weights, `-rr`, only without VNNI); the caller checks
    that the recipe made for this target is the device's."""
    vnni = None
    if isinstance(recipe, str) and recipe.startswith("v") and ":static=U8S8" in recipe:
        vnni = not recipe.endswith("-rr")
    return Target(machine, vnni)


def _torch_import_problem() -> str | None:
    """Why `import torch` fails in this machine's Python (None: it imports), tried in a child
    process: a torch that is found but does not import (a wheel for another CPU, a broken
    install) makes nothing, and a crash there must not end this answer."""
    try:
        done = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"torch does not import here: {exc}"
    if done.returncode == 0:
        return None
    lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    return "torch does not import here: " + (lines[-1] if lines else f"exit {done.returncode}")


def device_needs(profile_path: Path) -> dict[str, Any]:
    """This machine's answer for the study of `profile_path`: its architecture and qtui version,
    and one entry per distinct artifact of the plan (the plan's first cell that needs it):
    {cell, model, framework, precision, spec_id, recipe, state, reason}."""
    from qtui.core.catalog import framework_installed, install_hint
    from qtui.core.data import DatasetError
    from qtui.core.model_source import source_kind
    from qtui.core.prepare import PrepareError, lookup, prepare_module, source_unavailable_reason
    from qtui.core.prepare.for_profile import calibration_spec
    from qtui.core.profile import load
    from qtui.core.study import StudyOptions, plan

    cells: list[dict[str, Any]] = []
    seen: set[str] = set()
    torch_problem: list[str | None] = []
    for index, cell in enumerate(plan(load(profile_path), StudyOptions())):
        entry: dict[str, Any] = {
            "cell": index, "model": cell.model, "framework": cell.framework, "precision": cell.precision,
            "spec_id": None, "recipe": None, "state": "error", "reason": "",
        }
        try:
            if not framework_installed(cell.framework):
                entry.update(state="cannot run", reason=f"{cell.framework} not installed — {install_hint(cell.framework)}")
                cells.append(entry)
                continue
            module = prepare_module(cell.framework)
            runtime = module.runtime_unavailable_reason(cell.precision)
            if runtime:
                entry.update(state="cannot run", reason=runtime)
                cells.append(entry)
                continue
            calibration = calibration_spec(cell, None, lambda *_: None)[1] if cell.precision == "int8_static" else None
            found = lookup(cell, calibration, module)
        except (PrepareError, DatasetError, OSError, ValueError) as exc:  # the cell is broken here
            entry["reason"] = str(exc)
            cells.append(entry)
            continue
        if found.spec_id in seen:
            continue
        seen.add(found.spec_id)
        entry.update(spec_id=found.spec_id, recipe=arch_recipe(cell.framework, cell.precision, found.spec["tools"]))
        reason = None if found.artifact is not None else source_unavailable_reason(module, cell.model, cell.precision)
        if found.artifact is None and reason is None and source_kind(cell.model) in ("builtin", "entry"):
            if not torch_problem:  # once: a built-in or an entry point is made from torch
                torch_problem.append(_torch_import_problem())
            reason = torch_problem[0]
        if found.artifact is not None:
            entry.update(state="have")
        elif reason:
            entry.update(state="lacks", reason=reason)
        else:
            entry.update(state="prepare")
        cells.append(entry)
    return {"machine": platform.machine(), "qtui": __version__, "cells": cells}
