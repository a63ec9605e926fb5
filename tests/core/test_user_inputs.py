"""A user ONNX model's input as its file says it, completed by the profile's `[input]` table:
images of any square size in NCHW or NHWC, tensors of any type and shape (generated or from a
.npy/.npz file), several inputs; open dimensions named with the key that sets them (exit 2).
Tiny models are exported here and run through ONNX Runtime and OpenVINO with the real LoadGen."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import catalog
from qtui.core.data import DatasetError
from qtui.core.model_input import GeneratedTensors, InputArrays, input_feed, resolve
from qtui.core.model_source import ModelSourceError, inspect_onnx
from qtui.core.profile import InputSpec, ProfileError, apply_overrides, loads
from qtui.core.profile_data import open_profile_dataset
from qtui.core.runner import run
from tests.conftest import small_profile

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")


class _CNN(torch.nn.Module):
    def __init__(self, nhwc: bool = False) -> None:
        super().__init__()
        self.nhwc = nhwc
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        )
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x: Any) -> Any:
        if self.nhwc:
            x = x.permute(0, 3, 1, 2)
        return self.head(self.features(x).mean((2, 3)))


class _Sequence(torch.nn.Module):
    """Input [n, steps, 4] with the steps open: a non-image tensor with an open dimension."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x: Any) -> Any:
        return self.head(torch.tanh(x).mean(1))


class _TwoInputs(torch.nn.Module):
    """A picture and int64 token ids: two inputs of two types."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2)
        self.embed = torch.nn.Embedding(16, 8)
        self.head = torch.nn.Linear(16, 5)

    def forward(self, img: Any, ids: Any) -> Any:
        return self.head(torch.cat([self.conv(img).mean((2, 3)), self.embed(ids).mean(1)], 1))


class _FeatureMap(torch.nn.Module):
    """Output [n, 4, 16, 16]: not a vector of class scores."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)

    def forward(self, x: Any) -> Any:
        return torch.relu(self.conv(x))


def _export(net: Any, path: Path, example: tuple[Any, ...], names: list[str], dynamic: dict[str, dict[int, str]]) -> None:
    torch.onnx.export(
        net.eval(), example, str(path), input_names=names, output_names=["out"],
        dynamic_axes={**dynamic, "out": {0: "n"}}, opset_version=17, dynamo=False,
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user-inputs")
    torch.manual_seed(0)
    _export(_CNN(), root / "cnn96.onnx", (torch.zeros(1, 3, 96, 96),), ["img"], {"img": {0: "n"}})
    _export(_CNN(nhwc=True), root / "nhwc.onnx", (torch.zeros(1, 64, 64, 3),), ["img"], {"img": {0: "n"}})
    _export(_CNN(), root / "open_hw.onnx", (torch.zeros(1, 3, 64, 64),), ["img"], {"img": {0: "n", 2: "h", 3: "w"}})
    _export(_Sequence(), root / "seq.onnx", (torch.zeros(1, 5, 4),), ["x"], {"x": {0: "n", 1: "steps"}})
    _export(
        _TwoInputs(), root / "two.onnx", (torch.zeros(1, 3, 32, 32), torch.zeros(1, 6, dtype=torch.long)),
        ["img", "ids"], {"img": {0: "n"}, "ids": {0: "n"}},
    )
    _export(
        _TwoInputs(), root / "two_open.onnx", (torch.zeros(1, 3, 32, 32), torch.zeros(1, 6, dtype=torch.long)),
        ["img", "ids"], {"img": {0: "n"}, "ids": {0: "n", 1: "len"}},
    )
    _export(_FeatureMap(), root / "features.onnx", (torch.zeros(1, 3, 32, 32),), ["img"], {"img": {0: "n"}})
    return root


# -- what the file says, what the profile completes -----------------------------------------------


def test_images_of_other_sizes_and_layouts_take_their_size_from_the_file(models: Path) -> None:
    cnn = resolve(inspect_onnx(str(models / "cnn96.onnx")), None)
    assert (cnn.kind, cnn.shape, cnn.dtype) == ("image", (3, 96, 96), "float32")
    assert cnn.preprocess is not None and (cnn.preprocess.crop, cnn.preprocess.resize, cnn.preprocess.layout) == (96, 110, "NCHW")
    assert cnn.preprocess.normalize == "imagenet"
    nhwc = resolve(inspect_onnx(str(models / "nhwc.onnx")), None)
    assert (nhwc.kind, nhwc.shape) == ("image", (64, 64, 3))
    assert nhwc.preprocess is not None and nhwc.preprocess.layout == "NHWC"
    # the profile's own preprocessing, when it fits the model
    custom = InputSpec(resize=100, crop=96, normalize="custom", mean=(0.5,), std=(0.25,), scale=1 / 255)
    mine = resolve(inspect_onnx(str(models / "cnn96.onnx")), custom)
    assert mine.preprocess is not None and mine.preprocess.normalize == "custom" and mine.preprocess.resize == 100
    none = resolve(inspect_onnx(str(models / "nhwc.onnx")), InputSpec(resize=64, crop=64, normalize="none", layout="NHWC"))
    assert none.preprocess is not None and none.preprocess.normalize == "none"


def test_tensors_and_several_inputs_are_read_from_the_file(models: Path) -> None:
    seq = resolve(inspect_onnx(str(models / "seq.onnx")), InputSpec(shape=(7, 4)))
    assert (seq.kind, seq.shape, seq.dtype) == ("tensor", (7, 4), "float32")
    two = resolve(inspect_onnx(str(models / "two.onnx")), None)
    assert two.kind == "inputs"
    assert [(p.name, p.dtype, p.shape) for p in two.parts] == [("img", "float32", (3, 32, 32)), ("ids", "int64", (6,))]
    assert two.numpy_dtype.names == ("img", "ids")
    record = inspect_onnx(str(models / "two.onnx")).record()
    assert [i["name"] for i in record["inputs"]] == ["img", "ids"] and record["inputs"][1]["dtype"] == "int64"


MISFITS = {
    # (model, [input] table) → words of the message (each names the input and the key to set)
    "open image, no table": ("open_hw.onnx", None, "input 'img' [n, 3, h, w] leaves the image's height and width open", "set input.crop"),
    "open tensor, no shape": ("seq.onnx", None, "input 'x' [n, steps, 4] leaves dimension(s) 1: steps open", "set input.shape"),
    "shape that drops a fixed dim": ("seq.onnx", InputSpec(shape=(7, 5)), "input.shape gives [7, 5], which does not fit", "[batch, steps, 4]"),
    "wrong crop": ("cnn96.onnx", InputSpec(), "takes 96×96 images but input.crop is 224", "set input.crop = 96"),
    "wrong layout": ("nhwc.onnx", InputSpec(resize=73, crop=64), "takes NHWC images but input.layout is 'NCHW'", "set input.layout = 'NHWC'"),
    "open input of several": ("two_open.onnx", None, "input 'ids' [n, len] leaves dimension(s) 1: len open", "set input.shapes"),
    "input.shapes names no input": ("two_open.onnx", InputSpec(shapes=("tokens=6",)), "'tokens', which is not an input", "img, ids"),
    "input.shapes not NAME=DIMS": ("two_open.onnx", InputSpec(shapes=("ids:6",)), "is not 'NAME=D1xD2…'", "ids:6"),
    "input.shape for several": ("two_open.onnx", InputSpec(shape=(6,)), "has 2 inputs", "input.shapes"),
}


@pytest.mark.parametrize("case", sorted(MISFITS))
def test_what_the_file_leaves_open_is_named_with_its_key(models: Path, case: str) -> None:
    name, spec, *words = MISFITS[case]
    with pytest.raises(ModelSourceError) as caught:
        resolve(inspect_onnx(str(models / name)), spec)
    text = str(caught.value)
    assert name in text and all(w in text for w in words), text


def test_the_profile_completes_open_dimensions(models: Path) -> None:
    hw = resolve(inspect_onnx(str(models / "open_hw.onnx")), InputSpec(resize=80, crop=72))
    assert (hw.kind, hw.shape) == ("image", (3, 72, 72))
    two = resolve(inspect_onnx(str(models / "two_open.onnx")), InputSpec(shapes=("ids=9",)))
    assert [p.shape for p in two.parts] == [(3, 32, 32), (9,)]


def test_input_shape_keys_in_a_profile() -> None:
    profile = loads('model = "/x/seq.onnx"\n[input]\nshape = [7, 4]\nshapes = ["ids=9"]\n')
    assert profile.input is not None and profile.input.shape == (7, 4) and profile.input.shapes == ("ids=9",)
    with pytest.raises(ProfileError, match="input.shape"):
        loads('model = "/x/seq.onnx"\n[input]\nshape = [7, 0]\n')
    with pytest.raises(ProfileError, match="input.shape' is for your own model"):
        loads('model = "mobilenet_v2"\n[input]\nshape = [3, 224, 224]\n')
    changed = apply_overrides(small_profile(model="/x/seq.onnx"), ["input.shape=[7, 4]"])
    assert changed.input is not None and changed.input.shape == (7, 4)


# -- the data that feeds it -------------------------------------------------------------------------


def test_generated_tensors_are_seeded_and_of_the_inputs_types(models: Path) -> None:
    two = resolve(inspect_onnx(str(models / "two.onnx")), None)
    data = GeneratedTensors(8, 3, two)
    batch = data.get_batch([0, 5])
    assert batch.dtype.names == ("img", "ids") and batch.shape == (2,)
    feed = input_feed(batch, "unused")
    assert feed["img"].shape == (2, 3, 32, 32) and feed["img"].dtype == np.float32 and feed["img"].flags.c_contiguous
    assert feed["ids"].dtype == np.int64 and feed["ids"].min() >= 0 and feed["ids"].max() < 16
    again = GeneratedTensors(8, 3, two).get_batch([0, 5])
    assert np.array_equal(again["ids"], batch["ids"]) and np.array_equal(again["img"], batch["img"])
    other = GeneratedTensors(8, 4, two).get_batch([0, 5])
    assert not np.array_equal(other["img"], batch["img"]) and data.digest != GeneratedTensors(8, 4, two).digest
    assert "ids: int64 6 random" in data.provenance and "img: float32 3×32×32 standard normal" in data.provenance


def test_tensor_files_are_keyed_by_input_name(models: Path, tmp_path: Path) -> None:
    seq = small_profile(model=str(models / "seq.onnx"), input=InputSpec(shape=(7, 4)))
    path = tmp_path / "seq.npz"
    np.savez(path, x=np.ones((6, 7, 4), np.float32), other=np.zeros(3))
    data = open_profile_dataset(replace(seq, dataset=replace(seq.dataset, source=str(path), count=0)))
    assert data.count == 6 and data.get_batch([0, 1]).shape == (2, 7, 4)
    two = small_profile(model=str(models / "two.onnx"))
    good = tmp_path / "two.npz"
    ids = np.arange(24, dtype=np.int64).reshape(4, 6) % 16
    np.savez(good, img=np.zeros((4, 3, 32, 32), np.float32), ids=ids, labels=np.array([0, 1, 2, 3]))
    records = open_profile_dataset(replace(two, dataset=replace(two.dataset, source=str(good), count=0)))
    assert isinstance(records, InputArrays) and records.count == 4 and records.has_labels
    assert np.array_equal(records.get_batch([2, 3])["ids"], ids[2:4])
    bad = tmp_path / "bad.npz"
    np.savez(bad, img=np.zeros((4, 3, 32, 32), np.float32), ids=ids.astype(np.int32))
    with pytest.raises(DatasetError, match="array 'ids' is int32, the input takes int64"):
        open_profile_dataset(replace(two, dataset=replace(two.dataset, source=str(bad))))
    missing = tmp_path / "missing.npz"
    np.savez(missing, img=np.zeros((4, 3, 32, 32), np.float32))
    with pytest.raises(DatasetError, match="no array named 'ids'"):
        open_profile_dataset(replace(two, dataset=replace(two.dataset, source=str(missing))))


def test_pictures_cannot_feed_a_tensor_input_exit_2(models: Path, tmp_path: Path) -> None:
    from PIL import Image

    pictures = tmp_path / "photos"
    pictures.mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(pictures / "a.png")
    out = CliRunner().invoke(cli.main, [
        "run", "quick", "--set", f"model={models / 'two.onnx'}", "--set", f"dataset.source={pictures}",
    ])
    assert out.exit_code == 2, out.output
    assert "holds pictures, but the model's input" in out.output and "dataset.source = 'synthetic'" in out.output
    opened = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"model={models / 'seq.onnx'}"])
    assert opened.exit_code == 2 and "set input.shape" in opened.output and "seq.onnx" in opened.output


# -- running them ------------------------------------------------------------------------------------

RUNS = [
    # model, framework, precision, scenario, [input] table
    ("cnn96.onnx", "onnxruntime", "int8_static", "Offline", None),
    ("cnn96.onnx", "openvino", "fp32", "SingleStream", None),
    ("nhwc.onnx", "openvino", "int8_static", "Offline", None),
    ("nhwc.onnx", "onnxruntime", "fp16", "SingleStream", None),
    ("seq.onnx", "onnxruntime", "int8_dynamic", "Offline", InputSpec(shape=(7, 4))),
    ("two.onnx", "onnxruntime", "int8_static", "MultiStream", None),
    ("two.onnx", "openvino", "int8_static", "Offline", None),
]


@pytest.mark.parametrize(("model", "framework", "precision", "scenario", "spec"), RUNS)
def test_other_inputs_run_with_loadgen_and_fidelity(
    models: Path, model: str, framework: str, precision: str, scenario: str, spec: Any
) -> None:
    if catalog.unavailable_reason(framework, precision):
        pytest.skip(catalog.unavailable_reason(framework, precision) or "")
    profile = small_profile(
        model=str(models / model), framework=framework, precision=precision, scenario=scenario,
        mode="accuracy", input=spec,
    )
    result = run(profile, lambda e: None)
    assert result.status == "ok", result.message
    fid = result.accuracy["fidelity"]
    assert fid["samples"] == 32 and fid["cosine"] > 0.9 and fid["sqnr_db"] > 5, fid
    assert result.accuracy["reference"] == "FP32 ONNX Runtime on the same model file and samples"
    assert result.artifact["executed_precision"]
    assert result.provenance["model"]["file"] == model and str(models) not in str(result.provenance)
    if model in ("cnn96.onnx", "nhwc.onnx"):
        assert "centre crop 96" in result.provenance["preprocess"] or "NHWC" in result.provenance["preprocess"]
    else:
        assert result.provenance["preprocess"] == "none (generated tensors)"
        assert result.provenance["data"].startswith("generated tensors")


def test_a_photo_folder_feeds_a_96_pixel_model(models: Path, tmp_path: Path) -> None:
    from PIL import Image

    pictures = tmp_path / "photos"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        Image.fromarray(rng.integers(0, 255, (120 + 10 * k, 150, 3), dtype=np.uint8)).save(pictures / f"p{k}.png")
    profile = small_profile(model=str(models / "cnn96.onnx"), mode="accuracy")
    profile = replace(profile, dataset=replace(profile.dataset, source=str(pictures), count=0))
    result = run(profile, lambda e: None)
    assert result.status == "ok", result.message
    assert result.accuracy["fidelity"]["samples"] == 6
    assert result.provenance["preprocess"] == "resize 110, centre crop 96, ImageNet mean/std, NCHW"


def test_an_output_that_is_no_class_vector_gets_fidelity_without_top1(models: Path, tmp_path: Path) -> None:
    """Labels beside a feature-map output: no top-1 (it would be meaningless), fidelity by SQNR
    and cosine over the whole output, no top-1 agreement."""
    data = tmp_path / "maps.npz"
    rng = np.random.default_rng(1)
    np.savez(data, img=rng.standard_normal((8, 3, 32, 32)).astype(np.float32), labels=np.arange(8) % 4)
    profile = small_profile(model=str(models / "features.onnx"), precision="int8_static", mode="accuracy", scenario="Offline")
    profile = replace(profile, dataset=replace(profile.dataset, source=str(data), count=0, calibration_count=8))
    result = run(profile, lambda e: None)
    assert result.status == "ok", result.message
    assert "top1" not in result.accuracy and "top5" not in result.accuracy
    fid = result.accuracy["fidelity"]
    assert set(fid) == {"samples", "sqnr_db", "cosine", "max_abs_diff"} and fid["samples"] == 8
    assert fid["sqnr_db"] > 10 and fid["cosine"] > 0.95
