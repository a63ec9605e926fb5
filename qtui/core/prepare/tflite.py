"""TensorFlow Lite artifacts: the torch model converted by litert-torch (same weights, NCHW float32
input kept, fixed batch 1), then quantized by ai-edge-quantizer — FP16 weights, INT8 dynamic
range, or INT8 static calibrated with global min/max.

The converter (litert-torch pulls jax, transformers and litert-converter: ≈0.9 GB, no aarch64
wheel) runs in a child Python process: its progress lines, C++ logs and peak memory (≈3 GB for
VGG-19) stay out of the qtui process, and a cancel kills it at once. The child's progress lines
become `progress()` steps. Where the converter is missing, artifacts prepared elsewhere still run
(`qtui bundle export/import`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from qtui.core.prepare import PrepareError, dist_version, require_available

#: Implemented precisions and what each means here (shown by `qtui doctor` and the TUI).
PRECISION_NOTES: dict[str, str] = {
    "fp32": "litert-torch conversion (same weights, NCHW input), XNNPACK",
    "fp16": "FP16 weights (ai-edge-quantizer), turned into f32 at load: XNNPACK computes in f32 on every CPU",
    "int8_dynamic": "INT8 per-channel weights, activations quantized at run time (dynamic range)",
    "int8_static": "INT8 weights and activations, global min/max calibration, int8 input/output",
}

#: What each precision means for the user's own .tflite file (model source kind "tflite").
SOURCE_PRECISION_NOTES: dict[str, dict[str, str]] = {
    "tflite": {
        "fp32": "the .tflite file as it is, XNNPACK",
        "fp16": "FP16 weights (ai-edge-quantizer on the file), f32 compute on every CPU",
        "int8_dynamic": "INT8 per-channel weights (ai-edge-quantizer on the file), activations quantized at run time",
        "int8_static": "INT8 weights and activations (ai-edge-quantizer on the file), global min/max calibration",
    },
}

#: Bumped whenever the conversion / the recipes below change, so older artifacts are not reused.
CONVERT_VERSION = "1"
RECIPE_VERSION = "2"

CONVERTER_HINT = (
    "prepare on an x86/macOS machine with pip install 'qtui[convert-tflite]' "
    "and move it with `qtui bundle export/import`"
)
_MARK = "\x1fqtui-tflite "


def _present(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _converter_modules(precision: str) -> list[tuple[str, str]]:
    needed = [("torch", "torch"), ("litert_torch", "litert-torch")]
    if precision != "fp32":
        needed.append(("ai_edge_quantizer", "ai-edge-quantizer"))
    return needed


def runtime_unavailable_reason(precision: str) -> str | None:
    """Nothing stops this framework from running an artifact of any precision it offers here."""
    return None


def unavailable_reason(precision: str) -> str | None:
    """Why `precision` cannot be prepared/run on this machine (None: it can)."""
    if precision not in PRECISION_NOTES:
        return f"TensorFlow Lite {precision} is not implemented in this qtui version"
    if not _present("ai_edge_litert"):
        return "ai-edge-litert not installed — pip install 'qtui[tflite]'"
    missing = [dist for module, dist in _converter_modules(precision) if not _present(module)]
    if missing:
        return f"converter not installed here ({', '.join(missing)}) — {CONVERTER_HINT}"
    return None


def source_unavailable_reason(kind: str, precision: str) -> str | None:
    """For the user's own model (`kind` "tflite"): the file is the FP32 artifact as it is, and
    ai-edge-quantizer quantizes it; no torch or litert-torch is needed. Other kinds: as a built-in."""
    if kind != "tflite":
        return unavailable_reason(precision)
    if precision not in PRECISION_NOTES:
        return f"TensorFlow Lite {precision} is not implemented in this qtui version"
    if not _present("ai_edge_litert"):
        return "ai-edge-litert not installed — pip install 'qtui[tflite]'"
    if precision != "fp32" and not _present("ai_edge_quantizer"):
        return (
            "quantizer not installed here (ai-edge-quantizer) — pip install ai-edge-quantizer, or prepare "
            "elsewhere and move the artifact with `qtui bundle export/import`"
        )
    return None


def check_supported(precision: str) -> None:
    require_available(sys.modules[__name__], precision)


def tool_versions() -> dict[str, str | None]:
    return {
        "torch": dist_version("torch"),
        "litert-torch": dist_version("litert-torch"),
        "litert-converter": dist_version("litert-converter"),
        "ai-edge-quantizer": dist_version("ai-edge-quantizer"),
        "convert": CONVERT_VERSION,
        "recipe": RECIPE_VERSION,
    }


# -- parent side ----------------------------------------------------------------------------------


def prepare(
    loaded: Any,
    precision: str,
    out_dir: Path,
    calibration_batches: Callable[[], Any] | None,
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    from qtui.core.model_source_tflite import TfliteModel

    if isinstance(loaded, TfliteModel):
        return _prepare_user_file(loaded, precision, out_dir, calibration_batches, progress)
    check_supported(precision)
    if precision == "int8_static" and calibration_batches is None:
        raise PrepareError("TensorFlow Lite INT8 static needs calibration samples")
    out_path = out_dir / "model.tflite"
    converted = converted_path(loaded)
    reused = converted.exists()
    details: dict[str, Any] = {
        "converter": f"litert-torch {dist_version('litert-torch')}",
        "input": "int8 NCHW (quantized by qtui)" if precision == "int8_static" else "float32 NCHW",
        "batch": "fixed 1 (resized at load where the model allows)",
        "fp32_conversion_reused": reused,
    }
    if precision != "fp32":
        details["quantizer"] = f"ai-edge-quantizer {dist_version('ai-edge-quantizer')}"
    if reused and precision == "fp32":
        progress("reusing the converted TFLite model", None)
        _link_or_copy(converted, out_path)
        return {"file": "model.tflite", "format": "tflite", "details": details}

    work = out_dir / ".work"
    work.mkdir(parents=True, exist_ok=True)
    try:
        fp32 = converted if reused else work / "fp32.tflite"
        if not reused:
            import torch

            progress("handing the model to the TFLite converter", None)
            torch.save(loaded.module, work / "module.pt")
        samples = 0
        # an entry point given other inputs than one image: its samples as they are (`_SampleFeed`)
        own = getattr(loaded, "inputs", None) not in (None, (("input", "float32", (3, 224, 224)),))
        if precision == "int8_static":
            assert calibration_batches is not None
            if own:
                samples = _write_samples(calibration_batches, work / "calibration.npy", progress)
            else:
                samples = _write_calibration(calibration_batches, work / "calibration.f32", progress)
            if samples == 0:
                raise PrepareError("TensorFlow Lite INT8 static: the calibration set is empty")
        job = {
            "module": None if reused else str(work / "module.pt"),
            # the user's entry point: the child imports it so that the module can be unpickled
            "entry": loaded.location.text if hasattr(loaded, "location") else None,
            # the sample inputs to convert with: an entry point's own, else one image
            "inputs": [[n, t, list(d)] for n, t, d in getattr(loaded, "inputs", ())] or None,
            "precision": precision,
            "fp32_path": str(fp32),
            "out_path": str(out_path),
            "calibration": str(work / "calibration.f32") if samples and not own else None,
            "calibration_npy": str(work / "calibration.npy") if samples and own else None,
            "calibration_samples": samples,
            "threads": os.cpu_count() or 1,
        }
        (work / "job.json").write_text(json.dumps(job))
        details.update(_run_child(work, progress))
        if not reused:
            _publish(fp32, converted)
            if precision == "fp32":
                os.replace(fp32, out_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"file": "model.tflite", "format": "tflite", "details": details}


def _prepare_user_file(
    loaded: Any,
    precision: str,
    out_dir: Path,
    calibration_batches: Callable[[], Any] | None,
    progress: Callable[[str, float | None], None],
) -> dict[str, Any]:
    """The user's .tflite file (`model_source_tflite.TfliteModel`): FP32 is the file as it is;
    FP16 and INT8 are ai-edge-quantizer's recipes applied to it in the child process, INT8
    static calibrated on samples of the model's own input shape."""
    reason = source_unavailable_reason("tflite", precision)
    if reason:
        raise PrepareError(reason)
    if precision == "int8_static" and calibration_batches is None:
        raise PrepareError("TensorFlow Lite INT8 static needs calibration samples")
    if precision == "int8_static" and loaded.signature is None:
        raise PrepareError(
            f"model {loaded.name} has no signature, which ai-edge-quantizer's calibration needs; "
            "convert it again with a signature (any converter of the last years writes one)"
        )
    out_path = out_dir / "model.tflite"
    layout = loaded.layout or f"{len(loaded.inputs)} input(s), as the file says"
    details: dict[str, Any] = {
        "converter": f"none: the user's file {loaded.name} as it is",
        "input": (f"int8 {layout} (quantized by qtui)" if precision == "int8_static" else f"float32 {layout}")
        if loaded.is_image else layout,
        "batch": "the file's (resized at load where the model allows)",
    }
    if precision == "fp32":
        progress("copying the model file", None)
        shutil.copyfile(loaded.path, out_path)  # never a hard link: the user may rewrite the file in place
        return {"file": "model.tflite", "format": "tflite", "details": details}
    details["quantizer"] = f"ai-edge-quantizer {dist_version('ai-edge-quantizer')}"
    work = out_dir / ".work"
    work.mkdir(parents=True, exist_ok=True)
    try:
        samples = 0
        if precision == "int8_static":
            assert calibration_batches is not None
            samples = _write_samples(calibration_batches, work / "calibration.npy", progress)
            if samples == 0:
                raise PrepareError("TensorFlow Lite INT8 static: the calibration set is empty")
        job = {
            "module": None,
            "precision": precision,
            "fp32_path": str(loaded.path),
            "out_path": str(out_path),
            "calibration_npy": str(work / "calibration.npy") if samples else None,
            "calibration_samples": samples,
            "threads": os.cpu_count() or 1,
        }
        (work / "job.json").write_text(json.dumps(job))
        details.update(_run_child(work, progress))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"file": "model.tflite", "format": "tflite", "details": details}


def converted_path(loaded: Any) -> Path:
    """Where the FP32 conversion of these weights by these tools is kept: every precision starts
    from it, so preparing a second precision skips the (slow, memory-hungry) conversion."""
    from qtui.core.paths import cache_dir

    spec = {
        "model": loaded.name,
        "weights_digest": loaded.digest,
        **{k: v for k, v in tool_versions().items() if k not in ("ai-edge-quantizer", "recipe")},
    }
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir() / "tflite-converted" / f"{loaded.name}-{key}.tflite"


def _link_or_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # another file system, or no hard links there
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _publish(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    _link_or_copy(src, dst)


def _write_calibration(
    calibration_batches: Callable[[], Any],
    path: Path,
    progress: Callable[[str, float | None], None],
    sample_shape: tuple[int, ...] = (3, 224, 224),
) -> int:
    """Stream the float32 calibration batches (`sample_shape` each: NCHW for the built-ins) to a
    raw file the child maps; returns the count."""
    import numpy as np

    count = 0
    with open(path, "wb") as fh:
        for batch in calibration_batches():
            arr = np.ascontiguousarray(batch, dtype=np.float32)
            if arr.shape[1:] != tuple(sample_shape):
                raise PrepareError(f"calibration batch has shape {arr.shape}, expected (N, {', '.join(map(str, sample_shape))})")
            fh.write(arr.tobytes())
            count += arr.shape[0]
            progress("reading calibration samples", None)
    return count


def _write_samples(
    calibration_batches: Callable[[], Any], path: Path, progress: Callable[[str, float | None], None]
) -> int:
    """The calibration samples of a user's .tflite file as one `.npy` the child maps: of the
    model's own input type and shape, or records of its several inputs (`model_input`)."""
    import numpy as np

    batches = []
    for batch in calibration_batches():
        batches.append(np.asarray(batch))
        progress("reading calibration samples", None)
    if not batches:
        return 0
    data = np.concatenate(batches)
    np.save(path, data, allow_pickle=False)
    return int(data.shape[0])


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONIOENCODING="utf-8",
        COLUMNS="400",  # litert-torch prints through rich: one progress line per line
        TF_CPP_MIN_LOG_LEVEL="2",
        JAX_PLATFORMS="cpu",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


_START = re.compile(r"\[START\]\s+(.*?)\s*$")


def _stage(line: str) -> str | None:
    """litert-torch's `(00:06) [START] LiteRT-Torch Convert > Run FX Passes > …` → `Run FX Passes`."""
    match = _START.search(line)
    if not match:
        return None
    parts = [p.strip() for p in match.group(1).split(" > ")]
    if len(parts) < 2:
        return None
    return parts[1].removesuffix(": serving_default")


def _run_child(work: Path, progress: Callable[[str, float | None], None]) -> dict[str, Any]:
    """Run the converter child; forward its steps to `progress`; kill it if `progress` raises."""
    log_path = work / "converter.log"
    code = "import sys; from qtui.core.prepare.tflite import child_main; sys.exit(child_main(sys.argv[1]))"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(work / "job.json")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=_child_env(),
            start_new_session=True,  # a Ctrl-C reaches qtui, which then ends the child
        )
        assert proc.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()

        def reader() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
            lines.put(None)

        reading = threading.Thread(target=reader, name="qtui-tflite-converter", daemon=True)
        reading.start()
        tail: deque[str] = deque(maxlen=20)
        result: dict[str, Any] | None = None
        step, fraction, last_call = "starting the TFLite converter", None, 0.0
        try:
            progress(step, None)
            last_call = time.monotonic()
            while True:
                try:
                    line = lines.get(timeout=0.5)
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                changed = False
                if line.startswith(_MARK):
                    msg = json.loads(line[len(_MARK) :])
                    if "result" in msg:
                        result = msg["result"]
                    else:
                        changed = (msg["step"], msg.get("fraction")) != (step, fraction)
                        step, fraction = msg["step"], msg.get("fraction")
                elif line:
                    tail.append(line)
                    stage = _stage(line)
                    if stage and f"converting to TFLite: {stage}" != step:
                        step, fraction, changed = f"converting to TFLite: {stage}", None, True
                # every change, and once a second while the child is quiet (so a cancel lands)
                if changed or time.monotonic() - last_call >= 1.0:
                    progress(step, fraction)
                    last_call = time.monotonic()
            proc.wait()
        except BaseException:
            _kill(proc)
            raise
        finally:
            reading.join(timeout=5)
            if not reading.is_alive():
                proc.stdout.close()
    if proc.returncode != 0 or result is None:
        raise PrepareError(_failure_message(proc.returncode, log_path, tail))
    return result


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _failure_message(returncode: int | None, log_path: Path, tail: deque[str]) -> str:
    try:
        err = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        err = []
    # the last line of a Python traceback says what went wrong; a native crash leaves the code only
    cause = next((ln for ln in reversed(err) if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", ln)), None)
    if cause is None and err:
        cause = err[-1]
    if returncode is not None and returncode < 0:
        how = f"was killed by signal {-returncode}" + (" (out of memory?)" if -returncode == 9 else "")
    else:
        how = f"failed (exit code {returncode})"
    return f"the TFLite converter {how}: {cause or (tail[-1] if tail else 'no output')}"[:800]


# -- child side -----------------------------------------------------------------------------------


def _say(**msg: Any) -> None:
    """A message for the parent on the real stdout (third-party prints may be redirected)."""
    out = sys.__stdout__
    assert out is not None
    out.write(_MARK + json.dumps(msg) + "\n")
    out.flush()


def _peak_rss_bytes() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)
    except (ImportError, OSError):
        return None


def child_main(job_path: str) -> int:
    """Entry point of the converter child process (see `_run_child`)."""
    job = json.loads(Path(job_path).read_text())
    warnings.simplefilter("ignore")
    details: dict[str, Any] = {}
    if job["module"]:
        started = time.perf_counter()
        import torch

        if job.get("entry"):  # qtui's own pickle of the user's module names the user's classes
            from qtui.core.model_source_entry import import_entry, locate

            import_entry(locate(job["entry"]))
        module = torch.load(job["module"], map_location="cpu", weights_only=False)
        module.eval()
        _say(step="loading the TFLite converter (litert-torch)")
        import litert_torch
        import numpy as np

        samples = tuple(
            torch.from_numpy(np.zeros((1, *shape), np.dtype(dtype))) for _, dtype, shape in job.get("inputs") or ()
        ) or (torch.zeros(1, 3, 224, 224),)
        edge = litert_torch.convert(module, samples)
        edge.export(job["fp32_path"])
        del edge, module
        details["convert_seconds"] = round(time.perf_counter() - started, 1)
    precision = job["precision"]
    if precision != "fp32":
        started = time.perf_counter()
        _quantize(job)
        details["quantize_seconds"] = round(time.perf_counter() - started, 1)
    if precision == "fp16":
        details["recipe"] = "weight-only float casting to FP16 (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED)"
    elif precision == "int8_dynamic":
        details["recipe"] = "dynamic_wi8_afp32: int8 symmetric per-channel weights, float32 activations"
    elif precision == "int8_static":
        details["recipe"] = (
            "static_wi8_ai8: int8 symmetric per-channel weights, int8 asymmetric per-tensor activations"
        )
        details["calibration"] = f"{job['calibration_samples']} samples, global min/max"
    details["converter_peak_rss_bytes"] = _peak_rss_bytes()
    _say(result=details)
    return 0


def _quantize(job: dict[str, Any]) -> None:
    from ai_edge_quantizer import calibrator, qtyping, quantizer, recipe, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    precision = job["precision"]
    if precision == "fp16":
        manager = recipe_manager.RecipeManager()
        manager.add_weight_only_config(
            regex=".*",
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            num_bits=16,
            algorithm_key=AlgorithmName.FLOAT_CASTING,
        )
        chosen = manager.get_quantization_recipe()
    elif precision == "int8_dynamic":
        chosen = recipe.dynamic_wi8_afp32()
    else:
        chosen = recipe.static_wi8_ai8()
    model_bytes = Path(job["fp32_path"]).read_bytes()
    calibration = None
    sink = io.StringIO()  # the quantizer prints a size report and tqdm bars
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        if precision == "int8_static":
            manager = recipe_manager.RecipeManager()
            manager.load_quantization_recipe(chosen)
            calib = calibrator.Calibrator(
                model_bytes,
                num_threads=int(job["threads"]),
                mode=calibrator.CalibrationMode.CALIBRATION_PROFILER_BASED,
                qsv_update_func=_global_min_max,
            )
            if job.get("calibration_npy"):  # the user's .tflite: its own inputs, by tensor name
                key, names = _signature_inputs(model_bytes)
                feed: Any = _SampleFeed(job["calibration_npy"], names)
            else:
                key, input_name = _signature(model_bytes)
                feed = _CalibrationFeed(
                    job["calibration"], int(job["calibration_samples"]), input_name,
                    tuple(job.get("sample_shape") or (3, 224, 224)),
                )
            calib.calibrate({key: feed}, manager)
            calibration = _finite_ranges(calib.get_model_qsvs())
        _say(step=f"quantizing ({precision})")
        q = quantizer.Quantizer(model_bytes, chosen)
        q.quantize(calibration).export_model(job["out_path"], overwrite=True)


def _signature(model_bytes: bytes) -> tuple[str, str]:
    """The model's signature key and the name of its (single) input."""
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_content=model_bytes).get_signature_list()
    key = next(iter(signatures))
    return key, signatures[key]["inputs"][0]


def _signature_inputs(model_bytes: bytes) -> tuple[str, dict[str, str]]:
    """The model's signature key and its inputs: tensor name (the interpreter's input details,
    what qtui's samples are named after) → the signature's input name."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    key = next(iter(interpreter.get_signature_list()))
    details = interpreter.get_signature_runner(key).get_input_details()
    by_tensor = {str(d["name"]): str(sig) for sig, d in details.items()}
    order = [str(d["name"]) for d in interpreter.get_input_details()]  # forward()'s order
    return key, {name: by_tensor[name] for name in order if name in by_tensor}


def _global_min_max(qsv: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Min/max over the whole calibration set (the quantizer's default is an EMA of per-sample
    ranges, which clips the logits: 8 dB instead of 13 dB SQNR on MobileNetV2)."""
    import numpy as np

    if not qsv:
        return new
    return {"min": np.minimum(qsv["min"], new["min"]), "max": np.maximum(qsv["max"], new["max"])}


def _finite_ranges(qsvs: dict[str, Any]) -> dict[str, Any]:
    """Replace an infinite calibration bound by 0. The only infinities in these CNNs are the
    -inf padding of a padded max-pool (DenseNet-121's `PADV2` before `MAX_POOL_2D`); left in,
    the quantizer gives that tensor and the ones sharing its scale an infinite scale and the
    model aborts at load. Every quantization range includes 0, so this keeps the real values'
    range; the padding then saturates to the range minimum, which after a ReLU is exactly 0."""
    import numpy as np

    fixed = {}
    for name, qsv in qsvs.items():
        if isinstance(qsv, dict) and "min" in qsv and "max" in qsv:
            lo = np.asarray(qsv["min"])
            hi = np.asarray(qsv["max"])
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                finite_hi = np.where(np.isfinite(hi), hi, 0)
                finite_lo = np.where(np.isfinite(lo), lo, 0)
                qsv = {
                    **qsv,
                    "min": np.where(np.isfinite(lo), lo, np.minimum(0, finite_hi)).astype(lo.dtype),
                    "max": np.where(np.isfinite(hi), hi, np.maximum(0, finite_lo)).astype(hi.dtype),
                }
        fixed[name] = qsv
    return fixed


class _CalibrationFeed:
    """The calibration samples one by one (the converted model has batch 1); the quantizer walks
    it once to count, then again to calibrate, which is reported as progress."""

    def __init__(self, path: str, count: int, input_name: str, sample_shape: tuple[int, ...] = (3, 224, 224)) -> None:
        import numpy as np

        self._data = np.memmap(path, dtype=np.float32, mode="r", shape=(count, *sample_shape))
        self._count = count
        self._input = input_name
        self._passes = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import numpy as np

        self._passes += 1
        counting = self._passes == 1
        said = 0.0
        for i in range(self._count):
            if not counting and time.monotonic() - said >= 0.25:  # ≤ 4 progress lines a second
                said = time.monotonic()
                _say(step=f"calibrating INT8 static ({self._count} samples)", fraction=i / self._count)
            yield {self._input: np.array(self._data[i : i + 1])}


class _SampleFeed:
    """The user's .tflite calibration samples (`_write_samples`) one by one, each fed by the
    signature's input names: a record's fields are the model's input tensor names."""

    def __init__(self, path: str, names: dict[str, str]) -> None:
        import numpy as np

        self._data = np.load(path, mmap_mode="r", allow_pickle=False)
        self._names = names
        self._passes = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import numpy as np

        self._passes += 1
        counting = self._passes == 1
        said = 0.0
        count = int(self._data.shape[0])
        fields = self._data.dtype.names
        (only,) = self._names.values() if not fields else ("",)
        if fields and not set(fields) <= set(self._names):  # a converted entry point: in order
            self._names = dict(zip(fields, self._names.values(), strict=False))
        for i in range(count):
            if not counting and time.monotonic() - said >= 0.25:  # ≤ 4 progress lines a second
                said = time.monotonic()
                _say(step=f"calibrating INT8 static ({count} samples)", fraction=i / count)
            row = self._data[i : i + 1]
            if fields:
                yield {self._names.get(f, f): np.ascontiguousarray(row[f]) for f in fields}
            else:
                yield {only: np.array(row)}
