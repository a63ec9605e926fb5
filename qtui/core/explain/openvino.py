"""OpenVINO's per-node profile: the CPU plugin compiled with `PERF_COUNT` reports, per node of
the executable graph (`infer_request.get_profiling_info()`), its type, the primitive that ran
(`exec_type`, e.g. `brgconv_avx512_1x1_I8`, `jit_avx512_amx_I8`, `brgconv_avx512_f32`: its suffix
names the precision), its time and `status` (`NOT_RUN`/`OPTIMIZED_OUT`: fused into a neighbour).
The runtime model's `originalLayersNames` rt_info lists the IR layers each node absorbed, whose
names keep torch's module paths (`__module.features.0.1/aten::batch_norm/…`)."""

from __future__ import annotations

import statistics
from typing import Any

from qtui.core.backends.openvino_backend import core, precision_hint
from qtui.core.explain import LayerRow, Profile, openvino_scopes, precision_of, resolve
from qtui.core.explain._common import cpu_name, median_ms, overhead, sample_input
from qtui.core.explain.onnx_graph import resolve_names

COMPUTE_TYPES = {"Convolution", "GroupConvolution", "Deconvolution", "FullyConnected", "MatMul"}
#: Prefixes of compute types the plugin renames (e.g. FullyConnectedQuantizedLegacy).
COMPUTE_PREFIXES = ("FullyConnected", "Convolution")
SKIPPED_TYPES = {"Parameter", "Result", "Constant", "Input", "Output", "Const"}


def _config(precision: str, threads: int, perf: bool) -> dict[str, Any]:
    return {
        "INFERENCE_PRECISION_HINT": precision_hint(precision),
        "INFERENCE_NUM_THREADS": int(threads),
        "PERFORMANCE_HINT": "LATENCY",
        "PERF_COUNT": perf,
    }


def exec_precision(exec_type: str) -> str:
    """'brgconv_avx512_1x1_I8' → int8; 'jit_avx512_f32' → f32; 'undef' → '?'."""
    return precision_of(exec_type.rsplit("_", 1)[-1]) if "_" in exec_type else "?"


def _runtime_info(compiled: Any) -> dict[str, tuple[str, str]]:
    """`{runtime node name: (original layer names, input element type)}`."""
    out = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        names = info["originalLayersNames"].astype(str) if "originalLayersNames" in info else ""
        elem = op.input(0).get_element_type().get_type_name() if op.get_input_size() else "?"
        out[op.get_friendly_name()] = (names, elem)
    return out


def collect(artifact: Any, owners: dict[str, str], threads: int, runs: int) -> Profile:
    import openvino as ov

    model = core().read_model(str(artifact.path))
    compiled = core().compile_model(model, "CPU", _config(artifact.precision, threads, True))
    request = compiled.create_infer_request()
    feed = {0: sample_input()}
    totals: dict[str, list[float]] = {}
    infos: dict[str, Any] = {}

    calls = [0]

    def profiled_call() -> None:
        request.infer(feed)
        calls[0] += 1
        if calls[0] == 1:  # median_ms's first call is a warm-up: its counters are not a profiled run
            return
        for p in request.get_profiling_info():
            totals.setdefault(p.node_name, []).append(p.real_time.total_seconds() * 1e6)
            infos.setdefault(p.node_name, p)

    profiled = median_ms(profiled_call, runs)
    plain_compiled = core().compile_model(model, "CPU", _config(artifact.precision, threads, False))
    plain_request = plain_compiled.create_infer_request()
    plain = median_ms(lambda: plain_request.infer(feed), runs)
    runtime = _runtime_info(compiled)
    quantized = artifact.precision.startswith("int8")
    rows = []
    for name, p in infos.items():
        node_type = str(p.node_type)
        if node_type in SKIPPED_TYPES:
            continue
        names, elem = runtime.get(name, ("", "?"))
        fused = str(p.status).rsplit(".", 1)[-1] in ("NOT_RUN", "OPTIMIZED_OUT")
        precision = exec_precision(str(p.exec_type))
        if precision == "?":
            precision = precision_of(elem)
        role = ("compute" if node_type in COMPUTE_TYPES or node_type.startswith(COMPUTE_PREFIXES) else "quantize" if node_type == "FakeQuantize"
                else "reorder" if node_type == "Reorder" else "other")
        note = "fused into a neighbouring node" if fused else ""
        if role == "compute" and not fused and precision == "f32" and artifact.precision == "int8_dynamic":
            note = "int8 weights decompressed, computed in f32 (weight-only quantization)"
        elif role == "compute" and not fused and precision == "f32" and quantized:
            note = "runs in f32: no quantized input reached it (low-precision transformations did not apply)"
        # torch's module paths where the IR kept them (built-in models), else the ONNX node and
        # tensor names it absorbed (the user's ONNX file)
        scopes = [*openvino_scopes(names), *openvino_scopes(name)]
        layer = resolve(scopes, owners) if scopes else resolve_names([*names.split(","), name], owners) or ""
        rows.append(LayerRow(
            layer=layer, node=name,
            op=node_type, kernel=str(p.exec_type), precision=precision,
            time_us=round(statistics.median(totals.get(name) or [0.0]), 2), role=role, fused=fused, note=note,
        ))
    hint = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    return Profile(
        framework="openvino", precision=artifact.precision, model="", artifact=artifact.directory.name,
        runtime=f"openvino {ov.get_version()}", cpu=cpu_name(), threads=threads, runs=runs,
        rows=rows, overhead=overhead(plain, profiled, runs),
        notes=[f"OpenVINO CPU plugin, PERF_COUNT, LATENCY hint, INFERENCE_PRECISION_HINT={hint}"],
    )
