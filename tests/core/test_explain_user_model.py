"""`qtui explain` on the user's own ONNX model (the small CNN of test_user_onnx, exported here):
its runtime nodes map back to the model's own layers — ONNX Runtime FP32 names a fused Conv+ReLU
after the ReLU's output, OpenVINO keeps ONNX node names (no torch `__module.` paths), ONNX
Runtime's quantizer renames nodes (`_token_1`, `_quant`) — so the side-by-side table has one row
per Conv/Gemm of the file and every artifact a cell in each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qtui.core import explain as ex
from qtui.core.runner import prepare_only
from tests.conftest import small_profile

pytest.importorskip("torch")
pytest.importorskip("onnx")

#: The compute layers of SmallCNN (two Conv2d, one Linear) by their torch module paths.
SMALL_LAYERS = ["features.0", "features.3", "head"]
CELLS = [("onnxruntime", "fp32"), ("onnxruntime", "int8_static"), ("onnxruntime", "int8_dynamic"),
         ("openvino", "fp32"), ("openvino", "int8_static")]


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.core.test_user_onnx import _export

    return _export(tmp_path_factory.mktemp("explain-user") / "small.onnx")


@pytest.fixture(scope="module")
def user_profiles(small_onnx: Path, session_cache: Path) -> Iterator[list[ex.Profile]]:
    """One profile (1 profiled run) of each artifact of the small model, made once."""
    made = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QTUI_CACHE_DIR", str(session_cache))
        for fw, precision in CELLS:
            artifact, _ = prepare_only(small_profile(model=str(small_onnx), framework=fw, precision=precision))
            made.append(ex.collect(artifact, str(small_onnx), 2, runs=1))
    yield made


def test_user_onnx_layers_come_from_its_graph(small_onnx: Path) -> None:
    owners = ex.layer_owners(str(small_onnx))
    assert ex.compute_layers(owners) == SMALL_LAYERS
    # a ReLU after a Conv is that Conv's (by its node name and by its output tensor)
    assert owners["/features/features.2/Relu"] == "features.0"
    assert owners["/features/features.5/Relu_output_0"] == "features.3"
    assert "/ReduceMean" not in owners  # a pooling op belongs to no compute layer


def test_user_onnx_rows_align_per_source_layer(user_profiles: list[ex.Profile]) -> None:
    order, cells = ex.side_by_side(user_profiles)
    assert order == SMALL_LAYERS
    missing = [(layer, p.label) for layer, row in zip(order, cells, strict=True)
               for p, c in zip(user_profiles, row, strict=True) if c is None]
    assert missing == []
    for prof in user_profiles:
        assert prof.model == "small.onnx"
        # every compute node found its layer (ORT FP32's fused Conv+ReLU named after the ReLU too)
        assert {r.layer for r in prof.rows if r.role == "compute" and not r.fused} == set(SMALL_LAYERS), prof.label


def test_the_profiled_run_count_leaves_out_the_warm_up_passes(user_profiles: list[ex.Profile]) -> None:
    """Each profile was asked for 1 profiled run: its summary says 1 (ONNX Runtime said 3 and
    OpenVINO 2, counting the warm-up passes the profiler also recorded)."""
    from qtui.core.explain import render

    for prof in user_profiles:
        assert prof.runs == 1, prof.label
        assert "median of 1 profiled run)" in " ".join(render.summary_lines(prof))
