"""Why is INT8 (not) faster: a per-layer profile of one prepared artifact from its runtime's own
profiler, mapped back to the source model's layers, with a summary a person reads first.

A profiling pass is never a timed run: it loads the prepared artifact in its runtime with the
runtime's profiler on (ONNX Runtime's profiling JSON, OpenVINO's `PERF_COUNT`, torch.profiler;
TFLite has no per-op timing in its Python API and says so), runs a few batch-1 inferences and
records, per runtime node: the source layer it belongs to, the operator, the kernel that ran, the
precision it executed in, its time and share, and whether it was fused away. The timed figures
of results stay the LoadGen ones; the profile says how much the profiler itself cost.

Each framework's collector lives in its own module here (`collect_onnxruntime`, …) and imports
its runtime only inside itself. This module holds what every view needs without any runtime:
the rows, the summary, the bounded JSON file a profile is saved as, and side-by-side alignment.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qtui.core.explain import onnx_graph
from qtui.core.explain.onnx_graph import onnx_scope as onnx_scope
from qtui.core.files import atomic_write_text, read_regular

#: Version of the saved profile format.
EXPLAIN_FORMAT = 1
#: A saved profile keeps at most this many rows (the slowest first; the rest are summed).
MAX_ROWS = 1500
#: Longest text kept in any field of a saved profile.
MAX_TEXT = 240
#: Largest profile file read back.
MAX_FILE_BYTES = 8 << 20

#: Roles of a row: the arithmetic of a layer, (de)quantisation, a layout change, the rest.
ROLES = ("compute", "quantize", "reorder", "other")
#: How a note starts for a layer whose int8 arithmetic takes float activations quantized at run
#: time (ORT ConvInteger, PyTorch dynamic linear, TFLite dynamic-range kernels).
FLOAT_ACTIVATIONS_NOTE = "float activations"
#: Executed precisions a row can have ("?" where the runtime does not say).
PRECISIONS = ("int8", "f16", "bf16", "f32", "?")

COLLECTORS = {
    "onnxruntime": "qtui.core.explain.onnxruntime",
    "openvino": "qtui.core.explain.openvino",
    "torch": "qtui.core.explain.torch",
    "tflite": "qtui.core.explain.tflite",
}


class ExplainError(Exception):
    """A profile could not be made or read; the message is meant for the user."""


@dataclass
class LayerRow:
    """One runtime node: the source layer it belongs to ("" when none), what ran and how long."""

    layer: str
    node: str
    op: str
    kernel: str
    precision: str
    time_us: float | None
    role: str = "compute"
    fused: bool = False
    note: str = ""
    share: float | None = None


@dataclass
class Profile:
    """A per-layer profile of one artifact on one machine."""

    framework: str
    precision: str
    model: str
    artifact: str
    runtime: str
    cpu: str
    threads: int
    runs: int
    rows: list[LayerRow]
    timing: str = "measured"
    layer_match: str = "by name"
    overhead: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    format: int = EXPLAIN_FORMAT

    @property
    def label(self) -> str:
        return f"{self.framework} {self.precision}"

    def summary(self) -> dict[str, Any]:
        return summarize(self)


def precision_of(type_name: str) -> str:
    """An element type in any runtime's words (uint8, i8, FP32, float16, bfloat16…) as one of
    PRECISIONS."""
    t = type_name.strip().lower()
    if t in ("int8", "uint8", "i8", "u8", "qint8", "quint8", "torch.qint8", "torch.quint8"):
        return "int8"
    if t in ("float16", "f16", "fp16", "half", "mlfloat16", "torch.float16"):
        return "f16"
    if t in ("bfloat16", "bf16", "torch.bfloat16"):
        return "bf16"
    if t in ("float", "float32", "f32", "fp32", "torch.float32"):
        return "f32"
    return "?"


# -- source layers -----------------------------------------------------------------------------
def layer_owners(model: str) -> dict[str, str]:
    """`{module name: compute layer it belongs to}` for a built-in model: every Conv2d/Linear owns
    itself and the modules after it in the same parent (its BatchNorm, activation), until the
    next compute layer. For the user's ONNX file, read from its graph (`onnx_graph.owners`:
    ONNX node and tensor names too); for the user's .tflite file, from its ops
    (`tflite_graph.owners`: their output tensor names too). Empty for other models, or when
    torch (onnx, the TFLite runtime) is not installed."""
    from qtui.core.model_source import source_kind

    kind = source_kind(model)
    if kind == "onnx":
        return onnx_graph.owners(model)
    if kind == "tflite":
        from qtui.core.explain import tflite_graph

        return tflite_graph.owners(model)
    if kind != "builtin":
        return {}
    try:
        import torch

        from qtui.core.models import build_model
    except ImportError:
        return {}
    module = build_model(model)
    owners: dict[str, str] = {}
    current = ""
    for name, sub in module.named_modules():
        if not name or list(sub.children()):
            continue
        if isinstance(sub, (torch.nn.Conv2d, torch.nn.Linear)):
            current = name
            owners[name] = name
        elif current and _parent(name) == _parent(current):
            owners[name] = current
    return owners


def compute_layers(owners: dict[str, str]) -> list[str]:
    """The compute layers of `owners`, in the model's order."""
    return [name for name, owner in owners.items() if name == owner]


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def resolve(candidates: Iterable[str], owners: dict[str, str]) -> str:
    """The source layer of a runtime node from module paths its names hold (first that maps),
    else the first candidate as it is, else ""."""
    cands = [c for c in candidates if c]
    for c in cands:
        if c in owners:
            return owners[c]
    return cands[0] if cands else ""


_OV_MODULE = re.compile(r"__module\.([A-Za-z0-9_.]+)")


def openvino_scopes(names: str) -> list[str]:
    """Module paths in OpenVINO's original layer names ('__module.features.0.1/aten::…')."""
    return _OV_MODULE.findall(names)


# -- summary -----------------------------------------------------------------------------------
def summarize(profile: Profile) -> dict[str, Any]:
    """What a person reads first: share of time per executed precision of the compute, the
    compute layers left in float (with the runtime's note), time in (de)quantize and reorder
    nodes, fused-away nodes, and the profiler's own cost."""
    rows = [r for r in profile.rows if not r.fused]
    timed = profile.timing == "measured" and any(r.time_us is not None for r in rows)
    total = sum(r.time_us or 0.0 for r in rows) if timed else 0.0
    compute = [r for r in rows if r.role == "compute"]
    by_precision: dict[str, float] = {}
    counts: dict[str, int] = {}
    for r in compute:
        counts[r.precision] = counts.get(r.precision, 0) + 1
        if timed:
            by_precision[r.precision] = by_precision.get(r.precision, 0.0) + (r.time_us or 0.0)
    low = ("int8", "f16", "bf16")
    float_layers = sorted(
        {(r.layer or r.node): r.note for r in compute if r.precision not in low}.items()
    )

    def share(roles: tuple[str, ...]) -> float | None:
        if not timed or total <= 0:
            return None
        return sum(r.time_us or 0.0 for r in rows if r.role in roles) / total

    return {
        "total_us": round(total, 1) if timed else None,
        "compute_share": {p: round(t / total, 4) for p, t in sorted(by_precision.items())} if timed and total > 0 else {},
        "int8_share": round(sum(by_precision.get(p, 0.0) for p in ("int8",)) / total, 4) if timed and total > 0 else None,
        "low_precision_share": round(sum(by_precision.get(p, 0.0) for p in low) / total, 4) if timed and total > 0 else None,
        "compute_layers": counts,
        "float_layers": [{"layer": name, "reason": note} for name, note in float_layers],
        "quantize_share": share(("quantize",)),
        "reorder_share": share(("reorder",)),
        "other_share": share(("other",)),
        "fused_nodes": sum(1 for r in profile.rows if r.fused),
        "float_activation_layers": sum(1 for r in compute if r.note.startswith(FLOAT_ACTIVATIONS_NOTE)),
        "profiler_overhead": profile.overhead.get("ratio"),
    }


def with_shares(rows: list[LayerRow]) -> list[LayerRow]:
    """Fill each row's share of the profile's total time (None without times)."""
    total = sum(r.time_us or 0.0 for r in rows if not r.fused)
    for r in rows:
        r.share = round((r.time_us or 0.0) / total, 5) if total > 0 and r.time_us is not None else None
    return rows


# -- collecting --------------------------------------------------------------------------------
def collect(artifact: Any, model: str, threads: int, runs: int = 5) -> Profile:
    """Profile a prepared artifact with its own runtime (imported only now)."""
    module_name = COLLECTORS.get(artifact.framework)
    if module_name is None:
        raise ExplainError(f"no profiler for framework '{artifact.framework}'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExplainError(f"{artifact.framework} is not installed here: {exc}") from exc
    owners = layer_owners(model)
    profile: Profile = module.collect(artifact, owners, threads, runs)
    from qtui.core.model_source import model_label

    profile.model = model_label(model)  # the user's model file by its name, never its folder
    with_shares(profile.rows)
    return profile


# -- saving and reading ------------------------------------------------------------------------
def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def to_dict(profile: Profile) -> dict[str, Any]:
    """The profile as saved: rows bounded by MAX_ROWS (the slowest kept, the rest summed into one
    row), every text bounded by MAX_TEXT, and its summary."""
    rows = list(profile.rows)
    if len(rows) > MAX_ROWS:
        rows.sort(key=lambda r: -(r.time_us or 0.0))
        kept, dropped = rows[: MAX_ROWS - 1], rows[MAX_ROWS - 1 :]
        rest = sum(r.time_us or 0.0 for r in dropped)
        kept.append(LayerRow("", f"{len(dropped)} more nodes", "(dropped)", "", "?", rest, role="other"))
        rows = kept
    out = asdict(profile)
    out["rows"] = [{k: _clip(v) if isinstance(v, str) else v for k, v in asdict(r).items()} for r in rows]
    out["notes"] = [_clip(n) for n in profile.notes]
    out["summary"] = summarize(profile)
    return out


def from_dict(data: dict[str, Any], source: str = "") -> Profile:
    """A profile from its saved form; ExplainError naming `source` when it is not one."""
    try:
        if int(data.get("format", 0)) != EXPLAIN_FORMAT:
            raise ExplainError(f"{source}: not a qtui explain profile of format {EXPLAIN_FORMAT}")
        rows = [LayerRow(**{k: r[k] for k in LayerRow.__dataclass_fields__ if k in r}) for r in data["rows"]]
        fields = {k: data[k] for k in Profile.__dataclass_fields__ if k in data and k != "rows"}
        return Profile(rows=rows, **fields)
    except ExplainError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ExplainError(f"{source}: not a qtui explain profile ({exc})") from exc


def file_name(profile: Profile) -> str:
    return f"explain-{profile.framework}-{profile.precision}-{profile.artifact}.json"


def save(profile: Profile, folder: Path) -> Path:
    """Write the profile into `folder` (atomically); its path."""
    path = folder / file_name(profile)
    atomic_write_text(path, json.dumps(to_dict(profile), indent=1, sort_keys=True))
    return path


def save_summary_with_artifact(profile: Profile, key: str) -> Path:
    """Store the executed-precision summary of artifact `key` (`summary_path`), so recommend and
    a study can show it for every cell without profiling again."""
    from qtui.core.explain.cite import summary_path

    path = summary_path(key)
    data = {"format": EXPLAIN_FORMAT, "framework": profile.framework, "precision": profile.precision,
            "cpu": profile.cpu, "runtime": profile.runtime, "summary": summarize(profile)}
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))
    return path


def load(path: Path) -> Profile:
    """A saved profile (no runtime needed)."""
    try:
        data = json.loads(read_regular(path, MAX_FILE_BYTES))
    except (OSError, ValueError) as exc:
        raise ExplainError(f"{path}: cannot read a profile ({exc})") from exc
    if not isinstance(data, dict):
        raise ExplainError(f"{path}: not a qtui explain profile")
    return from_dict(data, str(path))


def load_all(path: Path) -> list[Profile]:
    """The profiles of a file, or of every `explain-*.json` in a folder (and its subfolders)."""
    if path.is_dir():
        files = sorted(path.rglob("explain-*.json"))
        if not files:
            raise ExplainError(f"{path}: no saved profiles (explain-*.json) in this folder")
        return [load(f) for f in files]
    return [load(path)]


# -- side by side ------------------------------------------------------------------------------
def layer_cells(profile: Profile) -> dict[str, dict[str, Any]]:
    """Per source layer: the compute op and precision that ran and the layer's total time."""
    cells: dict[str, dict[str, Any]] = {}
    for r in profile.rows:
        if not r.layer or r.fused:
            continue
        cell = cells.setdefault(r.layer, {"op": "", "precision": "", "time_us": None})
        if r.role == "compute" and not cell["op"]:
            cell["op"], cell["precision"] = r.op, r.precision
        if r.time_us is not None:
            cell["time_us"] = (cell["time_us"] or 0.0) + r.time_us
    return {k: v for k, v in cells.items() if v["op"]}


def side_by_side(profiles: list[Profile]) -> tuple[list[str], list[list[dict[str, Any] | None]]]:
    """Layers (in the first profile's order, then any others) and one cell per profile each."""
    per = [layer_cells(p) for p in profiles]
    order: list[str] = []
    for cells in per:
        order.extend(k for k in cells if k not in order)
    return order, [[cells.get(layer) for cells in per] for layer in order]
