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

from qtui.core.backends import Artifact
from qtui.core.memory import PeakRSS
from qtui.core.paths import cache_dir, clean_stale_staging, remove_own_staging, staging_dir
from qtui.core.prepare.contract import Preparer, ProgressFn
from qtui.core.profile import RunProfile

ARTIFACT_FORMAT = 1

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


def check_supported(module: Any, precision: str, needs: tuple[str, ...] = (), hint: str = "") -> None:
    """Raise PrepareError when `module` cannot prepare `precision` here: its own
    `unavailable_reason`, or a distribution in `needs` missing (`hint` names the fix, `{dist}`
    standing for the missing one)."""
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
    """A stable identity of the weights that needs no torch: seed, published file, or file hash."""
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
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise PrepareError(f"cannot read weights file {path}: {exc}") from None
    return h.hexdigest()


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


def has_artifacts(framework: str, precision: str) -> bool:
    """True when the cache holds an artifact (prepared here or imported) for the pair."""
    return any(
        a.meta.get("framework") == framework and a.meta.get("precision") == precision
        for a in list_artifacts()
    )


def artifacts_root() -> Path:
    root = cache_dir() / "artifacts"
    root.mkdir(parents=True, exist_ok=True)
    return root


def discard_own_staging() -> None:
    """Remove this process's staging folders: for a process about to end while a cancelled
    preparation still works in the background (the next start would remove them anyway)."""
    remove_own_staging(artifacts_root())


def artifact_spec(
    profile: RunProfile, weights_id: str, calibration: str | None
) -> dict[str, Any]:
    """What an artifact is, independent of the tools that made it."""
    return {
        "artifact_format": ARTIFACT_FORMAT,
        "model": profile.model,
        "weights": weights_id,
        "framework": profile.framework,
        "precision": profile.precision,
        "calibration": calibration,
    }


def spec_id(spec: dict[str, Any]) -> str:
    core = {k: spec[k] for k in ("artifact_format", "model", "weights", "framework", "precision", "calibration")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:24]


def artifact_key(
    profile: RunProfile, weights_id: str, tools: dict[str, str | None], calibration: str | None
) -> tuple[str, dict[str, Any]]:
    """Cache key: the artifact's spec plus the versions of the tools that make it here."""
    spec = {**artifact_spec(profile, weights_id, calibration), "tools": tools}
    blob = json.dumps(spec, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24], spec


def list_artifacts() -> list[Artifact]:
    """Every readable artifact in the cache (prepared here or imported from a bundle)."""
    out = []
    for directory in sorted(artifacts_root().iterdir()):
        if directory.is_dir() and not directory.name.startswith("."):
            artifact = _load_artifact(directory)
            if artifact is not None:
                out.append(artifact)
    return out


def _imported_match(sid: str) -> Artifact | None:
    """An artifact imported from another machine with the same spec (newest first)."""
    matches = [
        a for a in list_artifacts()
        if a.meta.get("spec_id") == sid and a.meta.get("imported_from")
    ]
    matches.sort(key=lambda a: a.meta.get("imported_at", ""), reverse=True)
    return matches[0] if matches else None


def _near_misses(spec: dict[str, Any]) -> list[str]:
    """Describe cached artifacts of the same framework/model that differ from `spec`."""
    notes = []
    for a in list_artifacts():
        m = a.meta
        if m.get("framework") != spec["framework"]:
            continue
        diffs = [
            f"{k} {m.get(k)!r} (wanted {spec[k]!r})"
            for k in ("model", "weights", "precision", "calibration", "artifact_format")
            if m.get(k) != spec[k]
        ]
        if diffs and len(diffs) <= 2:
            origin = f" from {m['imported_from']}" if m.get("imported_from") else ""
            notes.append(f"{a.directory.name}{origin}: " + ", ".join(diffs))
    return notes[:5]


def _load_artifact(directory: Path) -> Artifact | None:
    meta_path = directory / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
        path = directory / meta["file"]
    except (OSError, ValueError, KeyError):
        return None
    if not path.exists():
        return None
    return Artifact(directory=directory, path=path, framework=meta["framework"], precision=meta["precision"], meta=meta)


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
    weights_id = weights_identity(profile)
    tools = module.tool_versions()
    calib_id = calibration.identity if (calibration and profile.precision == "int8_static") else None
    key, spec = artifact_key(profile, weights_id, tools, calib_id)
    sid = spec_id(spec)
    final = artifacts_root() / key
    cached = _load_artifact(final)
    if cached is not None:
        return cached, True
    imported = _imported_match(sid)
    if imported is not None:
        return imported, True
    reason = module.unavailable_reason(profile.precision)
    if reason:
        misses = _near_misses(spec)
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
    artifact = _load_artifact(final)
    if artifact is None:  # pragma: no cover - only on a broken file system
        raise PrepareError(f"prepared artifact in {final} is unreadable")
    return artifact, False
