"""Moving prepared artifacts between machines: a laptop prepares (e.g. TFLite INT8 static, whose
converter has no aarch64 wheel, or OpenVINO INT8 with NNCF) and a Raspberry Pi runs them.

A bundle is a `.tar.gz` holding `bundle.json` (format, qtui version, the exporting machine and
each artifact's metadata) and the artifact folders. Import checks the format, extracts safely,
marks each artifact as imported (so a run on this machine uses it even though its tool versions
differ from what this machine would use), and warns about what will not run here.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import platform
import shutil
import socket
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qtui import __version__
from qtui.core.backends import Artifact
from qtui.core.catalog import framework_installed, install_hint
from qtui.core.prepare import ARTIFACT_FORMAT, artifacts_root, list_artifacts

BUNDLE_FORMAT = 1


class BundleError(Exception):
    """A bundle cannot be written or read; the message is meant for the user."""


@dataclass(frozen=True)
class ImportedArtifact:
    key: str
    description: str
    status: str  # "imported" | "already present"
    warnings: tuple[str, ...] = ()


def describe(meta: dict[str, Any]) -> str:
    calib = " (calibrated)" if meta.get("calibration") else ""
    return f"{meta.get('model')} {meta.get('framework')} {meta.get('precision')}{calib}, weights {meta.get('weights')}"


def select_artifacts(
    model: str | None = None, framework: str | None = None, precision: str | None = None
) -> list[Artifact]:
    return [
        a
        for a in list_artifacts()
        if (model is None or a.meta.get("model") == model)
        and (framework is None or a.meta.get("framework") == framework)
        and (precision is None or a.meta.get("precision") == precision)
    ]


def export_bundle(path: str | Path, artifacts: list[Artifact]) -> Path:
    """Write `artifacts` into a bundle file; refuses an empty selection."""
    if not artifacts:
        raise BundleError("no prepared artifacts match: prepare them first (qtui prepare PROFILE)")
    out = Path(path)
    manifest = {
        "bundle_format": BUNDLE_FORMAT,
        "qtui_version": __version__,
        "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"hostname": socket.gethostname(), "machine": platform.machine(), "system": platform.system()},
        "artifacts": [a.meta for a in artifacts],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("bundle.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for a in artifacts:
            tar.add(a.directory, arcname=f"artifacts/{a.directory.name}")
    tmp.replace(out)
    return out


def _read_manifest(tar: tarfile.TarFile, source: Path) -> dict[str, Any]:
    try:
        member = tar.getmember("bundle.json")
        fh = tar.extractfile(member)
        assert fh is not None
        manifest = json.loads(fh.read())
    except (KeyError, AssertionError, ValueError) as exc:
        raise BundleError(f"{source}: not a qtui bundle (no readable bundle.json: {exc})") from None
    if manifest.get("bundle_format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{source}: bundle format {manifest.get('bundle_format')!r}; this qtui ({__version__}) reads {BUNDLE_FORMAT}"
        )
    return manifest


def _warnings_for(meta: dict[str, Any]) -> list[str]:
    warnings = []
    framework = str(meta.get("framework"))
    if not framework_installed(framework):
        warnings.append(f"{framework} is not installed here: {install_hint(framework)}")
    return warnings


def _safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract regular files and folders below `dest`, nothing else.

    Python ≥ 3.11.4 has `filter="data"` for this; Debian 12 / Raspberry Pi OS Bookworm ships
    3.11.2, whose `extractall` has no `filter` argument (a TypeError there, seen on the emulated
    Pi). Without it, members are checked here: no absolute paths, no `..`, no links or devices.
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    members = tar.getmembers()
    for member in members:
        target = (root / member.name).resolve()
        if member.name.startswith(("/", "\\")) or (target != root and root not in target.parents):
            raise tarfile.TarError(f"member {member.name!r} would land outside the import folder")
        if not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"member {member.name!r} is not a regular file or folder")
    for member in members:
        target = root / member.name
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        if source is None:
            raise tarfile.TarError(f"member {member.name!r} cannot be read")
        with source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)


def import_bundle(path: str | Path) -> list[ImportedArtifact]:
    """Extract a bundle's artifacts into this machine's cache."""
    source = Path(path)
    if not source.is_file():
        raise BundleError(f"{source}: no such bundle file")
    try:
        tar = tarfile.open(source, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{source}: not a qtui bundle ({exc})") from None
    results: list[ImportedArtifact] = []
    with tar, tempfile.TemporaryDirectory(dir=artifacts_root(), prefix=".import-") as tmpdir:
        manifest = _read_manifest(tar, source)
        origin = manifest.get("machine", {})
        origin_text = f"{origin.get('hostname', '?')} ({origin.get('machine', '?')})"
        problems = []
        for meta in manifest.get("artifacts", []):
            if meta.get("artifact_format") != ARTIFACT_FORMAT:
                problems.append(
                    f"{describe(meta)}: artifact format {meta.get('artifact_format')!r}, this qtui reads {ARTIFACT_FORMAT} "
                    "— export it again with a matching qtui version"
                )
        if problems:
            raise BundleError(f"{source}: cannot import:\n  " + "\n  ".join(problems))
        try:
            _safe_extract(tar, Path(tmpdir))
        except (tarfile.TarError, OSError) as exc:
            raise BundleError(f"{source}: damaged bundle ({exc})") from None
        for meta in manifest.get("artifacts", []):
            key = str(meta.get("key"))
            staged = Path(tmpdir) / "artifacts" / key
            if not (staged / str(meta.get("file"))).is_file():
                raise BundleError(f"{source}: artifact {key} is missing its file {meta.get('file')}")
            final = artifacts_root() / key
            warns = tuple(_warnings_for(meta))
            if final.exists():
                results.append(ImportedArtifact(key, describe(meta), "already present", warns))
                continue
            stamped = {
                **meta,
                "imported_from": origin_text,
                "imported_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "exported_by_qtui": manifest.get("qtui_version"),
            }
            (staged / "meta.json").write_text(json.dumps(stamped, indent=2))
            shutil.move(str(staged), final)
            results.append(ImportedArtifact(key, describe(meta), "imported", warns))
    return results
