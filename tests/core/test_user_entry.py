"""The user's own PyTorch model as `model`: an entry point `package.module:factory` or
`path/to/file.py:factory` in a temporary folder, with weights from a state dict file. Every
framework's FP32 and INT8 static (and PyTorch FP16, prepared differently for an entry point)
run through the real runtimes and LoadGen; an entry point that does not import, raises, returns
no module or the wrong output, and pickled weights get a message naming it, exit 2 and nothing
in the cache; the source files and the weights are part of the artifact key. An entry point
whose inputs are no image takes them from the profile (`input.shape`, `input.shapes`,
`input.dtype`): exported, quantized and fed with those, refused with exit 2 when they do not fit."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import catalog
from qtui.core.model_source import model_slug, source_kind
from qtui.core.model_source_entry import locate, source_digest
from qtui.core.profile import InputSpec
from qtui.core.runner import prepare_only, run
from tests.conftest import small_profile

torch = pytest.importorskip("torch")

NET = textwrap.dedent('''
    """A CNN in miniature, and factories that go wrong in each way qtui names."""
    import torch


    class SmallCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(
                torch.nn.Conv2d(3, 8, 3, stride=4, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                torch.nn.Conv2d(8, 16, 3, stride=4, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
            )
            self.head = torch.nn.Linear(16, 10)

        def forward(self, x):
            return self.head(self.features(x).mean((2, 3)))


    class Maps(torch.nn.Module):
        def forward(self, x):
            return x[:, :, :4, :4]


    def build():
        return SmallCNN()


    def broken():
        raise ValueError("no such checkpoint layout")


    def not_module():
        return 42


    def wrong_output():
        return Maps()
''')


TENSOR_NETS = textwrap.dedent('''
    """Networks whose inputs are no images: one 1-D input, and a 1-D plus a 2-D input."""
    import torch


    class Seq(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(16, 8)
            self.head = torch.nn.Linear(8, 5)

        def forward(self, x):
            return self.head(torch.relu(self.a(x)))


    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(16, 8)
            self.b = torch.nn.Linear(6, 8)
            self.head = torch.nn.Linear(8, 5)

        def forward(self, x, y):
            return self.head(torch.relu(self.a(x) + self.b(y.flatten(1))))


    def seq():
        return Seq()


    def two():
        return Two()
''')


@pytest.fixture(scope="module")
def nets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user-entry")
    package = root / "qtui_test_nets"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "cnn.py").write_text(NET)
    (root / "solo").mkdir()
    (root / "solo" / "net.py").write_text(NET)
    (root / "solo" / "bad_import.py").write_text("import qtui_no_such_module_anywhere\n")
    (root / "tensors").mkdir()
    (root / "tensors" / "tnet.py").write_text(TENSOR_NETS)
    torch.manual_seed(0)
    model = _small_cnn(root)
    with torch.no_grad():
        for bn in (model.features[1], model.features[4]):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    torch.save(model.state_dict(), root / "weights.pth")
    torch.save(torch.nn.Linear(16, 10), root / "whole_model.pth")  # a pickled module, not tensors: refused
    return root


def _small_cnn(root: Path) -> Any:
    scope: dict[str, Any] = {}
    exec(compile(NET, str(root / "net_copy.py"), "exec"), scope)  # noqa: S102 - the test's own code
    return scope["SmallCNN"]().eval()


def _artifacts(cache: Path) -> list[str]:
    folder = cache / "artifacts"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_entry_points_are_a_kind_of_source(nets: Path) -> None:
    assert source_kind("qtui_test_nets.cnn:build") == "entry"
    assert source_kind("some/where/net.py:build") == "entry"
    assert source_kind("mobilenet_v2") == "builtin" and source_kind("net.py") == "unknown"
    assert model_slug(f"{nets}/solo/net.py:build") == "net-build"
    assert model_slug("qtui_test_nets.cnn:build") == "cnn-build"
    from qtui.core.prepare import torch as torch_prep

    for a in catalog.matrix(f"{nets}/solo/net.py:build"):  # every cell, as for a built-in
        builtin = catalog.availability(a.framework, a.precision)
        assert a.available == builtin.available, a
        if a.available and a.framework == "torch" and a.precision in ("fp32", "fp16"):
            assert a.reason == torch_prep.SOURCE_PRECISION_NOTES["entry"][a.precision]  # TorchScript
        else:
            assert a.reason == builtin.reason, a


@pytest.mark.parametrize(("entry", "words"), [
    ("qtui_test_nets.nothing:build", "no module 'qtui_test_nets.nothing'"),
    ("solo/bad_import.py:build", "does not import: ModuleNotFoundError"),
    ("qtui_test_nets.cnn:missing", "the module has no function missing()"),
    ("qtui_test_nets.cnn:broken", "broken() raised ValueError: no such checkpoint layout"),
    ("qtui_test_nets.cnn:not_module", "not_module() returned a int, not a torch.nn.Module"),
    ("solo/net.py:wrong_output", "returns a tensor of shape [1, 3, 4, 4]"),
    ("solo/net.py:build --set input.layout=NHWC", "the profile gives [224, 224, 3] images"),
])
def test_a_bad_entry_point_is_named_with_exit_2_and_nothing_written(
    nets: Path, entry: str, words: str, session_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(nets)
    before = _artifacts(session_cache)
    entry, *more = entry.split(" ")
    out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"model={entry}", *more])
    assert out.exit_code == 2, out.output
    assert words in out.output and entry.split("/")[-1].split(":")[0].split(".")[0] in out.output
    assert "Traceback" not in out.output
    assert _artifacts(session_cache) == before


@pytest.mark.parametrize(("weights", "words"), [
    ("whole_model.pth", "holds pickled Python objects"),
    ("other_shape.pth", "does not fit entry point net.py:build"),
])
def test_weights_that_are_pickled_or_do_not_fit_are_refused(
    nets: Path, session_cache: Path, weights: str, words: str
) -> None:
    torch.save({"head.weight": torch.zeros(3, 3)}, nets / "other_shape.pth")
    before = _artifacts(session_cache)
    out = CliRunner().invoke(cli.main, [
        "run", "quick", "--set", f"model={nets / 'solo' / 'net.py'}:build",
        "--set", f"weights.source={nets / weights}",
    ])
    assert out.exit_code == 2, out.output
    assert words in out.output and weights in out.output
    assert _artifacts(session_cache) == before


CELLS = [(f, p) for f in ("onnxruntime", "openvino", "tflite", "torch") for p in ("fp32", "int8_static")] + [("torch", "fp16")]


@pytest.mark.parametrize(("framework", "precision"), CELLS)
def test_the_cells_run_with_loadgen(nets: Path, framework: str, precision: str) -> None:
    reason = catalog.unavailable_reason(framework, precision)
    if reason:
        pytest.skip(reason)
    from qtui.core.profile import WeightsSpec

    entry = f"{nets / 'solo' / 'net.py'}:build"
    profile = small_profile(model=entry, framework=framework, precision=precision,
                            weights=WeightsSpec(source=str(nets / "weights.pth")))
    result = run(profile, lambda e: None)
    assert result.status in ("ok", "invalid"), result.message
    assert result.throughput["samples"] > 0 and result.artifact["executed_precision"]
    model = result.provenance["model"]
    assert model["kind"] == "entry" and model["entry"] == "net.py:build" and model["weights"] == "file"
    assert "net.py" in model["source_files"] and str(nets) not in str(model)
    assert "-net-build-" in result.run_id


def test_fidelity_is_against_torch_fp32_of_the_entry_point(nets: Path) -> None:
    from qtui.core.profile import WeightsSpec

    profile = small_profile(model=f"{nets / 'solo' / 'net.py'}:build", framework="onnxruntime",
                            precision="int8_static", mode="accuracy", scenario="Offline",
                            weights=WeightsSpec(source=str(nets / "weights.pth")))
    result = run(profile, lambda e: None)
    assert result.status == "ok", result.message
    assert result.accuracy["reference"] == "FP32 PyTorch on the same weights and samples"
    fid = result.accuracy["fidelity"]
    assert 10.0 < fid["sqnr_db"] < float("inf") and fid["cosine"] > 0.95, fid


def test_the_source_and_weights_are_in_the_artifact_key(
    nets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same code and weights: a cache hit; an edited source file or other weights: a new
    artifact, built from the edited code."""
    import shutil

    from qtui.core.profile import WeightsSpec

    shutil.copytree(nets / "qtui_test_nets", tmp_path / "qtui_test_nets")
    monkeypatch.chdir(tmp_path)
    entry = "qtui_test_nets.cnn:build"
    profile = small_profile(model=entry, framework="onnxruntime", precision="fp32")
    first, _ = prepare_only(profile)
    again, hit = prepare_only(profile)
    assert hit and again.directory == first.directory
    assert first.meta["weights"] == f"entry:{source_digest(locate(entry))}:factory:seed=0"
    other_weights, _ = prepare_only(small_profile(model=entry, framework="onnxruntime", precision="fp32",
                                                  weights=WeightsSpec(source=str(nets / "weights.pth"))))
    (tmp_path / "qtui_test_nets" / "cnn.py").write_text(NET.replace("torch.nn.Linear(16, 10)", "torch.nn.Linear(16, 7)"))
    edited, hit_edited = prepare_only(profile)
    assert len({first.directory, other_weights.directory, edited.directory}) == 3 and not hit_edited
    import onnx

    graph = onnx.load(str(edited.path)).graph
    assert [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim][1:] == [7]  # the edited code ran


# -- inputs the profile gives: tensors, several ----------------------------------------------------

TWO = InputSpec(shapes=("x=16", "y=2x3"))
TENSOR_CELLS = [
    ("seq", InputSpec(shape=(16,)), "torch", "fp32"),
    ("two", TWO, "torch", "fp32"),
    ("two", TWO, "onnxruntime", "int8_dynamic"),
    ("two", TWO, "openvino", "int8_static"),
    ("two", TWO, "tflite", "int8_static"),
]


@pytest.mark.parametrize(("factory", "spec", "framework", "precision"), TENSOR_CELLS)
def test_tensor_inputs_the_profile_gives_run_with_loadgen_and_fidelity(
    nets: Path, factory: str, spec: InputSpec, framework: str, precision: str
) -> None:
    """Generated tensors of the shapes the profile gives, in forward()'s order: traced, exported
    (ONNX, OpenVINO, TFLite) and calibrated with them, measured against FP32 PyTorch."""
    reason = catalog.unavailable_reason(framework, precision)
    if reason:
        pytest.skip(reason)
    profile = small_profile(model=f"{nets / 'tensors' / 'tnet.py'}:{factory}", framework=framework,
                            precision=precision, input=spec, mode="accuracy", scenario="Offline")
    result = run(profile, lambda e: None)
    assert result.status == "ok", result.message
    assert result.accuracy["reference"] == "FP32 PyTorch on the same weights and samples"
    fid = result.accuracy["fidelity"]
    assert fid["cosine"] > (0.999999 if precision == "fp32" else 0.95) and fid["samples"] == 32, fid
    inputs = result.provenance["model"]["inputs"]
    assert [(i["name"], i["shape"]) for i in inputs] == (
        [("x", ["batch", 16]), ("y", ["batch", 2, 3])] if factory == "two" else [("input", ["batch", 16])]
    )


def test_the_inputs_the_profile_gives_are_in_the_artifact_key(nets: Path) -> None:
    entry = f"{nets / 'tensors' / 'tnet.py'}:two"
    first, _ = prepare_only(small_profile(model=entry, framework="torch", precision="fp32", input=TWO))
    other, hit = prepare_only(small_profile(model=entry, framework="torch", precision="fp32",
                                            input=InputSpec(shapes=("x=16", "y=3x2"))))
    assert other.directory != first.directory and not hit
    assert first.meta["weights"].endswith(":inputs=x:float32:16;y:float32:2x3")


def test_bad_inputs_for_an_entry_point_exit_2_and_nothing_written(
    nets: Path, tmp_path: Path, session_cache: Path
) -> None:
    import numpy as np

    entry = f"{nets / 'tensors' / 'tnet.py'}:two"
    keys = tmp_path / "keys.npz"
    np.savez(keys, a=np.zeros((4, 16), np.float32), y=np.zeros((4, 2, 3), np.float32))
    shapes = ["--set", 'input.shapes=["x=16", "y=2x3"]']
    cases = [
        ([], "entry point tnet.py:two: forward() takes 2 inputs (x, y) and the profile gives 1: set input.shapes"),
        (["--set", 'input.shapes=["x=8", "y=2x3"]'], "entry point tnet.py:two: the model fails on one sample of x: float32 [8]"),
        ([*shapes, "--set", f"dataset.source={keys}"], "keys.npz: no array named 'x'; the model's inputs are x, y"),
        ([*shapes, "--set", "input.shape=[16]"], "give input.shape (one input) or input.shapes (several"),
        (["--set", "model=mobilenet_v2", "--set", "input.dtype=int64"], "key 'input.dtype' is for a PyTorch entry point's inputs"),
    ]
    before = _artifacts(session_cache)
    for extra, words in cases:
        out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"model={entry}", "--set", "framework=torch", *extra])
        assert out.exit_code == 2, out.output
        assert words in out.output and "Traceback" not in out.output, out.output
    assert _artifacts(session_cache) == before
