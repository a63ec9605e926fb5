"""`qtui explain` on the real runtimes with MobileNetV2 (the session's small artifacts): what
executed per layer — the int8 share of INT8 static is high and FP32's zero in ONNX Runtime and
OpenVINO, ONNX Runtime INT8 dynamic runs ConvInteger with float activations, every conv layer
aligns across frameworks by its torch module name — and saved profiles open without any runtime.
Assertions are about what executed, never about what this CPU does (kernels differ by ISA)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import explain as ex
from qtui.core.explain import render
from qtui.core.runner import prepare_only
from tests.conftest import small_profile

#: Conv2d + Linear layers of MobileNetV2 (torchvision's module tree).
MOBILENET_COMPUTE_LAYERS = 53
MODEL = "mobilenet_v2"


@pytest.fixture(scope="module")
def profiles(session_cache: Path) -> Iterator[dict[tuple[str, str], ex.Profile]]:
    """One profile (2 profiled runs) per artifact the tests look at, made once."""
    made: dict[tuple[str, str], ex.Profile] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QTUI_CACHE_DIR", str(session_cache))
        for fw, precision in [("onnxruntime", "fp32"), ("onnxruntime", "int8_static"), ("onnxruntime", "int8_dynamic"),
                              ("openvino", "fp32"), ("openvino", "int8_static")]:
            artifact, _ = prepare_only(small_profile(framework=fw, precision=precision))
            made[(fw, precision)] = ex.collect(artifact, MODEL, 2, runs=2)
    yield made


@pytest.mark.parametrize("framework", ["onnxruntime", "openvino"])
def test_int8_static_runs_int8_kernels_and_fp32_none(profiles: dict[tuple[str, str], ex.Profile], framework: str) -> None:
    fp32 = profiles[(framework, "fp32")].summary()
    int8 = profiles[(framework, "int8_static")].summary()
    assert fp32["int8_share"] == 0.0 and fp32["compute_layers"] == {"f32": MOBILENET_COMPUTE_LAYERS}
    assert int8["compute_layers"] == {"int8": MOBILENET_COMPUTE_LAYERS}, int8["compute_layers"]
    assert int8["int8_share"] is not None and int8["int8_share"] > 0.5, int8
    assert int8["float_layers"] == [] and len(fp32["float_layers"]) == MOBILENET_COMPUTE_LAYERS
    # the profiler's own cost was measured, with and without it
    assert profiles[(framework, "int8_static")].overhead["plain_ms"] > 0


def test_openvino_reports_fused_nodes_and_primitives(profiles: dict[tuple[str, str], ex.Profile]) -> None:
    prof = profiles[("openvino", "int8_static")]
    assert prof.summary()["fused_nodes"] > 0  # BatchNorm/ReLU6/FakeQuantize folded into the convolutions
    convs = [r for r in prof.rows if r.role == "compute"]
    assert all(r.kernel.upper().endswith("I8") for r in convs), {r.kernel for r in convs}


def test_ort_int8_dynamic_shows_float_activations(profiles: dict[tuple[str, str], ex.Profile]) -> None:
    prof = profiles[("onnxruntime", "int8_dynamic")]
    convs = [r for r in prof.rows if r.role == "compute" and r.op.startswith("Conv")]
    assert {r.op for r in convs} == {"ConvInteger"} and len(convs) == MOBILENET_COMPUTE_LAYERS - 1
    summary = prof.summary()
    assert summary["float_activation_layers"] == MOBILENET_COMPUTE_LAYERS
    assert summary["quantize_share"] is not None and summary["quantize_share"] > 0  # DynamicQuantizeLinear
    text = "\n".join(render.summary_lines(prof))
    assert "float activations: 53 compute layers" in text


def test_every_conv_layer_aligns_across_frameworks(profiles: dict[tuple[str, str], ex.Profile]) -> None:
    owners = ex.layer_owners(MODEL)
    layers = ex.compute_layers(owners)
    assert len(layers) == MOBILENET_COMPUTE_LAYERS
    pool = list(profiles.values())
    for fw, precision in [("torch", "int8_static"), ("tflite", "int8_static")]:
        try:
            artifact, _ = prepare_only(small_profile(framework=fw, precision=precision))
        except Exception as exc:  # noqa: BLE001 - a framework not installed here
            pytest.skip(f"{fw} {precision} cannot be prepared here: {exc}")
        pool.append(ex.collect(artifact, MODEL, 2, runs=1))
    order, cells = ex.side_by_side(pool)
    assert order == layers  # one row per source layer, in the model's order, nothing else
    missing = [(layer, p.label) for layer, row in zip(order, cells, strict=True) for p, c in zip(pool, row, strict=True) if c is None]
    assert missing == []
    tflite = pool[-1]
    assert tflite.timing.startswith("not available") and all(r.time_us is None for r in tflite.rows)
    assert "per-op time not available" in "\n".join(render.summary_lines(tflite))


def test_saved_profile_opens_without_runtime(profiles: dict[tuple[str, str], ex.Profile], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = tmp_path / "results" / "explain"
    for key in [("onnxruntime", "fp32"), ("openvino", "int8_static")]:
        ex.save(profiles[key], saved)
    copy = tmp_path / "copied"
    shutil.copytree(saved, copy)
    for module in ("onnxruntime", "openvino", "torch", "ai_edge_litert"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    out = CliRunner().invoke(cli.main, ["explain", "--from", str(copy)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("mobilenet_v2 · onnxruntime fp32")
    assert "layer     ORT FP32" in out.output and "OV INT8s" in out.output
    assert any(line.startswith("f3.c0.0 ") and "conv i8" in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    csv_out = CliRunner().invoke(cli.main, ["explain", "--from", str(copy), "--format", "csv"])
    assert csv_out.output.splitlines()[0].startswith("layer,onnxruntime_fp32_op")


def test_saved_profile_is_bounded_and_round_trips(tmp_path: Path) -> None:
    rows = [ex.LayerRow(f"layer{i}", f"node{i}" + "x" * 1000, "Conv", "k", "f32", float(i)) for i in range(ex.MAX_ROWS + 50)]
    prof = ex.Profile("onnxruntime", "fp32", MODEL, "abc", "rt", "cpu", 2, 3, ex.with_shares(rows))
    path = ex.save(prof, tmp_path)
    data = json.loads(path.read_text())
    assert len(data["rows"]) == ex.MAX_ROWS
    assert max(len(r["node"]) for r in data["rows"]) <= ex.MAX_TEXT
    assert data["rows"][-1]["node"] == "51 more nodes"
    back = ex.load(path)
    assert back.summary()["total_us"] == pytest.approx(prof.summary()["total_us"], rel=1e-6)


def test_explain_refuses_bad_input(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli.main, ["explain", "quick", "--precisions", "int9"])
    assert out.exit_code == 2 and "--precisions int9: unknown; allowed: fp32" in out.output
    bogus = tmp_path / "explain-x.json"
    bogus.write_text('{"hello": 1}')
    out = CliRunner().invoke(cli.main, ["explain", "--from", str(bogus)])
    assert out.exit_code == 2 and "not a qtui explain profile" in out.output


def test_text_from_a_profile_reaches_the_terminal_cleaned(tmp_path: Path) -> None:
    rows = [ex.LayerRow("features.0.0\x1b[31m", "n", "Conv\x1b]0;pwn\x07", "k", "f32", 1.0)]
    prof = ex.Profile("onnxruntime", "fp32", MODEL + "\x1b[2J", "abc", "rt", "cpu", 2, 1, rows)
    ex.save(prof, tmp_path)
    # color=True: click would strip ANSI styles from a non-terminal by itself, hiding a leak
    out = CliRunner().invoke(cli.main, ["explain", "--from", str(tmp_path)], color=True)
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.output and "\x07" not in out.output and "features.0.0" in out.output


def test_a_user_model_is_named_by_its_file_name_not_its_folder() -> None:
    """As every table and title since user models: the summary's first line names the file."""
    prof = ex.Profile("onnxruntime", "fp32", "/home/someone/private/small.onnx", "abc", "rt", "cpu", 2, 1, [])
    head = render.summary_lines(prof)[0]
    assert head.startswith("small.onnx · onnxruntime fp32") and "/home/someone" not in head


def test_runtime_names_map_to_source_layers() -> None:
    """Each runtime's node names (as they came out of these runtimes for MobileNetV2) resolve to
    the torch Conv2d/Linear they belong to: a fused conv named after its activation or BatchNorm
    is that conv's row."""
    from qtui.core.explain.tflite import tensor_scopes

    owners = ex.layer_owners(MODEL)
    ort_fused = "/features/features.2/conv/conv.1/conv.1.2/Clip_output_0_nchwc"
    assert ex.resolve([ex.onnx_scope(ort_fused)], owners) == "features.2.conv.1.0"
    ov = "Multiply_25109,Multiply_8775,__module.features.3.conv.3/aten::batch_norm/BatchNormInference,__module.features.3/aten::add/Add"
    assert ex.resolve(ex.openvino_scopes(ov), owners) == "features.3.conv.2"
    tfl = ("qtui.core.models.mobilenet_v2.MobileNetV2/torch.nn.modules.container.Sequential_features/"
           "qtui.core.models.mobilenet_v2.ConvBNReLU6_0/torch.nn.modules.activation.ReLU6_2;1")
    assert ex.resolve(tensor_scopes(tfl), owners) == "features.0.0"
    assert ex.resolve([ex.onnx_scope("/classifier/classifier.1/Gemm")], owners) == "classifier.1"


def test_explain_command_saves_profile_and_artifact_summary(profiles: dict[tuple[str, str], ex.Profile], session_cache: Path, tmp_path: Path) -> None:
    """`qtui explain PROFILE` profiles the cached artifact, saves the profile under the results
    folder's explain/ and the executed-precision summary beside the artifact."""
    out = CliRunner().invoke(cli.main, ["explain", "quick", "--set", "threads=2", "--runs", "1", "--format", "json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert [(p["framework"], p["precision"]) for p in payload] == [("onnxruntime", "fp32")]
    assert payload[0]["summary"]["compute_layers"] == {"f32": MOBILENET_COMPUTE_LAYERS}
    saved = list((tmp_path / "results" / "explain").glob("explain-onnxruntime-fp32-*.json"))
    assert len(saved) == 1 and ex.load(saved[0]).summary()["int8_share"] == 0.0
    summary = json.loads((session_cache / "explain" / f"{payload[0]['artifact']}.json").read_text())
    # never inside the content-addressed artifact folder (the matrices saw an extra file there)
    assert sorted(p.name for p in (session_cache / "artifacts" / payload[0]["artifact"]).iterdir()) == ["meta.json", "model.onnx"]
    assert summary["summary"]["compute_layers"] == {"f32": MOBILENET_COMPUTE_LAYERS}


def test_recommend_cites_the_profile_when_a_quantized_cell_is_slower(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quantized cell slower than FP32 gets its artifact's per-layer reason (the summary saved
    beside the artifact), or the `qtui explain` command that shows it."""
    from qtui.core.recommend import recommend
    from tests.core.test_study_table import make_run

    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    fp32 = make_run("f", "fp32", 20.0)
    slow = make_run("d", "int8_dynamic", 50.0)
    slow.artifact["key"] = "k" * 24
    (answer,) = recommend([fp32, slow], unavailable=lambda f, p: None, this_host="elsewhere")
    text = "\n".join(answer.text_lines())
    assert "slower than FP32: ONNX Runtime INT8 dynamic: p90 50 ms, ×0.40 of FP32; why, per layer: qtui explain quick --set precision=int8_dynamic" in text
    rows = [ex.LayerRow("features.0.0", "n", "ConvInteger", "CPU EP", "int8", 90.0,
                        note=ex.FLOAT_ACTIVATIONS_NOTE + " quantized at run time"),
            ex.LayerRow("", "q", "DynamicQuantizeLinear", "CPU EP", "f32", 10.0, role="quantize")]
    prof = ex.Profile("onnxruntime", "int8_dynamic", MODEL, "k" * 24, "rt", "cpu", 2, 1, ex.with_shares(rows))
    ex.save_summary_with_artifact(prof, "k" * 24)
    (answer,) = recommend([fp32, slow], unavailable=lambda f, p: None, this_host="elsewhere")
    assert answer.to_dict()["slower_than_fp32"] == [{
        "cell": "ONNX Runtime INT8 dynamic", "value": "p90 50 ms", "speedup": "×0.40 of FP32",
        "why": "per layer (qtui explain): 90 % of its time in int8 kernels, 1 layer quantizing float activations at every inference, (de)quantize 10 %",
        "int8_peak": "",
    }]


def test_the_summary_says_node_time_and_wall_time_apart() -> None:
    """The per-node times a profiler reports add up to less than a call's wall time (gaps between
    nodes, thread hand-offs, the call itself): the summary named the sum "time", which read as the
    time of an inference."""
    rows = ex.with_shares([ex.LayerRow("features.0.0", "n0", "Conv", "k", "f32", 4000.0),
                           ex.LayerRow("classifier.1", "n1", "Gemm", "k", "f32", 1000.0)])
    prof = ex.Profile("onnxruntime", "fp32", MODEL, "abc", "rt", "cpu", 2, 3, rows,
                      overhead={"plain_ms": 9.0, "profiled_ms": 12.5, "ratio": 1.389, "runs": 3})
    text = " ".join(line.strip() for line in render.summary_lines(prof))
    assert "time in nodes (batch 1, median of 3 profiled runs): 5.00 ms of 12.50 ms wall a call" in text
