"""TensorFlow Lite end to end with the real converter (litert-torch + ai-edge-quantizer) and the
real runtime (ai-edge-litert, XNNPACK): every precision prepares, loads and predicts; FP32 matches
torch; the executed precision (FP16: fp16 weights, f32 compute on every CPU — XNNPACK turns the
weights into f32 and computes in f16 only when forced or asked by the model's metadata); fidelity
of FP16 / INT8 dynamic / INT8 static; fixed-batch models; int8 input/output;
LoadGen runs; the artifact cache (also where the converter is missing); cancel and failures of
the converter child. VGG-19 and DenseNet-121 are `slow`.
"""

from __future__ import annotations

import platform
import re
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qtui.core import events as ev
from qtui.core.backends import Artifact, get_backend, predict_in_chunks
from qtui.core.data import SyntheticDataset
from qtui.core.fidelity import fidelity
from qtui.core.prepare import PrepareError
from qtui.core.prepare import tflite as tfl_prep
from qtui.core.profile import LoadGenSpec, WeightsSpec
from qtui.core.runner import prepare_only, run
from tests.conftest import small_profile

# litert-torch has no aarch64 wheel: only there may the converter be missing (CI is x86_64).
pytestmark = pytest.mark.skipif(
    platform.machine().lower() in ("aarch64", "arm64") and tfl_prep.unavailable_reason("int8_static") is not None,
    reason="TFLite converter (litert-torch) has no wheel for this architecture",
)

PRECISIONS = ("fp32", "fp16", "int8_dynamic", "int8_static")
EVAL_COUNT = 256
EVAL_SEED = 1  # small_profile calibrates on seed 0 samples
#: FP32 against torch on the 256 samples: measured max |Δlogit| 1.0e-5 (logits up to ±1.2).
FP32_ATOL = 5e-5


class Reference:
    def __init__(self) -> None:
        import torch

        from qtui.core.models import load_model

        self.x = SyntheticDataset(EVAL_COUNT, EVAL_SEED).get_batch(list(range(EVAL_COUNT)))
        module = load_model("mobilenet_v2", "random", 0).module
        with torch.inference_mode():
            self.logits = np.concatenate(
                [module(torch.from_numpy(self.x[i : i + 32])).numpy() for i in range(0, EVAL_COUNT, 32)]
            )


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


def _artifact(precision: str, **changes: Any) -> tuple[Artifact, bool]:
    return prepare_only(small_profile(framework="tflite", precision=precision, **changes))


def _backend(artifact: Artifact, threads: int = 2, scenario: str = "Offline") -> Any:
    backend = get_backend("tflite")
    backend.load(artifact, threads, scenario)
    return backend


def _predict_all(backend: Any, x: np.ndarray, batch: int = 8) -> np.ndarray:
    return np.concatenate([predict_in_chunks(backend, x[i : i + batch]) for i in range(0, len(x), batch)])


#: What the runtime must report executing: activation/weight dtypes of the convolutions.
EXPECTED_CONV = {
    "fp32": "CONV_2D float32/float32 ×35",
    "fp16": "CONV_2D float32/float16→float32 ×35",
    "int8_dynamic": "CONV_2D float32/int8 ×35",
    "int8_static": "CONV_2D int8/int8 ×35",
}


@pytest.mark.parametrize("precision", PRECISIONS)
def test_each_precision_prepares_loads_and_predicts(precision: str, reference: Reference) -> None:
    artifact, _ = _artifact(precision)
    assert artifact.meta["format"] == "tflite" and artifact.path.name == "model.tflite"
    assert sorted(p.name for p in artifact.directory.iterdir()) == ["meta.json", "model.tflite"]
    assert artifact.meta["tools"]["litert-torch"] and artifact.meta["tools"]["ai-edge-quantizer"]
    backend = _backend(artifact)
    out = backend.predict(reference.x[:8])
    assert out.shape == (8, 1000) and out.dtype == np.float32 and np.isfinite(out).all()
    assert backend.max_batch is None  # MobileNetV2 exported with batch 1 resizes fine
    executed = backend.executed_precision()
    assert EXPECTED_CONV[precision] in executed, executed
    assert "2 threads" in executed
    if precision == "int8_dynamic":
        # XNNPACK has no hybrid depthwise kernel: those run on TFLite's own kernels
        assert "DEPTHWISE_CONV_2D float32/int8 ×17 on TFLite kernels" in executed, executed
    else:
        assert re.search(r"XNNPACK (\d+)/\1 ops", executed), executed  # everything delegated
    io_dtype = "int8" if precision == "int8_static" else "float32"
    assert f"input {io_dtype}, output {io_dtype}" in executed
    # FP16 computes in f32 on every CPU (x86, ARM with or without FP16 arithmetic alike)
    assert executed.startswith("fp16 weights, f32 compute (XNNPACK") == (precision == "fp16"), executed


def test_fp16_compute_comes_from_the_model(tmp_path: Path) -> None:
    """The FP16 label follows the interpreter's dtypes and the model's reduced-precision
    metadata, the one thing (besides a forced delegate, which qtui never asks for) that lets
    XNNPACK compute in f16: a model carrying that key is not reported as f32 compute."""
    from qtui.core.backends.tflite_backend import fp16_compute

    artifact, _ = _artifact("fp16")
    backend = _backend(artifact, threads=1)
    interpreter = next(iter(backend._interpreters.values()))
    assert fp16_compute(interpreter, str(artifact.path)).startswith("fp16 weights, f32 compute (")
    marked = tmp_path / "marked.tflite"
    marked.write_bytes(artifact.path.read_bytes() + b"reduced_precision_support")
    assert fp16_compute(interpreter, str(marked)).startswith("fp16 weights, f16 or f32 compute: ")
    backend.close()


def test_artifact_sizes_follow_the_precision() -> None:
    size = {p: _artifact(p)[0].size_bytes for p in PRECISIONS}
    # measured: 14.09 MB FP32, 7.19 FP16, 3.90 INT8 dynamic, 4.11 INT8 static
    assert 0.45 < size["fp16"] / size["fp32"] < 0.55
    assert size["int8_dynamic"] / size["fp32"] < 0.32
    assert size["int8_static"] / size["fp32"] < 0.32


def test_fp32_matches_torch(reference: Reference) -> None:
    backend = _backend(_artifact("fp32")[0])
    out = _predict_all(backend, reference.x)
    assert np.max(np.abs(out - reference.logits)) < FP32_ATOL
    assert np.array_equal(out.argmax(1), reference.logits.argmax(1))


#: Lower bounds per (precision, what the convolutions executed: activation/weight dtypes or the
#: FP16 compute precision), measured on the 256 samples (91 distinct centred FP32 classes, chance
#: ≈ 0.01; calibration 16 samples of seed 0) on AMD Zen 4 with XNNPACK:
THRESHOLDS: dict[tuple[str, str], dict[str, float]] = {
    # fp16 weights, f32 compute (XNNPACK f32 kernels, every CPU): 39.6 dB, cosine 0.99992,
    # centred 0.949 — only the weights' f16 rounding is left
    ("fp16", "f32 compute"): {"sqnr_db": 35.0, "cosine": 0.9995, "centred_top1_agreement": 0.90},
    # int8 weights, float32 activations quantized at run time (XNNPACK dynamically quantized
    # convolutions, TFLite hybrid depthwise kernels): 15.1 dB, cosine 0.9807, centred 0.371
    ("int8_dynamic", "float32/int8"): {"sqnr_db": 13.0, "cosine": 0.97, "centred_top1_agreement": 0.30},
    # int8 weights and activations (XNNPACK QS8 kernels): 13.3 dB, cosine 0.9722, centred 0.258
    ("int8_static", "int8/int8"): {"sqnr_db": 11.0, "cosine": 0.96, "centred_top1_agreement": 0.20},
}


def _what_executed(precision: str, executed: str) -> str:
    """The THRESHOLDS key for what the backend reports having run."""
    if precision == "fp16":
        return executed.removeprefix("fp16 weights, ").split(" (")[0]
    match = re.search(r"CONV_2D (\w+/\w+) ×", executed)
    return match.group(1) if match else executed


@pytest.mark.parametrize("precision", ["fp16", "int8_dynamic", "int8_static"])
def test_quantized_fidelity(precision: str, reference: Reference) -> None:
    backend = _backend(_artifact(precision)[0])
    out = _predict_all(backend, reference.x)
    key = _what_executed(precision, backend.executed_precision())
    assert (precision, key) in THRESHOLDS, f"{precision} executed as {key}: not a combination qtui expects"
    fid = fidelity(reference.logits, out)
    assert fid["centred_distinct_classes"] >= 60  # the agreement below is informative
    for name, bound in THRESHOLDS[(precision, key)].items():
        assert fid[name] >= bound, f"{precision} ({key}) {name} {fid[name]:.4f} < {bound}"
    assert fid["sqnr_db"] < 80  # it really is quantized, not the FP32 model again


def test_int8_static_input_and_output_are_quantized_with_the_tensor_parameters(reference: Reference) -> None:
    from ai_edge_litert.interpreter import Interpreter

    artifact, _ = _artifact("int8_static")
    backend = _backend(artifact)
    raw = Interpreter(model_path=str(artifact.path), num_threads=2)
    raw.allocate_tensors()
    inp, outp = raw.get_input_details()[0], raw.get_output_details()[0]
    assert inp["dtype"] == np.int8 and outp["dtype"] == np.int8
    (s_in, z_in), (s_out, z_out) = inp["quantization"], outp["quantization"]
    assert s_in > 0 and s_out > 0

    x = reference.x[:1]
    q = np.clip(np.round(x / s_in) + z_in, -128, 127).astype(np.int8)
    raw.set_tensor(inp["index"], q)
    raw.invoke()
    by_hand = (raw.get_tensor(outp["index"]).astype(np.float32) - z_out) * s_out
    np.testing.assert_allclose(backend.predict(x), by_hand, rtol=0, atol=1e-6)

    # out-of-range inputs saturate at the int8 limits instead of wrapping around
    lo, hi = (-128 - z_in) * s_in, (127 - z_in) * s_in
    wild = reference.x[:2] * 40.0
    assert wild.min() < lo and wild.max() > hi
    np.testing.assert_array_equal(backend.predict(wild), backend.predict(np.clip(wild, lo, hi)))


def _tiny_fixed_batch_model() -> Any:
    """A model whose graph keeps batch 1 (flatten over the batch axis), like litert-torch's
    VGG-19: TFLite cannot resize it, so Offline must run it one sample at a time."""
    import torch

    from qtui.core.models import LoadedModel

    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, stride=8),
        torch.nn.ReLU(),
        torch.nn.Flatten(0),
        torch.nn.Linear(4 * 28 * 28, 1000),
        torch.nn.Unflatten(0, (1, 1000)),
    ).eval()
    return LoadedModel(
        name="tiny_fixed_batch", module=module, digest="tiny-fixed-batch-v1", source="random",
        provenance="tiny fixed-batch test model", trained=False,
    )


def test_fixed_batch_model_runs_offline_batches_of_8(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import qtui.core.models

    tiny = _tiny_fixed_batch_model()
    monkeypatch.setattr(qtui.core.models, "load_model", lambda *a, **k: tiny)
    profile = small_profile(
        framework="tflite", precision="fp32", scenario="Offline", batch_size=8,
        weights=WeightsSpec(seed=4242),  # its own cache entry
        loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=32),
    )
    result = run(profile)
    assert result.status == "ok", result.message
    assert result.artifact["max_batch"] == 1
    assert "fixed batch 1" in result.artifact["executed_precision"]
    assert result.throughput["samples"] == 32

    backend = _backend(Artifact(Path(result.artifact["path"]).parent, Path(result.artifact["path"]), "tflite", "fp32"))
    assert backend.max_batch == 1
    x = SyntheticDataset(8, 3).get_batch(list(range(8)))
    with torch.inference_mode():
        expected = np.concatenate([tiny.module(torch.from_numpy(x[i : i + 1])).numpy() for i in range(8)])
    np.testing.assert_allclose(predict_in_chunks(backend, x), expected, rtol=0, atol=1e-4)
    np.testing.assert_allclose(backend.predict(x), expected, rtol=0, atol=1e-4)  # loops itself too

    # if the load-time check were fooled, the first batch that XNNPACK cannot take falls back
    monkeypatch.setattr(type(backend), "_batch_propagates", lambda self, batch: True)
    fooled = _backend(Artifact(Path(result.artifact["path"]).parent, Path(result.artifact["path"]), "tflite", "fp32"))
    assert fooled.max_batch is None
    np.testing.assert_allclose(fooled.predict(x), expected, rtol=0, atol=1e-4)
    assert fooled.max_batch == 1 and "larger batches looped" in fooled.executed_precision()


@pytest.mark.parametrize(
    ("scenario", "loadgen", "queries", "samples"),
    [
        ("Offline", LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64), 16, 64),
        ("SingleStream", LoadGenSpec(preset="quick", min_duration_ms=0), 64, 64),
        ("MultiStream", LoadGenSpec(preset="quick", min_duration_ms=0, samples_per_query=2), 662, 1324),
    ],
)
def test_int8_static_loadgen_runs(scenario: str, loadgen: LoadGenSpec, queries: int, samples: int) -> None:
    profile = small_profile(framework="tflite", precision="int8_static", scenario=scenario, loadgen=loadgen)
    result = run(profile)
    assert result.status == "ok", result.message
    assert result.loadgen["validity"] == "VALID"
    assert result.throughput["queries"] == queries and result.throughput["samples"] == samples
    assert "CONV_2D int8/int8" in result.artifact["executed_precision"]
    assert result.artifact["runtime_version"].startswith("ai-edge-litert")


def test_cache_hit_and_one_conversion_for_all_precisions() -> None:
    first = {p: _artifact(p) for p in PRECISIONS}
    again = {p: _artifact(p) for p in PRECISIONS}
    for p in PRECISIONS:
        assert again[p][1] is True and again[p][0].path == first[p][0].path
    # every precision starts from the same FP32 conversion, made once in this session's cache
    converted = [p for p in PRECISIONS if not first[p][0].meta["details"]["fp32_conversion_reused"]]
    assert len(converted) == 1, converted

    events: list[Any] = []
    result = run(small_profile(framework="tflite", precision="fp16"), events.append)
    assert result.status == "ok", result.message
    assert result.artifact["cache_hit"] is True
    assert not any(isinstance(e, ev.Preparing) and "TFLite" in e.step for e in events)


def test_missing_converter_still_runs_cached_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core.catalog import availability

    prepared, _ = _artifact("int8_static")
    real = tfl_prep._present
    monkeypatch.setattr(tfl_prep, "_present", lambda m: m not in ("litert_torch", "ai_edge_quantizer") and real(m))
    reason = tfl_prep.unavailable_reason("int8_static")
    assert reason is not None and reason.startswith("converter not installed here")
    assert "pip install 'qtui[convert-tflite]'" in reason and "qtui bundle export/import" in reason
    # the converter is missing, but the cached artifact still runs: the catalog offers it
    offered = availability("tflite", "int8_static")
    assert offered.available and offered.reason == f"runs cached or imported artifacts only: {reason}"

    artifact, hit = _artifact("int8_static")  # the cache is checked before the converter
    assert hit is True and artifact.path == prepared.path
    with pytest.raises(PrepareError, match="cannot be prepared here: converter not installed here"):
        _artifact("int8_static", weights=WeightsSpec(seed=99))


class _Cancel(Exception):
    pass


def test_cancel_kills_the_converter_child(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen)
    tiny = replace(_tiny_fixed_batch_model(), digest="tiny-cancel")  # nothing to reuse

    def progress(step: str, fraction: float | None) -> None:
        if "converter" in step and started:
            raise _Cancel()

    with pytest.raises(_Cancel):
        tfl_prep.prepare(tiny, "fp32", tmp_path, None, progress)
    assert len(started) == 1 and started[0].poll() is not None  # ended, not orphaned
    # killed (SIGKILL) at the cancel, not waited for until its conversion was done (exit 0)
    assert started[0].returncode == -signal.SIGKILL
    assert not (tmp_path / ".work").exists() and not (tmp_path / "model.tflite").exists()


def test_converter_failure_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    monkeypatch.setattr(torch, "save", lambda obj, path: Path(path).write_bytes(b"not a torch file"))
    tiny = replace(_tiny_fixed_batch_model(), digest="tiny-broken")
    with pytest.raises(PrepareError, match=r"TFLite converter failed \(exit code 1\): .*Error"):
        tfl_prep.prepare(tiny, "fp32", tmp_path, None, lambda s, f: None)
    assert not (tmp_path / ".work").exists()


def test_unimplemented_and_missing_calibration(tmp_path: Path) -> None:
    assert "not implemented" in (tfl_prep.unavailable_reason("int4") or "")
    with pytest.raises(PrepareError, match="calibration"):
        tfl_prep.prepare(_tiny_fixed_batch_model(), "int8_static", tmp_path, None, lambda s, f: None)


# -- large models -----------------------------------------------------------------------------


# INT8 static (XNNPACK QS8) against torch on 16 samples (calibration 16 samples of seed 0) —
# measured: VGG-19 18.9 dB, cosine 0.998; DenseNet-121 9.0 dB, cosine 0.9914 (Zen 4; 9.8 dB and
# 0.993 on 32 samples)
# ResNet-50: 11.0 dB, cosine 0.9855 (Xeon Ice Lake, 16 samples)
LARGE_INT8 = {"vgg19": (12.0, 0.99), "densenet121": (7.5, 0.985), "resnet50": (8.5, 0.975)}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vgg19", "densenet121", "resnet50"])
def test_large_models_fp32_and_int8_static(model: str, record_property: Any) -> None:
    import torch

    from qtui.core.memory import PeakRSS
    from qtui.core.models import load_model

    x = SyntheticDataset(16, EVAL_SEED).get_batch(list(range(16)))
    module = load_model(model, "random", 0).module
    with torch.inference_mode():
        ref = module(torch.from_numpy(x)).numpy()
    del module
    for precision in ("fp32", "int8_static"):
        t0 = time.perf_counter()
        artifact, _ = _artifact(precision, model=model)
        prepared_s = time.perf_counter() - t0
        with PeakRSS() as peak:
            t1 = time.perf_counter()
            backend = _backend(artifact)  # DenseNet-121 INT8 used to abort here (infinite scale)
            load_s = time.perf_counter() - t1
            out = _predict_all(backend, x)
        # VGG-19's litert-torch export keeps batch 1 in its flatten; DenseNet-121 resizes
        assert backend.max_batch == (1 if model == "vgg19" else None)
        fid = fidelity(ref, out)
        if precision == "fp32":
            assert fid["max_abs_diff"] < 1e-3, fid
            assert np.array_equal(out.argmax(1), ref.argmax(1))
        else:
            min_sqnr, min_cos = LARGE_INT8[model]
            assert fid["sqnr_db"] > min_sqnr and fid["cosine"] > min_cos, fid
            assert "CONV_2D int8/int8" in backend.executed_precision()
        details = artifact.meta["details"]
        figures = {
            "prepare_s": round(prepared_s, 1),
            "convert_s": details.get("convert_seconds"),
            "quantize_s": details.get("quantize_seconds"),
            "converter_peak_rss_gb": round((details.get("converter_peak_rss_bytes") or 0) / 1e9, 2),
            "qtui_prepare_peak_rss_gb": round(artifact.meta["prepare_peak_rss_bytes"] / 1e9, 2),
            "load_s": round(load_s, 2),
            "runtime_peak_rss_gb": round(peak.bytes / 1e9, 2),
            "size_mb": round(artifact.size_bytes / 1e6, 1),
            "sqnr_db": round(fid["sqnr_db"], 1),
            "cosine": round(fid["cosine"], 4),
            "max_abs_diff": fid["max_abs_diff"],
            "executed": backend.executed_precision(),
        }
        record_property(f"{model}-{precision}", figures)
        print(f"{model} {precision}: {figures}")
        backend.close()
