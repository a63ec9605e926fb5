"""Tests for qtui.core.models: torchvision key compatibility, forward passes, weights loading."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError

import pytest
import torch  # a test dependency everywhere (every extra set that runs the tests has it)

from qtui.core import models
from qtui.core.models import (
    MODEL_NAMES,
    MODEL_TITLES,
    LoadedModel,
    WeightsError,
    build_model,
    load_model,
)
from qtui.core.models import weights as W
from qtui.core.synthetic import synthetic_images
from tests.conftest import share_random_weights

Shape = tuple[int, ...]

# What torchvision's mobilenet_v2(), vgg19() and densenet121() give (torchvision 0.29):
# state-dict size, parameter count, sha256 of the full "key:d0,d1,…" manifest (one line per
# entry, in order) and a representative subset of (key, shape).
TORCHVISION: dict[str, dict[str, object]] = {
    "mobilenet_v2": {
        "entries": 314,
        "parameters": 3_504_872,
        "manifest_sha256": "818b72532e7479ebaa6dc77d9ed1f581e28dbdbdd551787b0598befb3a286694",
        "first": "features.0.0.weight",
        "last": "classifier.1.bias",
        "keys": [
            ("features.0.0.weight", (32, 3, 3, 3)),
            ("features.0.1.weight", (32,)),
            ("features.0.1.running_var", (32,)),
            ("features.0.1.num_batches_tracked", ()),
            ("features.1.conv.0.0.weight", (32, 1, 3, 3)),
            ("features.1.conv.0.1.bias", (32,)),
            ("features.1.conv.1.weight", (16, 32, 1, 1)),
            ("features.1.conv.2.running_mean", (16,)),
            ("features.2.conv.0.0.weight", (96, 16, 1, 1)),
            ("features.2.conv.0.1.bias", (96,)),
            ("features.2.conv.1.0.weight", (96, 1, 3, 3)),
            ("features.3.conv.3.bias", (24,)),
            ("features.6.conv.1.1.running_var", (192,)),
            ("features.9.conv.3.weight", (64,)),
            ("features.12.conv.0.1.bias", (576,)),
            ("features.17.conv.2.weight", (320, 960, 1, 1)),
            ("features.18.0.weight", (1280, 320, 1, 1)),
            ("features.18.1.num_batches_tracked", ()),
            ("classifier.1.weight", (1000, 1280)),
            ("classifier.1.bias", (1000,)),
        ],
    },
    "vgg19": {
        "entries": 38,
        "parameters": 143_667_240,
        "manifest_sha256": "16743a6d72cb75887a4ae94911b52eab377b6758cf9a5f33318a151b95665c96",
        "first": "features.0.weight",
        "last": "classifier.6.bias",
        "keys": [
            ("features.0.weight", (64, 3, 3, 3)),
            ("features.0.bias", (64,)),
            ("features.2.weight", (64, 64, 3, 3)),
            ("features.5.weight", (128, 64, 3, 3)),
            ("features.7.bias", (128,)),
            ("features.10.weight", (256, 128, 3, 3)),
            ("features.16.weight", (256, 256, 3, 3)),
            ("features.19.weight", (512, 256, 3, 3)),
            ("features.21.bias", (512,)),
            ("features.34.weight", (512, 512, 3, 3)),
            ("classifier.0.weight", (4096, 25088)),
            ("classifier.3.bias", (4096,)),
            ("classifier.6.weight", (1000, 4096)),
            ("classifier.6.bias", (1000,)),
        ],
    },
    "densenet121": {
        "entries": 727,
        "parameters": 7_978_856,
        "manifest_sha256": "f4f688bcf5013206362e511955d6a6a9ca604bdbea9f401161a98b46e17c6883",
        "first": "features.conv0.weight",
        "last": "classifier.bias",
        "keys": [
            ("features.conv0.weight", (64, 3, 7, 7)),
            ("features.norm0.weight", (64,)),
            ("features.norm0.num_batches_tracked", ()),
            ("features.denseblock1.denselayer1.norm1.weight", (64,)),
            ("features.denseblock1.denselayer1.conv1.weight", (128, 64, 1, 1)),
            ("features.denseblock1.denselayer1.norm2.running_var", (128,)),
            ("features.denseblock1.denselayer1.conv2.weight", (32, 128, 3, 3)),
            ("features.denseblock1.denselayer2.norm1.running_mean", (96,)),
            ("features.transition1.norm.weight", (256,)),
            ("features.transition1.conv.weight", (128, 256, 1, 1)),
            ("features.denseblock3.denselayer23.norm1.running_mean", (960,)),
            ("features.transition3.conv.weight", (512, 1024, 1, 1)),
            ("features.denseblock4.denselayer7.norm1.weight", (704,)),
            ("features.denseblock4.denselayer16.conv2.weight", (32, 128, 3, 3)),
            ("features.norm5.weight", (1024,)),
            ("features.norm5.num_batches_tracked", ()),
            ("classifier.weight", (1000, 1024)),
            ("classifier.bias", (1000,)),
        ],
    },
}

# torchvision's resnet50() (ResNet-50 v1.5, the layout of resnet50-0676ba61.pth): 320 entries,
# 25,557,032 parameters (torchvision's published num_params), and shapes at every stage.
TORCHVISION["resnet50"] = {
    "entries": 320,
    "parameters": 25_557_032,
    "first": "conv1.weight",
    "last": "fc.bias",
    "keys": [
        ("conv1.weight", (64, 3, 7, 7)),
        ("bn1.weight", (64,)),
        ("bn1.num_batches_tracked", ()),
        ("layer1.0.conv1.weight", (64, 64, 1, 1)),
        ("layer1.0.conv2.weight", (64, 64, 3, 3)),
        ("layer1.0.conv3.weight", (256, 64, 1, 1)),
        ("layer1.0.bn3.running_var", (256,)),
        ("layer1.0.downsample.0.weight", (256, 64, 1, 1)),
        ("layer1.0.downsample.1.running_mean", (256,)),
        ("layer1.2.conv1.weight", (64, 256, 1, 1)),
        ("layer2.0.conv1.weight", (128, 256, 1, 1)),
        ("layer2.0.conv2.weight", (128, 128, 3, 3)),
        ("layer2.0.downsample.0.weight", (512, 256, 1, 1)),
        ("layer2.3.bn2.bias", (128,)),
        ("layer3.0.downsample.0.weight", (1024, 512, 1, 1)),
        ("layer3.5.conv3.weight", (1024, 256, 1, 1)),
        ("layer4.0.conv2.weight", (512, 512, 3, 3)),
        ("layer4.0.downsample.1.num_batches_tracked", ()),
        ("layer4.2.bn3.weight", (2048,)),
        ("fc.weight", (1000, 2048)),
        ("fc.bias", (1000,)),
    ],
}

VGG_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)

#: torchvision resnet50()'s blocks in state-dict order, written out: (block, has downsample).
RESNET50_BLOCKS = (
    ("layer1.0", True), ("layer1.1", False), ("layer1.2", False),
    ("layer2.0", True), ("layer2.1", False), ("layer2.2", False), ("layer2.3", False),
    ("layer3.0", True), ("layer3.1", False), ("layer3.2", False), ("layer3.3", False),
    ("layer3.4", False), ("layer3.5", False),
    ("layer4.0", True), ("layer4.1", False), ("layer4.2", False),
)
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def manifest_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    text = "\n".join(f"{k}:{','.join(str(d) for d in v.shape)}" for k, v in state_dict.items())
    return hashlib.sha256(text.encode()).hexdigest()


def to_legacy_densenet(state_dict: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """The published 2017 checkpoint's format: `norm.1`/`conv.2` names, no batch counters."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in state_dict.items():
        if key.endswith("num_batches_tracked"):
            continue
        out[re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", key)] = value
    return out


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> Iterator[None]:
    """Small-batch forward passes here are faster on one intra-op thread (thread wake-ups cost
    more than the work); the recalibration uses a fixed thread count of its own anyway."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _Built(dict):  # type: ignore[type-arg]
    """name → default-initialised model, built on first use."""

    def __missing__(self, name: str) -> torch.nn.Module:
        self[name] = build_model(name)
        return self[name]


@pytest.fixture(scope="module")
def built() -> dict[str, torch.nn.Module]:
    """One default-initialised instance per model for the module (VGG-19 takes ~1.3 s)."""
    return _Built()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("QTUI_CACHE_DIR", str(path))
    return path


@pytest.fixture
def quick_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    """16 calibration images in batches of 8 instead of 256 in 32: same code path, ~1 s."""
    monkeypatch.setattr(W, "CALIBRATION_IMAGES", 16)
    monkeypatch.setattr(W, "CALIBRATION_BATCH", 8)


# ----------------------------------------------------------------------------------------------
# Package surface


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, qtui.core.models as m; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'numpy' not in sys.modules, 'numpy imported'; "
        "print(m.MODEL_NAMES)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "mobilenet_v2" in result.stdout


def test_names_and_titles() -> None:
    assert MODEL_NAMES == ("mobilenet_v2", "vgg19", "densenet121", "resnet50")
    assert MODEL_TITLES == {
        "mobilenet_v2": "MobileNetV2",
        "vgg19": "VGG-19",
        "densenet121": "DenseNet-121",
        "resnet50": "ResNet-50",
    }
    assert models.LoadedModel is LoadedModel and issubclass(WeightsError, Exception)


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet18'"):
        build_model("resnet18")
    with pytest.raises(WeightsError, match="mobilenet_v2, vgg19, densenet121, resnet50"):
        load_model("resnet18")


# ----------------------------------------------------------------------------------------------
# Architectures: torchvision compatibility


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_state_dict_matches_torchvision(name: str, built: dict[str, torch.nn.Module]) -> None:
    expected = TORCHVISION[name]
    model = built[name]
    sd = model.state_dict()
    keys = list(sd)
    assert len(sd) == expected["entries"]
    assert keys[0] == expected["first"] and keys[-1] == expected["last"]
    for key, shape in expected["keys"]:  # type: ignore[attr-defined]
        assert key in sd, key
        assert tuple(sd[key].shape) == shape, key
    assert sum(p.numel() for p in model.parameters()) == expected["parameters"]
    if "manifest_sha256" in expected:  # computed with torchvision 0.29 (not importable here)
        assert manifest_sha256(sd) == expected["manifest_sha256"]
    assert all(v.dtype == torch.float32 for k, v in sd.items() if "num_batches" not in k)
    assert not model.training  # build_model returns eval mode


def test_vgg19_full_key_list(built: dict[str, torch.nn.Module]) -> None:
    expected = [f"features.{i}.{p}" for i in VGG_CONV_INDICES for p in ("weight", "bias")]
    expected += [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert list(built["vgg19"].state_dict()) == expected


def test_resnet50_full_key_list(built: dict[str, torch.nn.Module]) -> None:
    """Every key of torchvision's resnet50() state dict, in its order: conv1, bn1, each
    bottleneck's conv1/bn1/conv2/bn2/conv3/bn3 then its downsample.0 (conv) and .1 (BN), fc."""
    bn = [f"bn1.{k}" for k in BN_KEYS]
    expected = ["conv1.weight", *bn]
    for block, downsample in RESNET50_BLOCKS:
        for i in (1, 2, 3):
            expected += [f"{block}.conv{i}.weight", *(f"{block}.bn{i}.{k}" for k in BN_KEYS)]
        if downsample:
            expected += [f"{block}.downsample.0.weight", *(f"{block}.downsample.1.{k}" for k in BN_KEYS)]
    expected += ["fc.weight", "fc.bias"]
    assert list(built["resnet50"].state_dict()) == expected


def test_resnet50_is_v1_5(built: dict[str, torch.nn.Module]) -> None:
    """v1.5 downsamples in the 3×3 conv of a stage's first block, not in its first 1×1."""
    net = built["resnet50"]
    for stage in ("layer2", "layer3", "layer4"):
        first = getattr(net, stage)[0]
        assert first.conv1.stride == (1, 1) and first.conv2.stride == (2, 2)
        assert first.downsample[0].stride == (2, 2)
    with torch.no_grad():
        y = net(torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_strict_load_of_independent_state_dict(name: str) -> None:
    """A state dict with exactly torchvision's keys and shapes, from a second, independently
    constructed instance (with distinct values), loads with strict=True."""
    with torch.device("meta"):
        other = models.architecture(name)()
        target = models.architecture(name)()
    state = OrderedDict()
    for i, (key, t) in enumerate(other.state_dict().items()):
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(i, dtype=torch.long)
        elif t.numel() <= 1_000_000:
            state[key] = torch.full(tuple(t.shape), float(i % 97) / 7)
        else:  # VGG's big Linear layers: lazily zeroed pages, cheap to allocate
            state[key] = torch.zeros(tuple(t.shape))
    # assign=True puts the tensors in place (no 548 MB copy for VGG-19); strict checking of
    # keys and shapes is the same as for a copying load.
    result = target.load_state_dict(state, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    loaded = target.state_dict()
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].shape == value.shape, key
        if value.numel() <= 1_000_000:
            assert torch.equal(loaded[key], value), key
    bad = OrderedDict(state)
    first = next(iter(bad))
    bad[first] = torch.zeros(tuple(bad[first].shape) + (1,))
    with pytest.raises(RuntimeError, match="size mismatch"):
        target.load_state_dict(bad, strict=True, assign=True)


def test_mobilenet_forward_224(built: dict[str, torch.nn.Module]) -> None:
    x = torch.from_numpy(synthetic_images(1, seed=0))
    with torch.no_grad():
        y = built["mobilenet_v2"](x)
    assert y.shape == (1, 1000) and y.dtype == torch.float32
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["vgg19", "densenet121"])
def test_tiny_forward(name: str, built: dict[str, torch.nn.Module]) -> None:
    """32×32 is the smallest input both nets accept (five halvings); keeps the test cheap."""
    with torch.no_grad():
        y = built[name](torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert y.shape == (1, 1000) and torch.isfinite(y).all()


def test_default_init_follows_torchvision(built: dict[str, torch.nn.Module]) -> None:
    mnv2 = built["mobilenet_v2"].state_dict()
    assert torch.equal(mnv2["features.0.1.weight"], torch.ones(32))
    assert torch.equal(mnv2["features.0.1.bias"], torch.zeros(32))
    assert torch.equal(mnv2["classifier.1.bias"], torch.zeros(1000))
    assert abs(mnv2["classifier.1.weight"].std().item() - 0.01) < 1e-3
    # kaiming_normal fan_out (ReLU gain): std sqrt(2 / (out_channels * k * k))
    w = mnv2["features.18.0.weight"]
    assert abs(w.std().item() / (2 / 1280) ** 0.5 - 1) < 0.05
    dn = built["densenet121"].state_dict()
    w = dn["features.denseblock3.denselayer23.norm1.weight"]
    assert torch.equal(w, torch.ones_like(w))
    w = dn["features.transition3.conv.weight"]  # kaiming_normal fan_in: sqrt(2 / 1024)
    assert abs(w.std().item() / (2 / 1024) ** 0.5 - 1) < 0.05
    assert torch.equal(dn["classifier.bias"], torch.zeros(1000))
    vgg = built["vgg19"].state_dict()
    assert torch.equal(vgg["features.34.bias"], torch.zeros(512))
    assert abs(vgg["classifier.6.weight"].std().item() - 0.01) < 1e-3


def test_seeded_build_is_reproducible() -> None:
    torch.manual_seed(7)
    a = models.architecture("mobilenet_v2")()
    torch.manual_seed(7)
    b = models.architecture("mobilenet_v2")()
    assert W.state_dict_digest(a.state_dict()) == W.state_dict_digest(b.state_dict())


# ----------------------------------------------------------------------------------------------
# Digest


def test_digest_is_canonical() -> None:
    a = OrderedDict(w=torch.arange(12, dtype=torch.float32).reshape(3, 4), n=torch.tensor(3))
    b = OrderedDict(w=a["w"].t().contiguous().t(), n=torch.tensor(3))  # same values, other layout
    assert not b["w"].is_contiguous()
    assert W.state_dict_digest(a) == W.state_dict_digest(b)
    assert len(W.state_dict_digest(a)) == 64
    changed = OrderedDict(w=a["w"].clone(), n=a["n"])
    changed["w"][1, 1] += 1e-6
    assert W.state_dict_digest(changed) != W.state_dict_digest(a)
    reshaped = OrderedDict(w=a["w"].reshape(4, 3), n=a["n"])
    assert W.state_dict_digest(reshaped) != W.state_dict_digest(a)
    reordered = OrderedDict(n=a["n"], w=a["w"])
    assert W.state_dict_digest(reordered) != W.state_dict_digest(a)
    as_double = OrderedDict(w=a["w"].double(), n=a["n"])
    assert W.state_dict_digest(as_double) != W.state_dict_digest(a)


# ----------------------------------------------------------------------------------------------
# Random weights


@pytest.fixture(scope="module")
def mobilenet_random(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The real recipe (256 images, batches of 32) once for the module: ~11 s on 2 cores."""
    cache = tmp_path_factory.mktemp("mnv2-cache")
    events: list[tuple[str, float]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QTUI_CACHE_DIR", str(cache))
        threads = torch.get_num_threads()
        loaded = load_model(
            "mobilenet_v2", "random", seed=0, on_progress=lambda s, f: events.append((s, f))
        )
        yield {
            "loaded": loaded,
            "events": events,
            "cache": cache,
            "threads_before": threads,
            "threads_after": torch.get_num_threads(),
        }


def test_random_weights_metadata(mobilenet_random: dict[str, object]) -> None:
    loaded = mobilenet_random["loaded"]
    assert isinstance(loaded, LoadedModel)
    assert loaded.name == "mobilenet_v2" and loaded.source == "random" and not loaded.trained
    assert "seed 0" in loaded.provenance and "256 synthetic images" in loaded.provenance
    assert "not trained" in loaded.provenance
    assert re.fullmatch(r"[0-9a-f]{64}", loaded.digest)
    assert loaded.digest == W.state_dict_digest(loaded.module.state_dict())
    assert not loaded.module.training
    assert all(p.dtype == torch.float32 for p in loaded.module.parameters())
    assert mobilenet_random["threads_after"] == mobilenet_random["threads_before"]


def test_recalibration_progress(mobilenet_random: dict[str, object]) -> None:
    recal = [f for s, f in mobilenet_random["events"] if s == "recalibrating BatchNorm"]  # type: ignore[attr-defined]
    assert recal[0] == 0.0 and recal[-1] == 1.0
    assert recal == sorted(recal) and len(recal) == 256 // 32 + 1


def test_recalibration_changes_statistics(mobilenet_random: dict[str, object]) -> None:
    module = mobilenet_random["loaded"].module  # type: ignore[attr-defined]
    bns = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 52
    for bn in bns:
        assert bn.momentum == 0.1  # restored after the cumulative-average pass
        assert int(bn.num_batches_tracked) == 256 // 32
        assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
        assert not torch.equal(bn.running_var, torch.ones_like(bn.running_var))
        assert torch.isfinite(bn.running_var).all() and (bn.running_var >= 0).all()
    # Activations stay in range: eval-mode logits on the (default, seed 0) test images.
    x = torch.from_numpy(synthetic_images(8, seed=0))
    with torch.no_grad():
        logits = module(x)
    assert logits.shape == (8, 1000) and torch.isfinite(logits).all()
    assert 1e-3 < logits.std().item() < 100
    with torch.no_grad():
        features = module.features(x)
    assert features.abs().max().item() <= 6.0  # ReLU6 output, not saturated garbage
    assert 0.01 < features.mean().item() < 5


def test_random_cache_hit_is_fast_and_identical(mobilenet_random: dict[str, object]) -> None:
    loaded = mobilenet_random["loaded"]
    cache_file = mobilenet_random["cache"] / "weights" / "mobilenet_v2-random-seed0-v1.pt"  # type: ignore[operator]
    assert cache_file.is_file()
    assert W.random_cache_path("mobilenet_v2", 0).name == cache_file.name
    assert not list(cache_file.parent.glob("*.tmp"))  # atomic write left no temp file
    events: list[tuple[str, float]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QTUI_CACHE_DIR", str(mobilenet_random["cache"]))
        again = load_model("mobilenet_v2", seed=0, on_progress=lambda s, f: events.append((s, f)))
    # served from the cache: no recalibration ran (no wall-clock thresholds: the box is noisy)
    assert ("loading cached random weights", 1.0) in events
    assert again.digest == loaded.digest  # type: ignore[attr-defined]
    assert again.provenance == loaded.provenance  # type: ignore[attr-defined]
    assert not any(s == "recalibrating BatchNorm" for s, _ in events)
    assert not again.module.training


def test_random_is_deterministic_without_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quick_calibration: None
) -> None:
    """Fresh computations in two empty caches, under different torch thread settings, agree."""
    threads = torch.get_num_threads()
    digests = []
    try:
        for i, nthreads in enumerate((1, 2)):
            torch.set_num_threads(nthreads)
            monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / f"c{i}"))
            digests.append(load_model("mobilenet_v2", seed=0).digest)
    finally:
        torch.set_num_threads(threads)
    assert digests[0] == digests[1]
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "c2"))
    assert load_model("mobilenet_v2", seed=1).digest != digests[0]


def test_random_does_not_disturb_global_rng(cache_dir: Path, quick_calibration: None) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_model("mobilenet_v2", seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_corrupt_cache_is_rebuilt(cache_dir: Path, quick_calibration: None) -> None:
    first = load_model("mobilenet_v2", seed=3)
    cache_file = W.random_cache_path("mobilenet_v2", 3)
    assert cache_file.parent == cache_dir / "weights"
    cache_file.write_bytes(b"not a checkpoint")
    again = load_model("mobilenet_v2", seed=3)
    assert again.digest == first.digest
    assert cache_file.stat().st_size > 1_000_000  # rewritten


def test_recalibrate_without_batchnorm_is_a_noop() -> None:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).train()
    before = W.state_dict_digest(net.state_dict())
    assert W.recalibrate_batchnorm(net, data_seed=1, images=2, batch=2) == 0
    assert W.state_dict_digest(net.state_dict()) == before and not net.training


# ----------------------------------------------------------------------------------------------
# torchvision weights (no network: torch.hub is faked)


def test_torchvision_offline_raises_weights_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, **kwargs: object) -> dict[str, torch.Tensor]:
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError) as info:
        load_model("densenet121", "torchvision")
    message = str(info.value)
    assert "https://download.pytorch.org/models/densenet121-a639ec97.pth" in message
    assert 'weights.source = "/path/to/densenet121-a639ec97.pth"' in message
    assert str(Path(torch.hub.get_dir()) / "checkpoints" / "densenet121-a639ec97.pth") in message
    assert "DenseNet-121" in message


def test_torchvision_mobilenet(monkeypatch: pytest.MonkeyPatch) -> None:
    source = build_model("mobilenet_v2").state_dict()
    calls: list[tuple[str, dict[str, object]]] = []

    def fake(url: str, **kwargs: object) -> dict[str, torch.Tensor]:
        calls.append((url, kwargs))
        return OrderedDict((k, v.clone()) for k, v in source.items())

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake)
    loaded = load_model("mobilenet_v2", "torchvision")
    url = "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth"
    assert calls[0][0] == url
    assert calls[0][1]["check_hash"] is True and calls[0][1]["progress"] is False
    assert calls[0][1]["map_location"] == "cpu"
    assert loaded.source == "torchvision" and loaded.trained
    assert loaded.provenance == f"torchvision IMAGENET1K_V1 ({url})"
    assert loaded.digest == W.state_dict_digest(source)
    assert not loaded.module.training


def test_torchvision_resnet50(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's ResNet50_Weights.IMAGENET1K_V1 file, hash-checked by torch.hub against the
    sha256 prefix in its name."""
    source = build_model("resnet50").state_dict()
    calls: list[tuple[str, dict[str, object]]] = []

    def fake(url: str, **kwargs: object) -> dict[str, torch.Tensor]:
        calls.append((url, kwargs))
        return OrderedDict((k, v.clone()) for k, v in source.items())

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake)
    loaded = load_model("resnet50", "torchvision")
    url = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    assert calls == [(url, calls[0][1])] and calls[0][1]["check_hash"] is True
    assert torch.hub.HASH_REGEX.search(url.rsplit("/", 1)[1]).group(1) == "0676ba61"  # type: ignore[union-attr]
    assert loaded.provenance == f"torchvision IMAGENET1K_V1 ({url})" and loaded.trained
    assert loaded.digest == W.state_dict_digest(source)


def test_torchvision_densenet_legacy_keys_are_remapped(monkeypatch: pytest.MonkeyPatch) -> None:
    source = build_model("densenet121").state_dict()
    legacy = to_legacy_densenet(source)
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    assert "features.denseblock4.denselayer16.conv.2.weight" in legacy
    assert "features.denseblock1.denselayer1.norm1.weight" not in legacy
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kw: legacy)
    loaded = load_model("densenet121", "torchvision")
    state = loaded.module.state_dict()
    assert list(state) == list(source)
    for key in source:
        assert torch.equal(state[key], source[key]), key
    assert loaded.digest == W.state_dict_digest(source)  # counters filled with 0, like torch does
    assert "densenet121-a639ec97.pth" in loaded.provenance


def test_torchvision_wrong_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = build_model("mobilenet_v2").state_dict()
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda url, **kw: wrong)
    with pytest.raises(WeightsError, match=r"torchvision checkpoint https://.*densenet121"):
        load_model("densenet121", "torchvision")


# ----------------------------------------------------------------------------------------------
# Local files


@pytest.fixture(scope="module")
def mnv2_state() -> OrderedDict[str, torch.Tensor]:
    torch.manual_seed(11)
    return OrderedDict(models.architecture("mobilenet_v2")().state_dict())


def test_file_bare_state_dict(tmp_path: Path, mnv2_state: OrderedDict[str, torch.Tensor]) -> None:
    path = tmp_path / "mnv2.pth"
    torch.save(mnv2_state, path)
    loaded = load_model("mobilenet_v2", str(path))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.source == "file" and loaded.trained
    assert loaded.provenance == f"file {path} (sha256 {sha[:12]}…)"
    assert loaded.digest == W.state_dict_digest(mnv2_state)
    assert not loaded.module.training
    assert load_model("mobilenet_v2", path=str(path)).digest == loaded.digest
    assert load_model("mobilenet_v2", "file", path=str(path)).digest == loaded.digest


@pytest.mark.parametrize("wrap", ["state_dict", "model", "module-prefix", "half"])
def test_file_wrappers(
    wrap: str, tmp_path: Path, mnv2_state: OrderedDict[str, torch.Tensor]
) -> None:
    if wrap == "module-prefix":  # saved from a DataParallel model
        content: object = OrderedDict((f"module.{k}", v) for k, v in mnv2_state.items())
    elif wrap == "half":
        content = OrderedDict(
            (k, v.half() if v.is_floating_point() else v) for k, v in mnv2_state.items()
        )
    else:
        content = {"epoch": 90, wrap: mnv2_state, "best_acc1": 71.9}
    path = tmp_path / "ckpt.pth"
    torch.save(content, path)
    loaded = load_model("mobilenet_v2", str(path))
    assert all(p.dtype == torch.float32 for p in loaded.module.parameters())
    if wrap == "half":
        expected = {
            k: v.half().float() if v.is_floating_point() else v for k, v in mnv2_state.items()
        }
        assert loaded.digest == W.state_dict_digest(expected)
    else:
        assert loaded.digest == W.state_dict_digest(mnv2_state)


def test_file_relative_path_is_reported_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnv2_state: OrderedDict[str, torch.Tensor]
) -> None:
    torch.save(mnv2_state, tmp_path / "w.pth")
    monkeypatch.chdir(tmp_path)
    loaded = load_model("mobilenet_v2", "w.pth")
    assert loaded.provenance.startswith(f"file {tmp_path / 'w.pth'} (sha256 ")


def test_file_densenet_legacy_keys(tmp_path: Path) -> None:
    source = build_model("densenet121").state_dict()
    path = tmp_path / "densenet121-a639ec97.pth"
    torch.save(to_legacy_densenet(source), path)
    loaded = load_model("densenet121", str(path))
    assert loaded.digest == W.state_dict_digest(source)


def test_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.pth"
    with pytest.raises(WeightsError, match=re.escape(f"weights file {path} does not exist")):
        load_model("mobilenet_v2", str(path))


def test_file_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="is not a file"):
        load_model("mobilenet_v2", str(tmp_path))


def test_file_unreadable_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"this is not a torch checkpoint\x00\x01\x02")
    with pytest.raises(WeightsError) as info:
        load_model("mobilenet_v2", str(path))
    message = str(info.value)
    assert message.startswith(f"weights file {path} is not a PyTorch state dict file (torch.load: ")
    assert message.endswith("qtui reads state dicts saved with torch.save(model.state_dict(), path)")


def test_file_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path)  # a whole module: needs unsafe unpickling
    with pytest.raises(WeightsError) as info:
        load_model("mobilenet_v2", str(path))
    message = str(info.value)
    assert message.startswith(
        f"weights file {path} holds pickled Python objects (it contains torch.nn.modules.linear.Linear)"
    )
    assert "weights_only=False" not in message  # never the advice that would let it run code


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_file_without_read_permission(
    tmp_path: Path, mnv2_state: OrderedDict[str, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root (CI, the emulated Pi) reads a mode-0 file all the same: there the open fails the way
    the kernel fails it for anyone else, so the message is checked on every machine."""
    import errno
    import os

    path = tmp_path / "locked.pth"
    torch.save(mnv2_state, path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root: permissions are not enforced
        real_open = os.open

        def denied(name: object, *args: object, **kwargs: object) -> object:
            if Path(str(name)) == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(name))
            return real_open(name, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", denied)
    try:
        with pytest.raises(WeightsError) as info:
            load_model("mobilenet_v2", str(path))
        assert str(info.value).startswith(f"cannot read weights file {path}: Permission denied")
    finally:
        path.chmod(0o600)


def test_file_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], path)
    with pytest.raises(WeightsError, match="holds a list, not a state dict"):
        load_model("mobilenet_v2", str(path))


def test_file_missing_and_unexpected_keys(
    tmp_path: Path, mnv2_state: OrderedDict[str, torch.Tensor]
) -> None:
    state = OrderedDict(mnv2_state)
    del state["classifier.1.weight"], state["classifier.1.bias"]
    state["fc.weight"] = torch.zeros(1000, 1280)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as info:
        load_model("mobilenet_v2", str(path))
    message = str(info.value)
    assert str(path) in message and "MobileNetV2" in message
    assert "2 missing keys (classifier.1.weight, classifier.1.bias)" in message
    assert "1 unexpected keys (fc.weight)" in message


def test_file_shape_mismatch(tmp_path: Path, mnv2_state: OrderedDict[str, torch.Tensor]) -> None:
    state = OrderedDict(mnv2_state)
    state["classifier.1.weight"] = torch.zeros(10, 1280)  # a 10-class fine-tune
    state["classifier.1.bias"] = torch.zeros(10)
    path = tmp_path / "ten.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as info:
        load_model("mobilenet_v2", str(path))
    message = str(info.value)
    assert "2 shape mismatches" in message
    assert "classifier.1.weight: (10, 1280) in the checkpoint, model has (1000, 1280)" in message


def test_file_of_another_model_lists_only_a_few_keys(
    tmp_path: Path, mnv2_state: OrderedDict[str, torch.Tensor]
) -> None:
    path = tmp_path / "mnv2.pth"
    torch.save(mnv2_state, path)
    with pytest.raises(WeightsError) as info:
        load_model("densenet121", str(path))
    message = str(info.value)
    assert re.search(r"\d+ missing keys \(features\.conv0\.weight, .*more\)", message)
    assert message.count("features.") < 20  # first few only


def test_file_and_torchvision_both_given(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="pass one source only"):
        load_model("mobilenet_v2", "torchvision", path=str(tmp_path / "w.pth"))


# ----------------------------------------------------------------------------------------------
# Slow: the large models' real random-weights recipe


@pytest.mark.slow
def test_vgg19_random(cache_dir: Path) -> None:
    a = load_model("vgg19", "random", seed=0)
    b = load_model("vgg19", "random", seed=0)
    assert a.digest == b.digest and not a.trained and a.source == "random"
    assert "has no BatchNorm" in a.provenance and "not trained" in a.provenance
    assert list((cache_dir / "weights").glob("*")) == []  # no BatchNorm: nothing recalibrated
    assert load_model("vgg19", "random", seed=1).digest != a.digest
    x = torch.from_numpy(synthetic_images(2, seed=0))
    with torch.no_grad():
        y = a.module(x)
    assert y.shape == (2, 1000) and torch.isfinite(y).all() and y.std().item() > 0


@pytest.mark.slow
@pytest.mark.fresh_weights
def test_densenet121_random(cache_dir: Path, session_cache: Path) -> None:
    fresh = load_model("densenet121", "random", seed=0)
    assert (cache_dir / "weights" / "densenet121-random-seed0-v1.pt").is_file()
    share_random_weights(cache_dir / "weights" / "densenet121-random-seed0-v1.pt", session_cache)
    events: list[tuple[str, float]] = []
    cached = load_model("densenet121", "random", seed=0, on_progress=lambda s, f: events.append((s, f)))
    assert ("loading cached random weights", 1.0) in events
    assert not any(s == "recalibrating BatchNorm" for s, _ in events)
    assert cached.digest == fresh.digest
    norm5 = cached.module.features.norm5
    assert int(norm5.num_batches_tracked) == 8
    assert not torch.equal(norm5.running_var, torch.ones_like(norm5.running_var))
    x = torch.from_numpy(synthetic_images(4, seed=0))
    with torch.no_grad():
        logits = cached.module(x)
    assert torch.isfinite(logits).all() and 1e-3 < logits.std().item() < 100


@pytest.mark.slow
@pytest.mark.fresh_weights
def test_resnet50_random(cache_dir: Path, session_cache: Path) -> None:
    fresh = load_model("resnet50", "random", seed=0)
    assert (cache_dir / "weights" / "resnet50-random-seed0-v1.pt").is_file()
    share_random_weights(cache_dir / "weights" / "resnet50-random-seed0-v1.pt", session_cache)
    assert "BatchNorm statistics recalibrated" in fresh.provenance and not fresh.trained
    cached = load_model("resnet50", "random", seed=0)
    assert cached.digest == fresh.digest
    last = cached.module.layer4[2].bn3
    assert int(last.num_batches_tracked) == 8
    assert not torch.equal(last.running_var, torch.ones_like(last.running_var))
    x = torch.from_numpy(synthetic_images(4, seed=0))
    with torch.no_grad():
        logits = cached.module(x)
    assert torch.isfinite(logits).all() and 1e-3 < logits.std().item() < 100
