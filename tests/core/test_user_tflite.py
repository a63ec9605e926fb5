"""The user's own TFLite model as `model`: a small CNN converted here (torch → litert-torch →
.tflite, NCHW and NHWC input, and a two-input network of tensors) runs through TensorFlow Lite FP32 (the file as it is), FP16,
INT8 dynamic and INT8 static (ai-edge-quantizer on the file) with the real runtime and
LoadGen; the other frameworks are refused with their reason; bad files get a message naming
the file, exit 2 and nothing in the cache."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import catalog, model_table
from qtui.core.model_source import ModelSourceError, source_kind
from qtui.core.model_source_tflite import inspect_tflite
from qtui.core.prepare import tflite as tfl_prep
from qtui.core.runner import prepare_only, run
from tests.conftest import small_profile

pytest.importorskip("ai_edge_litert")
if tfl_prep.unavailable_reason("fp32") is not None:  # litert-torch makes the test's own files
    pytest.skip(f"no TFLite converter here: {tfl_prep.unavailable_reason('fp32')}", allow_module_level=True)

#: Run in a child (litert-torch pulls jax): the same small CNN as tests/core/test_user_onnx.py,
#: once with NCHW input and once behind a permute with NHWC input.
CONVERT = textwrap.dedent('''
    import sys, torch, litert_torch

    class SmallCNN(torch.nn.Module):
        def __init__(self, nhwc):
            super().__init__()
            self.nhwc = nhwc
            self.features = torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, stride=4, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                torch.nn.Conv2d(8, 16, 3, stride=4, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
            )
            self.head = torch.nn.Linear(16, 10)

        def forward(self, x):
            if self.nhwc:
                x = x.permute(0, 3, 1, 2)
            return self.head(self.features(x).mean((2, 3)))

    for name, nhwc in (("small.tflite", False), ("small_nhwc.tflite", True)):
        torch.manual_seed(0)
        net = SmallCNN(nhwc).eval()
        with torch.no_grad():
            for bn in (net.features[1], net.features[4]):
                bn.running_mean.uniform_(-0.2, 0.2)
                bn.running_var.uniform_(0.5, 2.0)
        shape = (1, 224, 224, 3) if nhwc else (1, 3, 224, 224)
        litert_torch.convert(net, (torch.zeros(*shape),)).export(sys.argv[1] + "/" + name)

    class TwoInputs(torch.nn.Module):  # a 1-D and a 2-D tensor input, no image
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(16, 8)
            self.b = torch.nn.Linear(6, 8)
            self.head = torch.nn.Linear(8, 5)

        def forward(self, x, y):
            return self.head(torch.relu(self.a(x) + self.b(y.flatten(1))))

    torch.manual_seed(0)
    litert_torch.convert(TwoInputs().eval(), (torch.zeros(1, 16), torch.zeros(1, 2, 3))).export(sys.argv[1] + "/two.tflite")
''')


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user-tflite")
    done = subprocess.run(
        [sys.executable, "-c", CONVERT, str(root)], capture_output=True, text=True, timeout=600,
        env={**tfl_prep._child_env(), "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (root / "b").mkdir()
    shutil.copy(root / "small_nhwc.tflite", root / "b" / "small.tflite")  # same name, another model
    return root


def _artifacts(cache: Path) -> list[str]:
    root = cache / "artifacts"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _profile(model: Path, precision: str, **changes: Any) -> Any:
    return small_profile(model=str(model), framework="tflite", precision=precision, **changes)


# -- inspecting the file ------------------------------------------------------------------------


def test_inspect_reads_input_layout_digest_and_provenance(models_dir: Path) -> None:
    found = inspect_tflite(str(models_dir / "small.tflite"))
    assert (found.input_shape, found.layout, found.sample_shape) == ((1, 3, 224, 224), "NCHW", (3, 224, 224))
    assert found.output_shape == (1, 10) and found.signature == "serving_default"
    data = (models_dir / "small.tflite").read_bytes()
    expected = hashlib.sha256(b"qtui-model-files-v1\0" + f"small.tflite\0{len(data)}\0".encode() + data).hexdigest()
    assert found.digest == expected and found.size_bytes == len(data)
    assert "small.tflite" in found.provenance and str(models_dir) not in found.provenance
    record = found.record()
    assert record["kind"] == "tflite" and record["sha256"] == expected and str(models_dir) not in str(record)
    nhwc = inspect_tflite(str(models_dir / "small_nhwc.tflite"))
    assert (nhwc.layout, nhwc.sample_shape) == ("NHWC", (224, 224, 3))
    assert source_kind("x/My.TFLite") == "tflite"


def _bad(tmp_path: Path, models_dir: Path, case: str) -> Path:
    path = tmp_path / f"{case}.tflite"
    if case == "text":
        path.write_text("this is a shopping list, not a network\n" * 20)
    elif case == "truncated":
        path.write_bytes((models_dir / "small.tflite").read_bytes()[:6000])
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "huge":  # sparse: 3 GiB that take no disk space, and are never read
        with path.open("wb") as fh:
            fh.truncate(3 * 2**30)
    elif case == "quantized":  # qtui's own INT8 dynamic artifact of the small model
        artifact, _ = prepare_only(_profile(models_dir / "small.tflite", "int8_dynamic"))
        shutil.copy(artifact.path, path)
    elif case != "missing":
        raise AssertionError(case)
    return path


BAD = {
    "text": "is not a TFLite model (no TFL3 flatbuffer identifier)",
    "truncated": "is truncated or not a TFLite model TensorFlow Lite can load",
    "empty": "is empty",
    "missing": "does not exist",
    "huge": "is 3.0 GiB: a TFLite flatbuffer cannot exceed 2 GiB",
    "quantized": "is already quantized (int8 tensors); give qtui the FP32 model",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_are_named_with_what_to_do(tmp_path: Path, models_dir: Path, case: str) -> None:
    path = _bad(tmp_path, models_dir, case)
    with pytest.raises(ModelSourceError) as caught:
        inspect_tflite(str(path))
    assert BAD[case] in str(caught.value) and path.name in str(caught.value)


@pytest.mark.parametrize("case", ["text", "truncated", "quantized"])
def test_run_refuses_a_bad_file_with_exit_2_and_writes_nothing(
    tmp_path: Path, models_dir: Path, case: str, session_cache: Path
) -> None:
    path = _bad(tmp_path, models_dir, case)
    before = _artifacts(session_cache)
    results = sorted((tmp_path / "results").rglob("*"))
    out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"model={path}", "--set", "framework=tflite"])
    assert out.exit_code == 2, out.output
    assert path.name in out.output and BAD[case] in out.output and "Traceback" not in out.output
    assert _artifacts(session_cache) == before
    assert sorted((tmp_path / "results").rglob("*")) == results


def test_a_layout_the_profile_does_not_give_is_refused_naming_the_fix(models_dir: Path, session_cache: Path) -> None:
    before = _artifacts(session_cache)
    out = CliRunner().invoke(cli.main, [
        "run", "quick", "--set", f"model={models_dir / 'small_nhwc.tflite'}", "--set", "framework=tflite",
        "--set", "precision=int8_static",
    ])
    assert out.exit_code == 2, out.output
    assert "small_nhwc.tflite takes NHWC images of shape [1, 224, 224, 3]" in out.output
    assert "set layout = 'NHWC'" in out.output
    assert _artifacts(session_cache) == before


# -- which cells run ----------------------------------------------------------------------------

PRECISIONS = ("fp32", "fp16", "int8_dynamic", "int8_static")


def test_the_tflite_source_offers_tflite_only(models_dir: Path) -> None:
    model = str(models_dir / "small.tflite")
    kind = model_table.source_kind("tflite")
    for a in catalog.matrix(model):
        if a.framework == "tflite":
            assert kind.allows(a.framework, a.precision)
            assert a.available == (tfl_prep.source_unavailable_reason("tflite", a.precision) is None)
            assert "file" in a.reason and "litert-torch" not in a.reason, a  # not the built-ins' "litert-torch conversion"
        else:
            assert not a.available and a.reason == kind.reason(a.framework, a.precision), a
    reasons = {(a.framework, a.precision): a.reason for a in catalog.matrix(model)}
    assert "TFLite" in reasons[("onnxruntime", "fp32")] and "TFLite" in reasons[("torch", "fp32")]
    assert "TFLite" in reasons[("openvino", "int8_static")]


def test_the_file_needs_no_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's .tflite is quantized without torch or litert-torch (a Pi has neither)."""
    present = {"ai_edge_litert": True, "ai_edge_quantizer": True, "litert_torch": False, "torch": False}
    monkeypatch.setattr(tfl_prep, "_present", lambda module: present.get(module, False))
    assert tfl_prep.unavailable_reason("fp32") is not None  # a built-in needs the converter
    assert all(tfl_prep.source_unavailable_reason("tflite", p) is None for p in PRECISIONS)
    present["ai_edge_quantizer"] = False
    assert tfl_prep.source_unavailable_reason("tflite", "fp32") is None
    assert "ai-edge-quantizer" in (tfl_prep.source_unavailable_reason("tflite", "int8_static") or "")


@pytest.mark.parametrize(("framework", "precision"), [("onnxruntime", "fp32"), ("openvino", "int8_static"), ("torch", "fp32")])
def test_run_refuses_a_cell_the_source_cannot_fill(models_dir: Path, framework: str, precision: str, session_cache: Path) -> None:
    before = _artifacts(session_cache)
    out = CliRunner().invoke(cli.main, [
        "run", "quick", "--set", f"model={models_dir / 'small.tflite'}",
        "--set", f"framework={framework}", "--set", f"precision={precision}",
    ])
    assert out.exit_code == 2, out.output
    assert model_table.source_kind("tflite").reason(framework, precision) in out.output
    assert _artifacts(session_cache) == before


def test_doctor_names_the_cells_of_a_tflite_model(models_dir: Path) -> None:
    out = CliRunner().invoke(cli.main, ["doctor", "--model", str(models_dir / "small.tflite")])
    assert out.exit_code == 0, out.output
    assert "for model small.tflite" in out.output
    ort = [line for line in out.output.splitlines() if "ONNX Runtime" in line and "FP32" in line]
    assert ort and ort[0].lstrip().startswith("no") and "TFLite" in ort[0]
    bad = CliRunner().invoke(cli.main, ["doctor", "--model", str(models_dir / "nothing.tflite")])
    assert bad.exit_code == 2 and "nothing.tflite" in bad.output


# -- running the cells --------------------------------------------------------------------------

#: The convolutions' activation/weight dtypes the runtime must report for each precision.
EXECUTED = {
    "fp32": "CONV_2D float32/float32 ×2",
    "fp16": "CONV_2D float32/float16→float32 ×2",
    "int8_dynamic": "CONV_2D float32/int8 ×2",
    "int8_static": "CONV_2D int8/int8 ×2",
}


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_precision_runs_with_loadgen(models_dir: Path, precision: str) -> None:
    reason = tfl_prep.source_unavailable_reason("tflite", precision)
    if reason:
        pytest.skip(reason)
    path = models_dir / "small.tflite"
    result = run(_profile(path, precision), lambda e: None)
    assert result.status in ("ok", "invalid"), result.message
    assert result.throughput["samples"] > 0 and result.latency_ms["p90"] > 0
    model = result.provenance["model"]
    assert model["file"] == "small.tflite" and model["sha256"] == inspect_tflite(str(path)).digest
    assert model["size_bytes"] == path.stat().st_size
    assert str(models_dir) not in str(result.provenance)
    assert EXECUTED[precision] in result.artifact["executed_precision"], result.artifact["executed_precision"]
    assert "-small-tflite-" in result.run_id


def test_fidelity_is_against_the_file_run_by_tflite(models_dir: Path) -> None:
    """NHWC model, INT8 static in accuracy mode, images laid out NHWC by the profile's [input]:
    calibrated on them, and its fidelity measured against TensorFlow Lite FP32 on the same file."""
    from qtui.core.profile import InputSpec

    path = models_dir / "small_nhwc.tflite"
    result = run(
        _profile(path, "int8_static", mode="accuracy", scenario="Offline", input=InputSpec(layout="NHWC")),
        lambda e: None,
    )
    assert result.status == "ok", result.message
    assert result.accuracy["reference"] == "FP32 TensorFlow Lite on the same model file and samples"
    fid = result.accuracy["fidelity"]
    assert 15.0 < fid["sqnr_db"] < float("inf") and fid["cosine"] > 0.95, fid
    assert result.provenance["model"]["input"]["layout"] == "NHWC"


def test_the_file_digest_is_in_the_artifact_key(models_dir: Path) -> None:
    """Two files with the same name and other contents make two artifacts; the same file twice
    is a cache hit; the FP32 artifact is the file's bytes."""
    first, second = models_dir / "small.tflite", models_dir / "b" / "small.tflite"
    a, _ = prepare_only(_profile(first, "fp32"))
    from qtui.core.profile import InputSpec

    b, hit_b = prepare_only(_profile(second, "fp32", input=InputSpec(layout="NHWC")))
    again, hit_again = prepare_only(_profile(first, "fp32"))
    assert a.directory != b.directory and again.directory == a.directory
    assert (hit_b, hit_again) == (False, True)
    assert a.path.read_bytes() == first.read_bytes() and b.path.read_bytes() == second.read_bytes()
    assert a.meta["model"] == "tflite:small.tflite" and str(models_dir) not in str(a.meta["weights"])
    assert a.meta["weights"] == f"tflite-file:{inspect_tflite(str(first)).digest}"


def _without_module_paths(source: Path, target: Path) -> Path:
    """`source` with every tensor but its inputs and outputs renamed ('model/block3/out'), as a
    converter other than litert-torch leaves them: no torch module path in any name."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(source))
    graph = model.subgraphs[0]
    kept = {int(i) for i in (*graph.inputs, *graph.outputs)}
    for index, tensor in enumerate(graph.tensors):
        if index not in kept:
            tensor.name = f"model/block{index}/out".encode()
    flatbuffer_utils.write_model(model, str(target))
    return target


@pytest.mark.parametrize("names", ["litert-torch", "plain"])
def test_explain_aligns_the_files_layers_across_its_artifacts(models_dir: Path, tmp_path: Path, names: str) -> None:
    """`qtui explain` side by side for the user's .tflite: one row per compute op of the source
    file, every artifact (FP32 the file itself, FP16, INT8 dynamic, INT8 static) a cell in each,
    by the output tensor names the artifacts keep — named by litert-torch's module paths, or by
    the tensor's own name where the file has none (the rows had no layer then, and FP16's
    weights' '_dequant' tensor made a row of its own)."""
    from qtui.core import explain as ex

    source = models_dir / "small.tflite"
    path = source if names == "litert-torch" else _without_module_paths(source, tmp_path / "plain.tflite")
    layers = ex.compute_layers(ex.layer_owners(str(path)))
    if names == "litert-torch":
        assert layers == ["features.0", "features.3", "head"]  # the conv's module, not its ReLU's
    else:
        assert len(layers) == 3 and all("features" not in layer for layer in layers), layers
    profiles = []
    for precision in PRECISIONS:
        if tfl_prep.source_unavailable_reason("tflite", precision) is None:
            artifact, _ = prepare_only(_profile(path, precision))
            profiles.append(ex.collect(artifact, str(path), 2, runs=1))
    assert len(profiles) > 1
    order, cells = ex.side_by_side(profiles)
    assert order == layers
    assert [(layer, p.precision) for layer, row in zip(order, cells, strict=True)
            for p, c in zip(profiles, row, strict=True) if c is None] == []
    for prof in profiles:
        assert {r.layer for r in prof.rows if r.role == "compute"} == set(layers), prof.precision


def test_study_names_and_skips_what_the_source_cannot_fill(models_dir: Path, tmp_path: Path) -> None:
    profile = tmp_path / "study.toml"
    profile.write_text(
        f'name = "mine"\nmodel = "{(models_dir / "small.tflite").as_posix()}"\nthreads = 2\nwarmup_queries = 2\n'
        '[dataset]\ncount = 32\nperformance_sample_count = 32\ncalibration_count = 16\n'
        '[loadgen]\npreset = "quick"\nmin_duration_ms = 0\n'
        '[sweep]\nframeworks = ["tflite", "openvino"]\nprecisions = ["fp32"]\nscenarios = ["SingleStream"]\n'
        '[study]\nrepeats = 1\n'
    )
    out = CliRunner().invoke(cli.main, ["study", str(profile), "--results-dir", str(tmp_path / "res")])
    assert out.exit_code == 0, out.output
    reason = model_table.source_kind("tflite").reason("openvino", "fp32")
    assert f"not measured here: openvino fp32: {reason}" in out.output
    heading = [line for line in out.output.splitlines() if "· SingleStream" in line]
    assert heading and heading[0].split(" · ")[0].lstrip("#* ") == "small.tflite", out.output


def test_a_bundle_carries_its_int8_artifact_to_a_machine_without_the_quantizer(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Pi path: ai-edge-quantizer has no aarch64 wheel, so INT8 static of the user's file is
    prepared on the laptop, bundled (named by file name and digest, never its folder), imported
    into the Pi's empty cache and run there from a copy of the file in another folder."""
    import json
    import tarfile

    from qtui.core import bundle

    profile = _profile(models_dir / "small.tflite", "int8_static")
    artifact, _ = prepare_only(profile)
    path = bundle.export_bundle(tmp_path / "b.tar.gz", [artifact])
    with tarfile.open(path) as tar:
        manifest = tar.extractfile("bundle.json").read().decode()  # type: ignore[union-attr]
    entry = json.loads(manifest)["artifacts"][0]
    digest = inspect_tflite(str(models_dir / "small.tflite")).digest
    assert (entry["model"], entry["weights"]) == ("tflite:small.tflite", f"tflite-file:{digest}")
    assert str(models_dir) not in manifest

    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "pi-cache"))
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setattr(tfl_prep, "_present", lambda name: name != "ai_edge_quantizer")
    (tmp_path / "pi").mkdir()
    on_pi = shutil.copy(models_dir / "small.tflite", tmp_path / "pi" / "small.tflite")
    refused = run(_profile(on_pi, "int8_static"), lambda e: None)
    assert refused.status != "ok" and "quantizer not installed here" in str(refused.message)
    assert [i.status for i in bundle.import_bundle(path)] == ["imported"]
    result = run(_profile(on_pi, "int8_static"), lambda e: None)
    assert result.status in ("ok", "invalid"), result.message
    assert result.artifact["cache_hit"] is True and result.artifact["key"] == artifact.directory.name


def test_the_file_runs_on_a_machine_without_torch(models_dir: Path, tmp_path: Path) -> None:
    """A Pi with only the runtimes: the .tflite file is run as it is (FP32) and quantized and
    calibrated (INT8 static) with LoadGen and its fidelity measured, torch never imported."""
    from tests.core.no_torch import results_by_cell, run_without_torch

    profile = tmp_path / "pi.toml"
    profile.write_text(
        f'name = "pi"\nmodel = "{(models_dir / "small.tflite").as_posix()}"\nframework = "tflite"\n'
        'threads = 2\nbatch_size = 4\nwarmup_queries = 2\nmode = "accuracy"\nscenario = "Offline"\n'
        '[dataset]\ncount = 32\nperformance_sample_count = 32\ncalibration_count = 16\n'
        '[loadgen]\npreset = "quick"\nmin_duration_ms = 0\n[sweep]\nprecisions = ["fp32", "int8_static"]\n'
    )
    report = run_without_torch([["run", str(profile), "--quiet"]], tmp_path / "cache", tmp_path / "results")
    assert report["commands"][0]["exit_code"] == 0, report["commands"][0]
    assert report["attempts"] == [] and not report["torch_loaded"], report["attempts"][:1]
    cells = results_by_cell(tmp_path / "results")
    assert set(cells) == {("tflite", "fp32", "accuracy"), ("tflite", "int8_static", "accuracy")}
    for (_, precision, _), record in cells.items():
        assert record["status"] == "ok", record["message"]
        assert EXECUTED[precision] in record["artifact"]["executed_precision"], record["artifact"]
    fid = cells[("tflite", "int8_static", "accuracy")]["accuracy"]["fidelity"]
    assert 15.0 < fid["sqnr_db"] < float("inf") and fid["cosine"] > 0.95, fid


# -- inputs the file says: several, not images --------------------------------------------------

TWO_X, TWO_Y = "serving_default_args_0", "serving_default_args_1"  # litert-torch's tensor names


def test_several_tensor_inputs_are_read_from_the_file(models_dir: Path) -> None:
    from qtui.core.model_input import for_profile

    found = inspect_tflite(str(models_dir / "two.tflite"))
    assert not found.is_image and [(n, t) for n, t, _ in found.inputs] == [(TWO_X, "float32"), (TWO_Y, "float32")]
    resolved = for_profile(_profile(models_dir / "two.tflite", "fp32"))
    assert resolved is not None and resolved.kind == "inputs"
    assert [(p.name, p.shape, p.kind) for p in resolved.parts] == [(TWO_X, (16,), "tensor"), (TWO_Y, (2, 3), "tensor")]
    assert [i["shape"] for i in found.record()["inputs"]] == [[1, 16], [1, 2, 3]]
    assert for_profile(_profile(models_dir / "small.tflite", "fp32")) is None  # an image: [input] as before


@pytest.mark.parametrize(("precision", "mode"), [("fp32", "performance"), ("int8_static", "accuracy")])
def test_a_two_input_file_runs_with_loadgen(models_dir: Path, precision: str, mode: str) -> None:
    """Generated tensors of each input's shape; INT8 static is calibrated on them (both inputs
    fed by name to the quantizer) and measured against TensorFlow Lite FP32 on the same file."""
    reason = tfl_prep.source_unavailable_reason("tflite", precision)
    if reason:
        pytest.skip(reason)
    result = run(_profile(models_dir / "two.tflite", precision, mode=mode, scenario="Offline"), lambda e: None)
    assert result.status in ("ok", "invalid"), result.message
    assert result.throughput["samples"] > 0
    assert result.provenance["model"]["inputs"][1]["name"] == TWO_Y
    executed = result.artifact["executed_precision"]
    assert ("FULLY_CONNECTED int8/int8" if precision == "int8_static" else "FULLY_CONNECTED float32/float32") in executed
    if mode == "accuracy":
        assert result.accuracy["reference"] == "FP32 TensorFlow Lite on the same model file and samples"
        fid = result.accuracy["fidelity"]
        assert 10.0 < fid["sqnr_db"] < float("inf") and fid["cosine"] > 0.95, fid


def test_a_two_input_file_runs_on_an_npz_of_its_inputs(models_dir: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    rng = np.random.default_rng(1)
    npz = tmp_path / "two.npz"
    np.savez(npz, **{TWO_X: rng.standard_normal((8, 16), np.float32), TWO_Y: rng.standard_normal((8, 2, 3), np.float32)})
    base = _profile(models_dir / "two.tflite", "int8_dynamic", mode="accuracy", scenario="Offline")
    result = run(replace(base, dataset=replace(base.dataset, source=str(npz), count=0)), lambda e: None)
    assert result.status == "ok", result.message
    assert result.accuracy["samples"] == 8 and result.accuracy["fidelity"]["cosine"] > 0.95


def test_bad_inputs_for_a_two_input_file_exit_2_naming_the_key(
    models_dir: Path, tmp_path: Path, session_cache: Path
) -> None:
    model = str(models_dir / "two.tflite")
    wrong_keys = tmp_path / "keys.npz"
    np.savez(wrong_keys, x=np.zeros((4, 16), np.float32), y=np.zeros((4, 2, 3), np.float32))
    cases = [
        (["--set", "input.shape=[16]"], "has 2 inputs: give their open dimensions in input.shapes"),
        (["--set", f'input.shapes=["{TWO_Y}=3x2"]'], f"input {TWO_Y!r} [1, 2, 3]: input.shapes gives [3, 2], which does not fit it"),
        (["--set", f"dataset.source={wrong_keys}", "--set", "precision=int8_static"], f"keys.npz: no array named '{TWO_X}'"),
    ]
    before = _artifacts(session_cache)
    for extra, message in cases:
        out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"model={model}", "--set", "framework=tflite", *extra])
        assert out.exit_code == 2, out.output
        assert message in out.output and "Traceback" not in out.output, out.output
    assert _artifacts(session_cache) == before
