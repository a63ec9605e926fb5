"""Two details of a profile's numbers, without any runtime: ONNX Runtime's profiler records the
warm-up passes too, and the median per node leaves them out; a summary wrapped at any width
never leaves a figure at the end of one line and its "%" at the start of the next."""

from __future__ import annotations

import re

import pytest

from qtui.core import explain as ex
from qtui.core.explain import render

pytest.importorskip("onnxruntime")


def _run(ts: float, dur: float, node_dur: float) -> list[dict[str, object]]:
    return [{"cat": "Session", "name": "model_run", "ts": ts, "dur": dur},
            {"cat": "Node", "name": "/features/features.0/Conv_kernel_time", "ts": ts + 1, "dur": node_dur,
             "args": {"op_name": "Conv", "provider": "CPUExecutionProvider", "input_type_shape": [{"float": [1]}]}}]


def test_ort_median_leaves_out_the_warm_up_passes() -> None:
    from qtui.core.explain.onnxruntime import WARMUP_PASSES, rows_from_events

    # two slow warm-up passes (first-call allocations), then three profiled runs
    events = [*_run(0, 5000, 4000.0), *_run(6000, 5000, 3000.0), *_run(12000, 50, 10.0), *_run(13000, 50, 12.0), *_run(14000, 50, 14.0)]
    (row,) = rows_from_events(events, {}, quantized=False, warmup=WARMUP_PASSES)
    assert row.time_us == 12.0  # the median of 10, 12, 14; with the warm-ups it was 14


def test_a_wrapped_summary_keeps_each_figure_with_its_percent() -> None:
    rows = ex.with_shares([
        ex.LayerRow("features.0.0", "n0", "QLinearConv", "CPU EP", "int8", 940.0),
        ex.LayerRow("classifier.1", "n1", "Gemm", "CPU EP", "f32", 40.0, note="left in float by the quantizer"),
        ex.LayerRow("", "q0", "QuantizeLinear", "CPU EP", "f32", 12.0, role="quantize"),
        ex.LayerRow("", "r0", "Transpose", "CPU EP", "int8", 8.0, role="reorder"),
    ])
    prof = ex.Profile("onnxruntime", "int8_static", "mobilenet_v2", "abc", "onnxruntime 1.0", "Some CPU", 2, 5, rows,
                      overhead={"plain_ms": 1.0, "profiled_ms": 1.3, "ratio": 1.3, "runs": 5})
    for width in range(40, 101):
        lines = render.wrapped(render.summary_lines(prof), width)
        assert all(len(line) <= width for line in lines)
        assert not [line for line in lines if re.match(r"\s*%", line)], (width, lines)
        assert "int8 kernels 94\u00a0% of the time" in " ".join(lines)
