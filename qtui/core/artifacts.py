"""Prepared artifacts and their content-addressed cache, below both the prepare modules (which
write artifacts) and the backends (which load them), so neither imports the other.

An artifact is a folder `<cache>/artifacts/<key>/` holding the model file the runtime loads and
`meta.json`. The key hashes what the artifact is (model, weights, framework, precision,
calibration set, artifact format) and the versions of the tools that made it; `spec_id` hashes
what it is alone, so an artifact imported from another machine (other tool versions) still
matches a profile here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtui.core.files import read_regular
from qtui.core.paths import cache_dir
from qtui.core.profile import RunProfile

ARTIFACT_FORMAT = 1


@dataclass(frozen=True)
class Artifact:
    """A prepared model on disk: `path` is the file the runtime loads; `meta` its metadata."""

    directory: Path
    path: Path
    framework: str
    precision: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        """The bytes of the artifact's own files (`artifact_files`): nothing else in its folder."""
        paths = [self.directory / name for name in artifact_files(self.meta)]
        return sum(p.stat().st_size for p in paths if p.is_file())


#: The files an artifact's model file comes with, by the model file's suffix: an OpenVINO IR's
#: weights (`model.bin`) beside its `model.xml`; a user's ONNX model too large to keep its
#: weights inline, its external data (`model.onnx.data`, written only then). A bundle may
#: carry these and nothing else.
COMPANIONS: dict[str, tuple[str, ...]] = {".xml": (".bin",), ".onnx": (".onnx.data",)}


def artifact_files(meta: dict[str, Any]) -> tuple[str, ...]:
    """The names of an artifact's own files in its folder: its metadata's `file` and that
    format's companions (`COMPANIONS`); meta.json aside."""
    file = str(meta.get("file") or "")
    stem, dot, suffix = file.rpartition(".")
    companions = COMPANIONS.get(f".{suffix}", ()) if dot and stem else ()
    return (file, *(stem + c for c in companions)) if file else ()


def has_artifacts(framework: str, precision: str, model: str | None = None) -> bool:
    """True when the cache holds an artifact (prepared here or imported) for the pair: of
    `model` when given (the user's file by its name), else of any built-in model."""
    wanted = model_key(model) if model else None
    return any(
        a.meta.get("framework") == framework and a.meta.get("precision") == precision
        and (a.meta.get("model") == wanted if wanted else ":" not in str(a.meta.get("model")))
        for a in list_artifacts()
    )


def artifacts_root() -> Path:
    root = cache_dir() / "artifacts"
    root.mkdir(parents=True, exist_ok=True)
    return root


def artifact_spec(
    profile: RunProfile, weights_id: str, calibration: str | None
) -> dict[str, Any]:
    """What an artifact is, independent of the tools that made it."""
    return {
        "artifact_format": ARTIFACT_FORMAT,
        "model": model_key(profile.model),
        "weights": weights_id,
        "framework": profile.framework,
        "precision": profile.precision,
        "calibration": calibration,
    }


def model_key(model: str) -> str:
    """The model in an artifact's spec: a built-in's name, or "onnx:<file name>" for the user's
    file (never its folder: the file's sha256 is in the weights identity)."""
    from qtui.core.model_source import source_kind

    kind = source_kind(model)
    return model if kind == "builtin" else f"{kind}:{Path(model).name}"


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
    try:
        entries = sorted(artifacts_root().iterdir())
    except NotADirectoryError:  # `artifacts` is a file: nothing prepared
        return []
    for directory in entries:
        if directory.is_dir() and not directory.name.startswith("."):
            artifact = load_artifact(directory)
            if artifact is not None:
                out.append(artifact)
    return out


def imported_match(sid: str) -> Artifact | None:
    """An artifact imported from another machine with the same spec (newest first)."""
    matches = [
        a for a in list_artifacts()
        if a.meta.get("spec_id") == sid and a.meta.get("imported_from")
    ]
    matches.sort(key=lambda a: a.meta.get("imported_at", ""), reverse=True)
    return matches[0] if matches else None


def near_misses(spec: dict[str, Any]) -> list[str]:
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


#: A `meta.json` larger than this is damaged (qtui writes about 1 KB).
MAX_META_BYTES = 1 << 20


def load_artifact(directory: Path) -> Artifact | None:
    """The artifact in `directory`, or None when its `meta.json` is missing or damaged: not a
    regular file (a FIFO would block, `/dev/zero` never end), over `MAX_META_BYTES`, not JSON, not
    an object whose `file`, `framework` and `precision` are strings naming a file inside it."""
    meta_path = directory / "meta.json"
    try:
        meta = json.loads(read_regular(meta_path, MAX_META_BYTES))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) for k in ("file", "framework", "precision")):
        return None
    name = meta["file"]
    if not name or "/" in name or "\\" in name or "\0" in name or name in (".", "..", "meta.json"):
        return None
    path = directory / name
    try:
        if not path.exists():
            return None
    except OSError:  # a name too long
        return None
    return Artifact(directory=directory, path=path, framework=meta["framework"], precision=meta["precision"], meta=meta)
