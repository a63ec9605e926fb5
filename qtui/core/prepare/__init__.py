"""Preparing artifacts: export and quantize the torch model for a framework and precision, into
a content-addressed cache so that a second run prepares nothing.

The cache key covers the model, the weights' identity, framework, precision, the calibration set
(static quantization only), the versions of the tools that made the artifact and the artifact
format. Each framework has its own module here, imported only when that framework is prepared.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from qtui.core.artifacts import (
    Artifact,
    artifact_key,
    artifacts_root,
    imported_match,
    load_artifact,
    near_misses,
    spec_id,
)
from qtui.core.files import NotRegularFile, open_regular
from qtui.core.memory import PeakRSS
from qtui.core.paths import clean_stale_staging, remove_own_staging, staging_dir
from qtui.core.prepare.contract import Preparer, ProgressFn
from qtui.core.profile import RunProfile


class PrepareError(Exception):
    """Preparation cannot be done here (missing tool, unsupported combination); user-facing."""


@dataclass(frozen=True)
class CalibrationSpec:
    """Which samples calibrate static quantization; `identity` goes into the cache key."""

    dataset_identity: str
    indices: tuple[int, ...]

    @property
    def identity(self) -> str:
        digest = hashlib.sha256(json.dumps(self.indices).encode()).hexdigest()[:12]
        return f"{self.dataset_identity}|n={len(self.indices)}|{digest}"


def require_available(module: Any, precision: str, needs: tuple[str, ...] = (), hint: str = "") -> None:
    """Raise PrepareError when `module` cannot prepare `precision` here: its own
    `unavailable_reason`, or a distribution in `needs` missing (`hint` names the fix, `{dist}`
    standing for the missing one). Each prepare module's `check_supported(precision)` (the
    Preparer protocol) calls it with its own needs."""
    reason = module.unavailable_reason(precision)
    if reason:
        raise PrepareError(reason)
    for dist in needs:
        if dist_version(dist) is None:
            raise PrepareError(hint.format(dist=dist))


def dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def weights_identity(profile: RunProfile) -> str:
    """A stable identity of the weights that needs no torch: seed, published file, or file hash;
    for the user's ONNX or TFLite model the sha256 of the file (and external data) (its weights
    live in it: the profile's weights key does not apply)."""
    from qtui.core.model_source import ModelSourceError, inspect_cached, source_kind

    kind = source_kind(profile.model)
    if kind == "entry":
        from qtui.core.model_input import for_profile
        from qtui.core.model_source_entry import input_specs, inputs_identity
        from qtui.core.model_source_entry import weights_identity as entry_identity

        try:
            given = for_profile(profile)  # the inputs the profile gives it, if any
            identity = entry_identity(profile.model, profile.weights.source, profile.weights.seed)
        except ModelSourceError as exc:
            raise PrepareError(str(exc)) from None
        return identity if given is None else identity + inputs_identity(input_specs(given))
    if kind in ("onnx", "tflite"):
        try:
            return f"{kind}-file:{inspect_cached(profile.model).digest}"
        except ModelSourceError as exc:
            raise PrepareError(str(exc)) from None
    source = profile.weights.source
    if source == "random":
        from qtui.core.models.weights import RANDOM_WEIGHTS_VERSION

        return f"random:seed={profile.weights.seed}:v{RANDOM_WEIGHTS_VERSION}"
    if source == "torchvision":
        return f"torchvision:{profile.model}:IMAGENET1K_V1"
    return f"file:{file_sha256(Path(source).expanduser())}"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open_regular(path) as fh:  # a FIFO or a device would block or never end
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except NotRegularFile as exc:
        raise PrepareError(f"weights path {path} {exc}: weights.source must be 'random', 'torchvision' or a .pth file") from None
    except OSError as exc:
        raise PrepareError(f"cannot read weights file {path}: {exc.strerror or exc}") from None
    return h.hexdigest()


def source_unavailable_reason(module: Any, model: str, precision: str) -> str | None:
    """Why `module` cannot prepare `precision` of `model` here: a prepare module that prepares
    a user's file differently (TFLite quantizes a .tflite without its torch converter) says so
    through an optional `source_unavailable_reason(kind, precision)`; otherwise its
    `unavailable_reason`."""
    from qtui.core.model_source import source_kind

    kind = source_kind(model)
    special = getattr(module, "source_unavailable_reason", None)
    if kind not in ("builtin", "unknown") and special is not None:
        reason: str | None = special(kind, precision)
    else:
        reason = module.unavailable_reason(precision)
    return reason or torch_missing_reason(model)


#: How to get torch, in every message that says a model needs it.
TORCH_HINT = "pip install 'qtui[torch]'"


def torch_missing_reason(model: str | None) -> str | None:
    """Why `model` (None: the built-ins) cannot be prepared here for want of torch: a built-in
    and a PyTorch entry point are torch models; the user's ONNX or TFLite file needs no torch.
    None when torch is installed or not needed."""
    from qtui.core.model_source import source_kind

    kind = source_kind(model) if model else "builtin"
    if kind not in ("builtin", "entry"):
        return None
    try:
        if importlib.util.find_spec("torch") is not None:
            return None
    except (ImportError, ValueError):
        pass
    if kind == "entry":
        from qtui.core.model_source import model_label

        return f"entry point {model_label(model or '')} is a PyTorch model and needs torch, not installed here — {TORCH_HINT}"
    from qtui.core import model_table

    what = model_table.title(model) if model else "the built-in models"
    return (
        f"preparing {what} needs torch, not installed here — {TORCH_HINT}, or prepare elsewhere "
        "and move the artifacts with `qtui bundle export/import`"
    )


def prepare_module(framework: str) -> Preparer:
    """The framework's prepare module (named in the framework table), imported now; it keeps
    the `Preparer` contract."""
    from qtui.core import frameworks

    try:
        name = frameworks.info(framework).prepare_module
    except KeyError:
        name = None
    if name is None or importlib.util.find_spec(name) is None:
        raise PrepareError(f"qtui cannot prepare models for '{framework}' yet")
    module = importlib.import_module(name)
    if not isinstance(module, Preparer):
        raise PrepareError(f"{name} does not keep the Preparer contract (qtui.core.prepare.contract)")
    return module


def discard_own_staging() -> None:
    """Remove this process's staging folders: for a process about to end while a cancelled
    preparation still works in the background (the next start would remove them anyway)."""
    remove_own_staging(artifacts_root())


@dataclass(frozen=True)
class Lookup:
    """What the cache holds for a profile's artifact: the key these local tools would make, its
    spec and spec id, and the artifact found (that key, else one imported with the same spec)."""

    key: str
    spec: dict[str, Any]
    spec_id: str
    artifact: Artifact | None


def lookup(profile: RunProfile, calibration: CalibrationSpec | None, module: Preparer | None = None) -> Lookup:
    """`find_or_prepare`'s cache lookup, without preparing: the artifact these local tools
    would make (exact key), else one imported from another machine with the same spec.
    PrepareError when the weights cannot be identified (a missing weights file)."""
    module = module if module is not None else prepare_module(profile.framework)
    calib_id = calibration.identity if (calibration and profile.precision == "int8_static") else None
    key, spec = artifact_key(profile, weights_identity(profile), module.tool_versions(), calib_id)
    sid = spec_id(spec)
    found = load_artifact(artifacts_root() / key) or imported_match(sid)
    return Lookup(key, spec, sid, found)


def find_or_prepare(
    profile: RunProfile,
    load_model: Callable[[], Any],
    calibration: CalibrationSpec | None,
    calibration_batches: Callable[[], Any] | None,
    progress: ProgressFn,
) -> tuple[Artifact, bool]:
    """The artifact for the profile, from the cache or freshly prepared. Returns (artifact, hit).

    Lookup order: the artifact these local tools would make (exact key); then one imported
    from another machine with the same model, weights, framework, precision and calibration;
    only then prepare here (which needs the converter for this framework).

    Preparing stages in a folder named after this process (`paths.staging_dir`) and renames it
    into place when complete; staging folders left by a killed process are removed first.
    """
    module = prepare_module(profile.framework)
    clean_stale_staging(artifacts_root())
    runtime_reason = module.runtime_unavailable_reason(profile.precision)
    if runtime_reason:
        raise PrepareError(runtime_reason)
    found = lookup(profile, calibration, module)
    if found.artifact is not None:
        return found.artifact, True
    key, spec, sid = found.key, found.spec, found.spec_id
    final = artifacts_root() / key
    reason = source_unavailable_reason(module, profile.model, profile.precision)
    if reason:
        misses = near_misses(spec)
        hint = ("\ncached artifacts that do not fit:\n  " + "\n  ".join(misses)) if misses else ""
        raise PrepareError(f"no prepared artifact for this profile here, and it cannot be prepared here: {reason}{hint}")

    progress("loading weights", None)
    loaded = load_model()
    staging = staging_dir(artifacts_root(), f".{key}.tmp-")
    started = time.perf_counter()
    try:
        with PeakRSS() as peak:
            produced = module.prepare(
                loaded, profile.precision, staging, calibration_batches, progress
            )
        meta = {
            **spec,
            "key": key,
            "spec_id": sid,
            "weights_digest": loaded.digest,
            "weights_provenance": loaded.provenance,
            "file": produced["file"],
            "format": produced.get("format", produced["file"].rsplit(".", 1)[-1]),
            "details": produced.get("details", {}),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "prepare_seconds": round(time.perf_counter() - started, 3),
            # converters that run in a child process report their own peak
            "prepare_peak_rss_bytes": max(
                peak.bytes, int(produced.get("details", {}).get("converter_peak_rss_bytes") or 0)
            ),
            # the process's RSS before preparing (peak - this = what preparing added here)
            "prepare_start_rss_bytes": peak.start_bytes,
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2))
        try:
            os.replace(staging, final)
        except OSError:  # another process finished first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    artifact = load_artifact(final)
    if artifact is None:  # pragma: no cover - only on a broken file system
        raise PrepareError(f"prepared artifact in {final} is unreadable")
    return artifact, False
