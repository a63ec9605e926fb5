"""PyTorch × every precision on the real framework: each artifact is prepared from the torch
model, saved, loaded by a fresh backend from disk (persistence), predicts, and is compared with
FP32 torch eager on structured synthetic images; the quantized engine/qconfig choice for x86 and
ARM (simulated), and qnnpack actually run on this machine; INT8 static through the real LoadGen
in every scenario; the executed precision read from the loaded module (FP16: f16 compute only
where PyTorch has native f16 convolutions, f32 with upcast weights elsewhere — predicted from the
CPU flags, not asked of torch) and from the TorchScript graph; quiet preparation and loading; a
second prepare is a cache hit; a cancel during calibration leaves nothing behind. VGG-19 and
DenseNet-121 INT8 static are `slow`.

Fidelity floors are keyed by the precision and what executed (compute dtype or quantized engine,
see THRESHOLDS): measured on 256 synthetic images (seed 7; calibration uses the profile's data
seed 0, 16 images) with seeded random weights, each with the measured value and the CPU it was
measured on next to it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qtui.core.backends import Artifact, get_backend, predict_in_chunks
from qtui.core.data import SyntheticDataset
from qtui.core.environment import cpu_flags
from qtui.core.fidelity import fidelity
from qtui.core.prepare import PrepareError
from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile
from qtui.core.runner import prepare_only, run
from tests.conftest import small_profile, torch_reference

ROOT = Path(__file__).resolve().parents[2]
FIDELITY_SEED = 7
FIDELITY_SAMPLES = 256
#: FP32 artifact vs FP32 torch eager, max |Δlogit| (measured 0.0: same kernels, channels_last).
FP32_MAX_ABS = 1e-4

#: Lower bounds on MobileNetV2 per (precision, what executed: compute dtype or quantized engine),
#: with the values measured (256 images; chance level of the centred agreement ≈ 0.01).
THRESHOLDS: dict[tuple[str, str], dict[str, float]] = {
    # fp16 weights upcast, float32 compute (oneDNN f32; AMD Zen 4, no native f16): 37.9 dB,
    # 0.99990, 0.930 — only the weights' f16 rounding is left, the same on every CPU
    ("fp16", "f32"): {"sqnr_db": 35.0, "cosine": 0.9995, "centred_top1_agreement": 0.88},
    # half(): float16 weights and activations, oneDNN f16 kernels (Intel Xeon with avx512_fp16):
    # 32.4 dB, 0.9996, 0.875
    ("fp16", "f16"): {"sqnr_db": 26.0, "cosine": 0.998, "centred_top1_agreement": 0.75},
    # only the classifier is quantized (quantized::linear_dynamic, x86 engine): 35.4 dB, 0.9998,
    # 0.922 on the Xeon and on Zen 4
    ("int8_dynamic", "x86"): {"sqnr_db": 29.0, "cosine": 0.999, "centred_top1_agreement": 0.8},
    # the same per-tensor int8 classifier on qnnpack (ARM): same weights quantization, not measured
    ("int8_dynamic", "qnnpack"): {"sqnr_db": 29.0, "cosine": 0.999, "centred_top1_agreement": 0.8},
    # FX x86 qconfig (7-bit activations, per-channel weights), 16 calibration images: 10.9 dB,
    # 0.9557, 0.094 on the Xeon and on Zen 4 (32 images: 0.125; 64: 0.109)
    ("int8_static", "x86"): {"sqnr_db": 9.0, "cosine": 0.94, "centred_top1_agreement": 0.075},
    # FX qnnpack qconfig (per-tensor weights) with the ReLU6 workaround, run on Zen 4 by
    # test_qnnpack_int8_static_runs_here: 11.7 dB, cosine 0.964, centred 0.19 (64 images)
    ("int8_static", "qnnpack"): {"sqnr_db": 9.0, "cosine": 0.94, "centred_top1_agreement": 0.075},
}

_ARM = platform.machine().lower() in ("aarch64", "arm64")
#: The quantized engine this machine must use: PyTorch's "x86" engine on x86-64, qnnpack on ARM.
EXPECTED_ENGINE = "qnnpack" if _ARM else "x86"
#: The qconfig each engine's artifacts record.
EXPECTED_QCONFIG = {
    "x86": (
        "get_default_qconfig_mapping('x86'): activations HistogramObserver(quint8, per_tensor_affine, "
        "reduce_range=True), weights PerChannelMinMaxObserver(qint8, per_channel_symmetric, reduce_range=False)"
    ),
    "qnnpack": (
        "get_default_qconfig_mapping('qnnpack'): activations HistogramObserver(quint8, per_tensor_affine, "
        "reduce_range=False), weights MinMaxObserver(qint8, per_tensor_symmetric, reduce_range=False)"
    ),
}


def _expected_fp16_compute() -> str:
    """What FP16 must compute in here, from the CPU flags (not from torch): f16 where PyTorch's
    oneDNN has f16 kernels (x86 with avx512_fp16 or avx_ne_convert: "fp16 path needs the cpu
    support avx_ne_convert or avx512_fp16"); f32 with upcast weights elsewhere, ARM included."""
    return "f16" if not _ARM and cpu_flags() & {"avx512_fp16", "avx_ne_convert"} else "f32"


def _profile(precision: str, model: str = "mobilenet_v2", **changes: Any) -> RunProfile:
    return small_profile(framework="torch", precision=precision, model=model, **changes)


_MODELS: dict[str, Any] = {}


def _loaded(name: str) -> Any:
    """The model with seeded random weights (seed 0), loaded once for this module."""
    if name not in _MODELS:
        from qtui.core.models.weights import load_model

        _MODELS[name] = load_model(name, "random", 0)
    return _MODELS[name]


@pytest.fixture(scope="module", autouse=True)
def _forget_models_and_engine() -> Any:
    import torch

    engine = torch.backends.quantized.engine
    yield
    _MODELS.clear()
    torch.backends.quantized.engine = engine


@pytest.fixture(autouse=True)
def _reuse_loaded_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner (prepare_only, run) loads weights through `qtui.core.models.load_model`."""
    import qtui.core.models as models

    real = models.load_model

    def load(name: str, weights: str = "random", seed: int = 0, path: str | None = None, on_progress: Any = None) -> Any:
        if weights == "random" and seed == 0 and path is None:
            return _loaded(name)
        return real(name, weights, seed, path, on_progress)

    monkeypatch.setattr(models, "load_model", load)


def _reference(loaded: Any, count: int) -> tuple[np.ndarray, np.ndarray]:
    return torch_reference(loaded, count, FIDELITY_SEED)


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, np.ndarray]:
    """256 synthetic images and the FP32 torch eager logits on them."""
    return _reference(_loaded("mobilenet_v2"), FIDELITY_SAMPLES)


def _fresh_backend(artifact: Artifact, threads: int = 2) -> Any:
    """A new backend that knows nothing but the artifact on disk."""
    backend = get_backend("torch")
    backend.load(artifact, threads, "Offline")
    return backend


def _predict(artifact: Artifact, images: np.ndarray) -> tuple[np.ndarray, str]:
    backend = _fresh_backend(artifact)
    try:
        logits = np.concatenate([predict_in_chunks(backend, images[i : i + 32]) for i in range(0, len(images), 32)])
        return logits, backend.executed_precision()
    finally:
        backend.close()


def _summary(fid: dict[str, Any]) -> dict[str, Any]:
    keys = ("sqnr_db", "cosine", "centred_top1_agreement", "centred_distinct_classes", "raw_top1_agreement", "max_abs_diff")
    return {k: round(fid[k], 4) if isinstance(fid[k], float) else fid[k] for k in keys}


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8_dynamic", "int8_static"])
def test_precision_persists_loads_and_predicts(precision: str, reference: tuple[np.ndarray, np.ndarray]) -> None:
    images, ref = reference
    started = time.perf_counter()
    artifact, _ = prepare_only(_profile(precision))
    prepared_s = time.perf_counter() - started
    names = sorted(p.name for p in artifact.directory.iterdir())
    assert artifact.precision == precision
    logits, executed = _predict(artifact, images)
    assert logits.shape == (FIDELITY_SAMPLES, 1000) and logits.dtype == np.float32
    assert np.isfinite(logits).all()
    fid = fidelity(ref, logits)
    print(f"\n{precision}: {_summary(fid)} size {artifact.size_bytes} prepare {prepared_s:.1f} s | {executed}")
    # centred agreement is informative: 112 distinct FP32 classes (chance level ≈ 1 %)
    assert fid["centred_distinct_classes"] >= 50

    fp32_size = prepare_only(_profile("fp32"))[0].size_bytes
    details = artifact.meta["details"]
    if precision == "fp32":
        assert names == ["meta.json", "model.pt"] and artifact.meta["format"] == "state_dict"
        assert fid["max_abs_diff"] < FP32_MAX_ABS
        assert np.array_equal(np.argmax(logits, 1), np.argmax(ref, 1))
        assert executed.startswith("eager float32, channels_last"), executed
        return
    computed = _expected_fp16_compute() if precision == "fp16" else EXPECTED_ENGINE
    for key, bound in THRESHOLDS[(precision, computed)].items():
        assert fid[key] >= bound, f"{precision} ({computed}) {key} {fid[key]:.4f} < {bound}"
    if precision == "fp16":
        assert names == ["meta.json", "model.pt"] and details["dtype"] == "float16"
        assert 0.45 * fp32_size < artifact.size_bytes < 0.55 * fp32_size
        dtype = {"f16": "float16", "f32": "float32"}[computed]
        assert executed.startswith(f"fp16 weights, {computed} compute ("), executed
        assert f" · eager {dtype}, channels_last, 2 threads" in executed, executed
        return
    assert names == ["meta.json", "model.ts"] and artifact.meta["format"] == "torchscript"
    assert details["quantized_engine"] == EXPECTED_ENGINE
    assert f"engine {EXPECTED_ENGINE}," in executed, executed
    if precision == "int8_dynamic":
        # only the classifier is quantized: the 52 convolutions stay float
        assert "quantized::linear_dynamic ×1 (int8)" in executed and "float conv ×52" in executed, executed
        assert "classifier" in details["quantized_layers"]
        assert 0.6 * fp32_size < artifact.size_bytes < 0.85 * fp32_size  # 10.7 of 14.2 MB
    else:
        assert "quantized::conv2d ×52" in executed and "quantized::linear ×1" in executed, executed
        assert "float conv ×0" in executed, executed
        assert details["calibration_images"] == 16 and details["frozen"] is True
        assert details["qconfig"] == EXPECTED_QCONFIG[EXPECTED_ENGINE]
        assert details.get("relu6_contiguous_workaround", 0) == (35 if EXPECTED_ENGINE == "qnnpack" else 0)
        assert artifact.size_bytes < 0.3 * fp32_size  # 3.9 of 14.2 MB


def test_second_prepare_is_a_cache_hit() -> None:
    profile = _profile("int8_static")
    first, _ = prepare_only(profile)
    steps: list[str] = []
    second, hit = prepare_only(profile, lambda e: steps.append(getattr(e, "step", "")))
    assert hit is True and second.path == first.path
    assert not any("calibrat" in s or "TorchScript" in s for s in steps), steps
    from qtui.core.prepare import torch as torchprep

    assert first.meta["tools"] == torchprep.tool_versions()
    assert first.meta["tools"]["quantized_engine"] == EXPECTED_ENGINE


def test_inference_runs_without_autograd() -> None:
    import torch

    seen: list[tuple[bool, bool]] = []
    backend = _fresh_backend(prepare_only(_profile("fp32"))[0], threads=1)
    assert torch.get_num_threads() == 1 and "1 threads" in backend.executed_precision()
    assert not any(p.requires_grad for p in backend._module.parameters())
    inner = backend._module

    class Spy(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
            return inner(x)

    backend._module = Spy()
    out = backend.predict(np.zeros((2, 3, 224, 224), np.float32))
    assert out.shape == (2, 1000)
    assert seen == [(True, False)]
    torch.set_num_threads(2)


# -- quantized engine selection ------------------------------------------------------------------


def test_engine_selection_per_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core.prepare import torch as torchprep

    # this machine, this build
    assert torchprep.select_engine() == (EXPECTED_ENGINE, EXPECTED_ENGINE)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert torchprep.engine_family() == "qnnpack"
    assert torchprep.select_engine(["qnnpack", "none"]) == ("qnnpack", "qnnpack")
    assert torchprep.select_engine() == ("qnnpack", "qnnpack")  # x86 and ARM builds have qnnpack
    assert torchprep.tool_versions()["quantized_engine"] == "qnnpack"  # part of the cache key
    assert torchprep.unavailable_reason("int8_static") is None
    with pytest.raises(PrepareError, match="no int8 engine"):
        torchprep.select_engine(["none"])
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    assert torchprep.engine_family() == "qnnpack"

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert torchprep.select_engine(["qnnpack", "onednn", "x86", "fbgemm", "none"]) == ("x86", "x86")
    assert torchprep.select_engine(["qnnpack", "fbgemm", "none"]) == ("fbgemm", "fbgemm")

    monkeypatch.setattr(platform, "machine", lambda: "riscv64")
    assert "riscv64" in (torchprep.unavailable_reason("int8_static") or "")
    assert torchprep.unavailable_reason("fp32") is None and torchprep.unavailable_reason("fp16") is None
    assert "not implemented" in (torchprep.unavailable_reason("int4") or "")


def test_fp16_runs_natively_exactly_where_the_flags_say() -> None:
    """PyTorch's own answer (`torch.ops.mkldnn._is_mkldnn_fp16_supported`) agrees with the CPU
    flags, and the backend reports the dtype the loaded module holds."""
    import torch

    from qtui.core.backends import torch_backend

    assert torch_backend.native_f16() == (_expected_fp16_compute() == "f16")
    assert torch_backend._fp16_compute(torch.float32).startswith("fp16 weights, f32 compute (weights upcast")
    assert torch_backend._fp16_compute(torch.float16).startswith("fp16 weights, f16 compute (oneDNN f16 kernels")
    backend = _fresh_backend(prepare_only(_profile("fp16"))[0], threads=1)
    try:
        held = {p.dtype for p in backend._module.parameters()}
        assert held == {torch.float16 if torch_backend.native_f16() else torch.float32}
        assert backend.predict(np.zeros((1, 3, 224, 224), np.float32)).dtype == np.float32
    finally:
        backend.close()
        torch.set_num_threads(2)


def test_relu6_workaround_fixes_qnnpack_clamp() -> None:
    """PyTorch's QNNPACK clamp (quantized relu6/hardtanh) scrambles channels_last inputs, which
    QNNPACK convolutions produce; `replace_relu6` makes the input contiguous first."""
    import copy

    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from qtui.core.prepare.torch import replace_relu6
    from qtui.core.quiet import quiet

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU6()).eval()
    x = torch.randn(4, 3, 16, 16) * 2
    sqnr = {}
    engine = torch.backends.quantized.engine
    try:
        torch.backends.quantized.engine = "qnnpack"
        for patched in (False, True):
            m = copy.deepcopy(model)
            if patched:
                assert replace_relu6(m) == 1
            with quiet(native=True), torch.no_grad():
                p = prepare_fx(m, get_default_qconfig_mapping("qnnpack"), (x,))
                p(x)
                q = convert_fx(p)
                ref, out = model(x), q(x)
            sqnr[patched] = float(10 * torch.log10((ref**2).sum() / ((ref - out) ** 2).sum()))
    finally:
        torch.backends.quantized.engine = engine
    print("\nqnnpack conv+relu6 SQNR dB (unpatched, patched):", sqnr[False], sqnr[True])
    assert sqnr[True] > 25  # measured 38 dB
    assert sqnr[True] > sqnr[False]  # unpatched measured -1.3 dB with torch 2.13 (a torch bug)


def test_qnnpack_int8_static_runs_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reference: Any) -> None:
    """The ARM recipe (qnnpack engine + qconfig) prepared and run here (on x86 too): the backend
    sets the engine itself when loading, and the ReLU6 workaround keeps MobileNetV2's logits sane."""
    import torch

    engine = torch.backends.quantized.engine
    other = next((e for e in torch.backends.quantized.supported_engines if e not in ("qnnpack", "none")), None)

    from qtui.core.prepare import torch as torchprep

    images, ref = reference[0][:64], reference[1][:64]
    calibration = SyntheticDataset(16, 0)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    produced = torchprep.prepare(
        _loaded("mobilenet_v2"),
        "int8_static",
        tmp_path,
        lambda: iter([calibration.get_batch(list(range(i, i + 8))) for i in (0, 8)]),
        lambda step, fraction: None,
    )
    details = produced["details"]
    assert details["quantized_engine"] == "qnnpack" and "'qnnpack'" in details["qconfig"]
    assert details["relu6_contiguous_workaround"] == 35
    if other is not None:  # x86 builds: the backend must switch to qnnpack by itself
        torch.backends.quantized.engine = other
    artifact = Artifact(tmp_path, tmp_path / produced["file"], "torch", "int8_static", {"model": "mobilenet_v2", **produced})
    try:
        logits, executed = _predict(artifact, images)
        assert torch.backends.quantized.engine == "qnnpack"
    finally:
        torch.backends.quantized.engine = engine
    fid = fidelity(ref, logits)
    print("\nqnnpack int8_static:", _summary(fid), executed)
    assert "engine qnnpack" in executed and "quantized::conv2d ×52" in executed, executed
    # measured 11.7 dB, cosine 0.964 (64 images); without the ReLU6 workaround -4.1 dB, 0.912
    bounds = THRESHOLDS[("int8_static", "qnnpack")]
    assert fid["sqnr_db"] >= bounds["sqnr_db"] and fid["cosine"] >= bounds["cosine"]


def test_missing_engine_is_a_clear_error(tmp_path: Path) -> None:
    from qtui.core.backends import BackendError

    artifact = Artifact(
        tmp_path, tmp_path / "model.ts", "torch", "int8_static",
        {"model": "mobilenet_v2", "format": "torchscript", "details": {"quantized_engine": "nosuchengine"}},
    )
    with pytest.raises(BackendError, match="'nosuchengine' quantized engine"):
        _fresh_backend(artifact)


# -- preparation hygiene -------------------------------------------------------------------------


class _Cancel(Exception):
    pass


def test_cancel_during_calibration_leaves_nothing() -> None:
    from qtui.core.artifacts import artifacts_root
    from qtui.core.prepare import CalibrationSpec, find_or_prepare

    profile = _profile("int8_static", dataset=DatasetSpec(count=32, performance_sample_count=32, calibration_count=24))
    data = SyntheticDataset(32, 0)
    calib = CalibrationSpec(dataset_identity="synthetic:torch-cancel-test", indices=tuple(range(24)))
    before = set(artifacts_root().iterdir())
    seen: list[tuple[str, float | None]] = []

    def progress(step: str, fraction: float | None) -> None:
        seen.append((step, fraction))
        if step == "calibrating" and fraction and fraction > 0:
            raise _Cancel()

    def batches() -> Any:
        for i in range(0, 24, 8):
            yield data.get_batch(list(range(i, i + 8)))

    with pytest.raises(_Cancel):
        find_or_prepare(profile, lambda: _loaded("mobilenet_v2"), calib, batches, progress)
    assert set(artifacts_root().iterdir()) == before
    fractions = [f for s, f in seen if s == "calibrating"]
    assert fractions == [0.0, pytest.approx(8 / 24)]


def test_the_first_torchscript_call_is_the_runs_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """load() runs nothing: the first call of a TorchScript INT8 module is the run's own (the
    warm-up's, with the scenario's batch). A batch-of-1 call in load() made batches of 8 run
    7-8 % slower for the rest of the process (measured alternating call by call with a module
    first called with 8)."""
    import torch

    from qtui.core.runner import prepare_only

    artifact, _ = prepare_only(_profile("int8_static"))
    shapes: list[tuple[int, ...]] = []
    real_load = torch.jit.load

    class Spy:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __call__(self, x: Any) -> Any:
            shapes.append(tuple(x.shape))
            return self.inner(x)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: Spy(real_load(*a, **k)))
    backend = _fresh_backend(artifact)
    try:
        assert shapes == []
        assert backend.predict(np.zeros((8, 3, 224, 224), np.float32)).shape == (8, 1000)
        assert backend.predict(np.zeros((8, 3, 224, 224), np.float32)).shape == (8, 1000)
        assert shapes == [(8, 3, 224, 224)] * 2
    finally:
        backend.close()


def test_a_torchscript_file_that_cannot_run_is_a_backend_error(tmp_path: Path) -> None:
    import torch

    from qtui.core.backends import BackendError

    class Broken(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.view(-1, 11)  # 150528 values per image do not divide by 11

    path = tmp_path / "model.pt"
    torch.jit.save(torch.jit.script(Broken()), str(path))
    artifact = Artifact(tmp_path, path, "torch", "int8_static", {"model": "mobilenet_v2", "format": "torchscript", "details": {}})
    backend = _fresh_backend(artifact)
    with pytest.raises(BackendError, match="PyTorch could not run"):
        backend.predict(np.zeros((1, 3, 224, 224), np.float32))


def test_prepare_and_load_are_quiet(tmp_path: Path) -> None:
    """Each in a fresh process (torch warns once per process, from C++ straight to fd 2):
    preparing int8 artifacts, then loading and running them, print nothing and raise no Python
    warning under Python's default filters."""
    prepare = """
        from qtui.core.data import SyntheticDataset
        from qtui.core.models import load_model
        from qtui.core.prepare import torch as torchprep
        loaded = load_model("mobilenet_v2", "random", 0)
        data = SyntheticDataset(8, 0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for precision in PRECISIONS:
                folder = root / precision
                folder.mkdir()
                produced = torchprep.prepare(loaded, precision, folder, lambda: iter([data.get_batch(list(range(8)))]), lambda s, f: None)
                (folder / "produced.json").write_text(json.dumps(produced))
        """
    load = """
        from qtui.core.backends import Artifact
        from qtui.core.backends.torch_backend import create
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for precision in PRECISIONS:
                folder = root / precision
                produced = json.loads((folder / "produced.json").read_text())
                backend = create()
                backend.load(Artifact(folder, folder / produced["file"], "torch", precision, {"model": "mobilenet_v2", **produced}), 1, "Offline")
                assert backend.predict(np.zeros((2, 3, 224, 224), np.float32)).shape == (2, 1000)
        """
    for body in (prepare, load):
        script = (
            "import json, warnings\nfrom pathlib import Path\nimport numpy as np\n"
            f"root = Path({str(tmp_path)!r})\nPRECISIONS = ('int8_dynamic', 'int8_static')\n"
            + textwrap.dedent(body)
            + "print(json.dumps([str(w.message)[:200] for w in caught]))\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip() == "[]", done.stdout[-3000:]  # no warning, nothing printed
        assert done.stderr.strip() == "", done.stderr[-3000:]


# -- real LoadGen runs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "loadgen"),
    [
        ("Offline", LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64)),
        ("SingleStream", LoadGenSpec(preset="quick", min_duration_ms=0)),
        ("MultiStream", LoadGenSpec(preset="quick", min_duration_ms=0, samples_per_query=2)),
    ],
)
def test_int8_static_loadgen_run(scenario: str, loadgen: LoadGenSpec) -> None:
    profile = _profile("int8_static", scenario=scenario, loadgen=loadgen)
    prepare_only(profile)
    result = run(profile)
    assert result.status == "ok", result.message
    assert result.loadgen["validity"] == "VALID"
    assert result.artifact["cache_hit"] is True and result.artifact["format"] == "torchscript"
    assert result.throughput["samples"] >= 64 and result.throughput["samples_per_s"] > 0
    executed = result.artifact["executed_precision"]
    assert "quantized::conv2d ×52" in executed and f"engine {EXPECTED_ENGINE}," in executed, executed
    print(f"\n{scenario}: {result.loadgen['scenario_metric']} {result.throughput}")


def test_catalogue_entries() -> None:
    from qtui.core.catalog import availability
    from qtui.core.prepare import torch as torchprep

    assert set(torchprep.PRECISION_NOTES) == {"fp32", "fp16", "int8_dynamic", "int8_static"}
    for precision in torchprep.PRECISION_NOTES:
        entry = availability("torch", precision)
        assert entry.available, entry.reason
        assert entry.reason == torchprep.PRECISION_NOTES[precision]
    assert "nn.Linear only" in torchprep.PRECISION_NOTES["int8_dynamic"]
    assert "FP16" in torchprep.PRECISION_NOTES["fp16"]


# -- large models --------------------------------------------------------------------------------

#: Slow models: INT8 static lower bounds on 32 images (measured values in the comments).
SLOW_THRESHOLDS = {
    "vgg19": {"sqnr_db": 20.0, "cosine": 0.99},  # 24.6 dB, 0.9977 (23 distinct classes)
    "densenet121": {"sqnr_db": 15.0, "cosine": 0.98},  # 19.5 dB, 0.9933 (27 distinct classes)
    "resnet50": {"sqnr_db": 11.0, "cosine": 0.96},  # 14.9 dB, 0.9794 (11 distinct classes; Xeon Ice Lake)
}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vgg19", "densenet121", "resnet50"])
def test_large_model_int8_static(model: str) -> None:
    started = time.perf_counter()
    artifact, _ = prepare_only(_profile("int8_static", model=model))
    prepare_s = time.perf_counter() - started
    images, ref = _reference(_loaded(model), 32)
    started = time.perf_counter()
    logits, executed = _predict(artifact, images)
    predict_s = time.perf_counter() - started
    fid = fidelity(ref, logits)
    print(
        f"\n{model}: {_summary(fid)} size {artifact.size_bytes} prepare {prepare_s:.1f} s "
        f"(in cache: {artifact.meta['prepare_seconds']} s, peak RSS {artifact.meta['prepare_peak_rss_bytes']}) "
        f"load+predict 32: {predict_s:.1f} s | {executed}"
    )
    for key, bound in SLOW_THRESHOLDS[model].items():
        assert fid[key] >= bound, f"{model} {key} {fid[key]:.4f} < {bound}"
    assert "quantized::conv2d" in executed and "float conv ×0" in executed, executed
    assert artifact.meta["details"]["frozen"] is True
