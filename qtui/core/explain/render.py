"""Per-layer profiles as text: the summary first, then the per-layer table, or several artifacts
side by side (one row per source layer, one column per artifact), as aligned text of a given
width, CSV rows or JSON. Cells are plain text; the caller sends them through its sink."""

from __future__ import annotations

from typing import Any

from qtui.core.explain import Profile, side_by_side, summarize, to_dict

_PRECISION_SHORT = {"int8": "i8", "f16": "f16", "bf16": "bf16", "f32": "f32", "?": "?"}


def _pct(value: float | None) -> str:
    """'94 %' joined by a non-breaking space: wrapping never leaves the '%' alone on a line."""
    return "n/a" if value is None else f"{value * 100:.0f}\u00a0%"


def summary_lines(profile: Profile) -> list[str]:
    """The summary a person reads first, one fact a line."""
    from qtui.core.model_source import model_label
    from qtui.core.text import plural

    s = summarize(profile)
    head = f"{model_label(profile.model)} · {profile.framework} {profile.precision} · {profile.runtime} · {profile.cpu}, {profile.threads} threads"
    lines = [head]
    counts = ", ".join(f"{n} in {p}" for p, n in sorted(s["compute_layers"].items()))
    lines.append(f"compute layers: {counts or 'none'}")
    if s["total_us"] is None:
        lines.append(f"time per layer: {profile.timing}")
    else:
        shares = ", ".join(f"{p} {_pct(v)}" for p, v in s["compute_share"].items())
        wall = profile.overhead.get("profiled_ms")
        # the sum of the runtime's per-node times, not the wall time of a call (which also holds the
        # gaps between nodes, thread hand-offs and the call itself): say both, so neither reads as the other
        of_wall = f" of {wall:.2f} ms wall a call" if isinstance(wall, (int, float)) and wall > 0 else ""
        lines.append(
            f"time in nodes (batch 1, median of {plural(profile.runs, 'profiled run')}): {s['total_us'] / 1e3:.2f} ms{of_wall}; "
            f"compute {shares or 'none'}"
        )
        lines.append(f"int8 kernels {_pct(s['int8_share'])} of the time; (de)quantize {_pct(s['quantize_share'])}; reorders {_pct(s['reorder_share'])}; other ops {_pct(s['other_share'])}")
    floats = s["float_layers"]
    if floats and len(floats) < sum(s["compute_layers"].values()):
        names = ", ".join(f["layer"] for f in floats[:6]) + (f" … (+{len(floats) - 6})" if len(floats) > 6 else "")
        reasons = sorted({f["reason"] for f in floats if f["reason"]})
        lines.append(f"left in float: {names}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    elif floats and profile.precision.startswith("int8"):
        reasons = sorted({f["reason"] for f in floats if f["reason"]})
        lines.append("every compute layer ran in float" + (f": {'; '.join(reasons)}" if reasons else ""))
    if s["float_activation_layers"]:
        lines.append(f"float activations: {s['float_activation_layers']} compute layers quantize their float input at every inference")
    if s["fused_nodes"]:
        lines.append(f"fused away: {s['fused_nodes']} nodes")
    ov = profile.overhead
    if ov.get("ratio") is not None:
        lines.append(f"profiler cost: {ov['profiled_ms']:.2f} ms per batch with it, {ov['plain_ms']:.2f} ms without (×{ov['ratio']:.2f}); timed results stay LoadGen's")
    elif ov.get("note"):
        lines.append(f"profiler cost: {ov['note']}")
    if profile.layer_match != "by name":
        lines.append(f"layers matched {profile.layer_match}")
    lines.extend(profile.notes)
    return lines


LAYER_HEADERS = ["layer", "op", "kernel", "prec", "µs", "share", "fused"]


def layer_rows(profile: Profile) -> list[list[Any]]:
    rows = []
    for r in profile.rows:
        rows.append([r.layer or "-", r.op, r.kernel, r.precision, None if r.time_us is None else round(r.time_us, 1),
                     None if r.share is None else round(r.share * 100, 1), "yes" if r.fused else ""])
    return rows


def column_label(profile: Profile) -> str:
    return f"{profile.framework} {profile.precision}"


def narrow_label(profile: Profile) -> str:
    """'ORT INT8s': the column title of a side-by-side table at 80 columns."""
    from qtui.core import labels

    return f"{labels.narrow(profile.framework)} {labels.narrow(profile.precision)}"


#: Operators in a few letters for side-by-side cells (LEGEND explains them).
SHORT_OPS = {
    "Conv": "conv", "FusedConv": "conv", "NhwcFusedConv": "conv", "Gemm": "gemm", "FusedGemm": "gemm",
    "QLinearConv": "qconv", "QGemm": "qgemm", "ConvInteger": "convint", "DynamicQuantizeMatMul": "dqmm",
    "MatMulInteger": "mmint", "Convolution": "conv", "GroupConvolution": "dwconv",
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dwconv", "FULLY_CONNECTED": "fc",
    "quantized::conv2d": "qconv", "quantized::conv2d_relu": "qconv", "quantized::linear": "qfc",
    "quantized::linear_dynamic": "dqfc", "aten::conv2d": "conv", "aten::linear": "fc",
    "FullyConnected": "fc", "FullyConnectedQuantizedLegacy": "fc", "FullyConnectedCompressed": "fc",
}
LEGEND = ("ops: conv/dwconv/fc float or int8 by the precision after them; qconv/qgemm/qfc int8 "
          "with int8 activations; convint/dqmm/dqfc int8 with float activations quantized at run "
          "time; ms: the layer's median time (batch 1) with its bias/activation/(de)quantize nodes")


def short_layer(layer: str) -> str:
    """'features.3.conv.0.0' → 'f3.c0.0'; 'classifier.1' → 'cls.1' (torchvision's names)."""
    return layer.replace("features.", "f").replace(".conv.", ".c").replace("classifier.", "cls.")


def side_headers(profiles: list[Profile], compact: bool = True) -> list[str]:
    return ["layer", *((narrow_label(p) if compact else column_label(p)) for p in profiles)]


def side_rows(profiles: list[Profile], compact: bool = True) -> list[list[Any]]:
    """One row per source layer: per artifact 'op prec µs' (compact) or its fields."""
    layers, cells = side_by_side(profiles)
    rows: list[list[Any]] = []
    for layer, row in zip(layers, cells, strict=True):
        out: list[Any] = [short_layer(layer) if compact else layer]
        for cell in row:
            if cell is None:
                out.append("-")
                continue
            t = "" if cell["time_us"] is None else f" {cell['time_us'] / 1e3:.2f}"
            out.append(f"{SHORT_OPS.get(cell['op'], _short_op(cell['op']))} {_PRECISION_SHORT.get(cell['precision'], cell['precision'])}{t}" if compact
                       else f"{cell['op']} {cell['precision']}{t} ms")
        rows.append(out)
    return rows


def side_csv_rows(profiles: list[Profile]) -> tuple[list[str], list[list[Any]]]:
    layers, cells = side_by_side(profiles)
    headers = ["layer"]
    for p in profiles:
        label = column_label(p).replace(" ", "_")
        headers += [f"{label}_op", f"{label}_precision", f"{label}_us"]
    rows = []
    for layer, row in zip(layers, cells, strict=True):
        out: list[Any] = [layer]
        for cell in row:
            out += [None, None, None] if cell is None else [cell["op"], cell["precision"], cell["time_us"]]
        rows.append(out)
    return headers, rows


def _short_op(op: str) -> str:
    for prefix in ("quantized::", "aten::"):
        if op.startswith(prefix):
            return op[len(prefix):]
    return op


def aligned(headers: list[str], rows: list[list[Any]], width: int = 80) -> list[str]:
    """Rows as aligned text no wider than `width`: the widest columns are cut (with '…')."""
    table = [[("" if c is None else str(c)) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    while sum(widths) + 2 * (len(widths) - 1) > width and max(widths[1:], default=0) > 4:
        i = widths.index(max(widths[1:]), 1)  # the first column (the layer) is never cut
        widths[i] -= 1
    lines = []
    for r in table:
        cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(r, widths, strict=True)]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return lines


def wrapped(lines: list[str], width: int) -> list[str]:
    """Each line wrapped at `width`, its continuation indented by two spaces."""
    import textwrap

    out = []
    for line in lines:
        out.extend(textwrap.wrap(line, width, subsequent_indent="  ", break_on_hyphens=False) or [""])
    return out


def as_json(profiles: list[Profile]) -> list[dict[str, Any]]:
    return [to_dict(p) for p in profiles]
