"""Moving prepared artifacts between machines: a laptop prepares (e.g. TFLite INT8 static, whose
converter has no aarch64 wheel, or OpenVINO INT8 with NNCF) and a Raspberry Pi runs them.

A bundle is a `.tar.gz` holding `bundle.json` (format, qtui version, the exporting machine and
each artifact's metadata) and the artifact folders `artifacts/<key>/`. Import treats the file as
hostile until proven otherwise:

1. every tar header is read first (no data is written): only `bundle.json` and regular files and
   folders below `artifacts/<key>/` are allowed (no links, devices, absolute paths or `..`), and
   the member count, the total unpacked size and the unpack ratio stay within `ImportLimits`;
2. `bundle.json` is validated field by field (types, known model/framework/precision, a `key`
   and `spec_id` that are the hashes of the artifact's own spec, a `file` that is a plain name
   present in its folder), and every member must be one of the files of an artifact the
   manifest lists: its `file`, that format's companion (`artifacts.artifact_files`: OpenVINO's
   `.bin` beside the `.xml`) or meta.json; any other file refuses the bundle;
3. the free space of the cache's file system is checked;
4. only then are the members copied, by hand on every Python (3.11.2 has no extraction
   filters), into a staging folder inside the cache, counting bytes again as they are copied
   (headers can lie), and each artifact folder is moved into place whole. An artifact whose key
   is already in the cache is not copied but hashed: other bytes under the same key refuse the
   bundle (the cache's copy is kept; nothing is imported), the same bytes are "already present".

Export writes each artifact's own files (never the rest of its folder), as the bytes of regular
files: a file in the cache that is a symbolic link is exported as the file it points to.

Any failure is a `BundleError` with a one-line message; the staging folder is removed and no
artifact is added. Imported artifacts are marked as imported (so a run here uses them although
their tool versions differ from what this machine would use), with warnings about what will not
run here. Text taken from a bundle is stripped of terminal control sequences before display.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import platform
import re
import shutil
import socket
import stat
import tarfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from qtui import __version__
from qtui.core import model_table
from qtui.core.artifacts import (
    ARTIFACT_FORMAT,
    Artifact,
    artifact_files,
    artifacts_root,
    list_artifacts,
    model_key,
    spec_id,
)
from qtui.core.catalog import framework_installed, install_hint
from qtui.core.files import NotRegularFile, open_regular
from qtui.core.model_source import source_kind
from qtui.core.paths import staging_dir
from qtui.core.profile import FRAMEWORKS, MODELS, PRECISIONS
from qtui.core.text import is_plain, one_line

BUNDLE_FORMAT = 1
MANIFEST_NAME = "bundle.json"
ARTIFACTS_DIR = "artifacts"
MAX_BYTES_ENV = "QTUI_BUNDLE_MAX_BYTES"

# Errors that reading a damaged .tar.gz raises: a truncated gzip stream is an EOFError (click
# turns an uncaught one into a bare "Aborted!"), bad deflate data a zlib.error, a bad CRC or
# header a gzip.BadGzipFile (an OSError), a bad tar header a tarfile.ReadError.
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)

_KEY_RE = re.compile(r"[0-9a-f]{24}")
# one path component of a file inside an artifact folder: no separators, no control characters
_PART_RE = re.compile(r"[A-Za-z0-9._+-]{1,255}")
# the weights identity of a user model's artifact (`prepare.weights_identity`): the sha256 of
# the ONNX/TFLite file, or of an entry point's code and then its weights (seed or file digest)
_USER_WEIGHTS_RE = {
    "onnx": re.compile(r"onnx-file:[0-9a-f]{64}"),
    "tflite": re.compile(r"tflite-file:[0-9a-f]{64}"),
    "entry": re.compile(r"entry:[0-9a-f]{64}:(factory:seed=-?[0-9]{1,20}|file:[0-9a-f]{64})"),
}
_SPEC_FIELDS = ("artifact_format", "model", "weights", "framework", "precision", "calibration")


class BundleError(Exception):
    """A bundle cannot be written or read; the message (one line) is meant for the user."""


@dataclass(frozen=True)
class ImportLimits:
    """What a bundle may unpack to. The default total fits every artifact of the three models
    (VGG-19 FP32 alone is ~575 MB); `QTUI_BUNDLE_MAX_BYTES` overrides it (e.g. `8G`)."""

    max_total_bytes: int = 4 << 30
    max_members: int = 10_000
    # unpacked/packed size; real artifacts (weights) pack about 1:1, a bomb 1000:1
    max_ratio: float = 100.0
    # below this unpacked total the ratio is not checked (tiny files pad to 512-byte blocks)
    ratio_floor_bytes: int = 64 << 20
    max_manifest_bytes: int = 16 << 20
    # what may follow the archive's end marker: tar pads to its record size (10 KB by default,
    # 1 MB with `tar -b 2048`); anything beyond is data nobody declared (a bomb of zeros)
    max_trailing_bytes: int = 1 << 20
    # free space kept on the cache's file system beyond the unpacked size
    free_headroom_bytes: int = 64 << 20


DEFAULT_LIMITS = ImportLimits()


@dataclass(frozen=True)
class ImportedArtifact:
    key: str
    description: str
    status: str  # "imported" | "already present"
    warnings: tuple[str, ...] = ()


def _show(value: object, limit: int = 60) -> str:
    """A value from a bundle inside an error message: repr (escapes control characters), cut."""
    try:
        text = repr(value)
    except RecursionError:  # JSON nested close to the parser's limit
        return "(a deeply nested value)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field_text(value: object) -> str:
    if isinstance(value, str | int | float | None):
        return one_line(value)[:200]
    return _show(value)


def describe(meta: dict[str, Any]) -> str:
    """One line naming an artifact (model, framework, precision, weights), printable as is."""
    calib = " (calibrated)" if meta.get("calibration") else ""
    model, framework, precision, weights = (
        _field_text(meta.get(k)) for k in ("model", "framework", "precision", "weights")
    )
    return f"{model} {framework} {precision}{calib}, weights {weights}"


def artifact_key_of(meta: dict[str, Any]) -> str:
    """The cache key an artifact with this metadata has: the hash of its spec and tool versions,
    as `qtui.core.prepare.artifact_key` computes it when preparing."""
    spec = {**{k: meta[k] for k in _SPEC_FIELDS}, "tools": meta["tools"]}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:24]


def select_artifacts(
    model: str | None = None, framework: str | None = None, precision: str | None = None
) -> list[Artifact]:
    """The cached artifacts matching each filter given. `model` is a built-in's name or the
    user's model as a profile names it (a file, an entry point): then the artifacts of that
    file's bytes (or that code) only, not those of another file with the same name.
    ModelSourceError when the user's file cannot be read."""
    key, weights = _model_filter(model) if model is not None else (None, "")
    return [
        a
        for a in list_artifacts()
        if (key is None or a.meta.get("model") == key)
        and str(a.meta.get("weights", "")).startswith(weights)
        and (framework is None or a.meta.get("framework") == framework)
        and (precision is None or a.meta.get("precision") == precision)
    ]


def _model_filter(model: str) -> tuple[str, str]:
    """(the model in artifact specs, what their weights identity starts with) for `model`."""
    kind = source_kind(model)
    if kind in ("onnx", "tflite"):
        from qtui.core.model_source import inspect_cached

        return model_key(model), f"{kind}-file:{inspect_cached(model).digest}"
    if kind == "entry":
        from qtui.core.model_source_entry import locate, source_digest

        return model_key(model), f"entry:{source_digest(locate(model))}:"
    return model, ""


class BundleWriteError(BundleError):
    """The bundle file could not be written (a full disk, a folder that takes no files)."""


def export_bundle(path: str | Path, artifacts: list[Artifact]) -> Path:
    """Write `artifacts` into a bundle file; refuses an empty selection. A failed write (a full
    disk, `/proc`) is a BundleWriteError, and neither it nor an interrupt leaves the temporary
    file behind."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        return _write_bundle(out, artifacts)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise BundleWriteError(f"cannot write {out}: {one_line(exc.strerror or exc)}") from None
        raise


def _write_bundle(path: str | Path, artifacts: list[Artifact]) -> Path:
    """`export_bundle`'s work: the file is written as `.<name>.tmp`, then renamed."""
    if not artifacts:
        raise BundleError("no prepared artifacts match: prepare them first (qtui prepare PROFILE)")
    out = Path(path)
    sources = [(a, _export_files(a)) for a in artifacts]  # refused before anything is written
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
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for a, files in sources:
            base = f"{ARTIFACTS_DIR}/{a.directory.name}"
            folder_info = tarfile.TarInfo(base)
            folder_info.type = tarfile.DIRTYPE
            folder_info.mode = 0o755
            tar.addfile(folder_info)
            for name in files:
                _add_file(tar, a.directory / name, f"{base}/{name}")
    tmp.replace(out)
    return out


def _export_files(artifact: Artifact) -> list[str]:
    """The names of `artifact`'s files to export (meta.json, its file, a companion that is
    there), each checked to be a regular file once links are followed; BundleError otherwise."""
    names = ["meta.json", *artifact_files(artifact.meta)]
    out = []
    for name in names:
        path = artifact.directory / name
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if name == names[1] or name == "meta.json":
                raise BundleError(f"cannot export {path}: it is missing") from None
            continue  # an optional companion
        except OSError as exc:
            raise BundleError(f"cannot export {path}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"cannot export {path}: {name} is not a regular file")
        out.append(name)
    return out


def _add_file(tar: tarfile.TarFile, path: Path, arcname: str) -> None:
    """`path`'s bytes (a link followed) as a plain regular member: no link, owner or mode of
    this machine goes into the bundle."""
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise BundleError(f"cannot export {path}: it is not a regular file")
            member = tarfile.TarInfo(arcname)
            member.size = info.st_size
            member.mode = 0o644
            member.mtime = int(info.st_mtime)
            tar.addfile(member, fh)
    except OSError as exc:
        raise BundleError(f"cannot export {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------
# limits


def _parse_bytes(raw: str) -> int | None:
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(i?b)?\s*", raw, re.IGNORECASE)
    if not match:
        return None
    return int(match.group(1)) << (10 * " kmgt".index(match.group(2).lower() or " "))


def import_limits() -> ImportLimits:
    """`DEFAULT_LIMITS`, with the total size from `QTUI_BUNDLE_MAX_BYTES` when set."""
    raw = os.environ.get(MAX_BYTES_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_LIMITS
    value = _parse_bytes(raw)
    if value is None or value <= 0:
        raise BundleError(f"{MAX_BYTES_ENV}={_show(raw)}: expected a size in bytes such as 4294967296 or 4G")
    return replace(DEFAULT_LIMITS, max_total_bytes=value)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


# ---------------------------------------------------------------------------------------------
# reading the tar headers (nothing is written)


def _split_member(name: str) -> tuple[str, ...] | None:
    """The path components of a member name when it is a relative path of plain components."""
    if not name or name.startswith(("/", "\\")) or "\\" in name:
        return None
    parts = tuple(name.split("/"))
    if any(p in ("", ".", "..") or not _PART_RE.fullmatch(p) for p in parts):
        return None
    return parts


def _scan_headers(tar: tarfile.TarFile, source: Path, limits: ImportLimits) -> list[tarfile.TarInfo]:
    """Every member's header, read (and the gzip checksum verified) before anything is
    extracted; stops as soon as the member count, the unpacked size or the unpack ratio is
    over its limit, so a bomb is never unpacked."""
    packed = max(source.stat().st_size, 1)
    ratio_bound = max(limits.ratio_floor_bytes, int(limits.max_ratio * packed))
    members: list[tarfile.TarInfo] = []
    seen: set[str] = set()
    total = 0
    while True:
        try:
            member = tar.next()
        except _READ_ERRORS as exc:
            raise _damaged(source, exc) from None
        if member is None:
            break
        members.append(member)
        if len(members) > limits.max_members:
            raise BundleError(f"{source}: refused: more than {limits.max_members} members in the bundle")
        if member.name in seen:
            raise BundleError(f"{source}: refused: member {_show(member.name)} appears twice")
        seen.add(member.name)
        if member.isreg():
            if member.size < 0:
                raise _damaged(source, f"member {_show(member.name)} has a negative size")
            total += member.size
            if total > ratio_bound:
                raise BundleError(
                    f"{source}: refused: unpacks to more than {limits.max_ratio:g} times its size "
                    f"({_mb(total)} from {_mb(packed)}), which real artifacts never do"
                )
            if total > limits.max_total_bytes:
                raise BundleError(
                    f"{source}: refused: unpacks to more than {_mb(limits.max_total_bytes)} "
                    f"(set {MAX_BYTES_ENV} to allow more)"
                )
    _verify_checksum(tar, source, limits)
    return members


def _verify_checksum(tar: tarfile.TarFile, source: Path, limits: ImportLimits = DEFAULT_LIMITS) -> None:
    """Read the compressed stream to its end: gzip checks its CRC only there, and tarfile stops
    reading at the end of the last member, so flipped bytes inside a file would pass unseen.
    What follows the archive's end is counted as it is inflated: beyond
    `limits.max_trailing_bytes` (tar's padding is far less) the bundle is refused, so a few MB of
    gzip that inflate to gigabytes of zeros after the last member are never inflated whole."""
    fileobj: Any = tar.fileobj
    inflated = 0
    try:
        # members not extracted (already present) lie between here and the end marker
        allowed = max(0, tar.offset - fileobj.tell()) + limits.max_trailing_bytes
        while chunk := fileobj.read(64 << 10):
            inflated += len(chunk)
            if inflated > allowed:
                raise BundleError(
                    f"{source}: refused: more than {_mb(limits.max_trailing_bytes)} of data after the "
                    f"end of the archive, which no tar writer pads with"
                )
    except _READ_ERRORS as exc:
        raise _damaged(source, exc) from None


def _read_manifest(
    tar: tarfile.TarFile, members: list[tarfile.TarInfo], source: Path, limits: ImportLimits
) -> Any:
    member = next((m for m in members if m.name == MANIFEST_NAME), None)
    if member is None:
        raise BundleError(f"{source}: not a qtui bundle (it has no {MANIFEST_NAME})")
    if not member.isreg():
        raise BundleError(f"{source}: not a qtui bundle ({MANIFEST_NAME} is not a file)")
    if member.size > limits.max_manifest_bytes:
        raise BundleError(f"{source}: refused: {MANIFEST_NAME} is larger than {_mb(limits.max_manifest_bytes)}")
    try:
        fh = tar.extractfile(member)
        assert fh is not None  # a regular file always has a reader
        with fh:
            data = fh.read(limits.max_manifest_bytes + 1)
    except _READ_ERRORS as exc:
        raise _damaged(source, exc) from None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = one_line(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise BundleError(f"{source}: not a qtui bundle ({MANIFEST_NAME} is not valid JSON: {reason})") from None


# ---------------------------------------------------------------------------------------------
# validating bundle.json


class _Manifest:
    """Checks one manifest; `fail` raises with the file and field named."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> BundleError:
        return BundleError(f"{self.source}: {MANIFEST_NAME}: {where} {problem}")

    def text(self, obj: dict[str, Any], field: str, where: str, *, optional: bool = False, none_ok: bool = False, max_len: int = 4096) -> None:
        if field not in obj:
            if optional:
                return
            raise self.fail(f"{where}.{field}", "is missing")
        value = obj[field]
        if value is None and none_ok:
            return
        if not isinstance(value, str):
            raise self.fail(f"{where}.{field}", f"must be a string{' or null' if none_ok else ''}, got {_show(value)}")
        if len(value) > max_len:
            raise self.fail(f"{where}.{field}", f"is longer than {max_len} characters")

    def identity(self, obj: dict[str, Any], field: str, where: str, *, none_ok: bool = False) -> None:
        """A string that is part of the artifact's identity: printable, one line."""
        self.text(obj, field, where, none_ok=none_ok, max_len=1024)
        value = obj[field]
        if isinstance(value, str) and (not value or not is_plain(value)):
            raise self.fail(f"{where}.{field}", f"must be a non-empty printable string, got {_show(value)}")

    def integer(self, obj: dict[str, Any], field: str, where: str) -> None:
        if field in obj and obj[field] is not None:
            value = obj[field]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise self.fail(f"{where}.{field}", f"must be a whole number ≥ 0, got {_show(value)}")

    def number(self, obj: dict[str, Any], field: str, where: str) -> None:
        if field in obj and obj[field] is not None:
            value = obj[field]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0 or value == float("inf"):
                raise self.fail(f"{where}.{field}", f"must be a number ≥ 0, got {_show(value)}")

    def choice(self, obj: dict[str, Any], field: str, where: str, allowed: tuple[str, ...]) -> None:
        if field not in obj:
            raise self.fail(f"{where}.{field}", f"is missing (one of {', '.join(allowed)})")
        if obj[field] not in allowed or not isinstance(obj[field], str):
            raise self.fail(f"{where}.{field}", f"must be one of {', '.join(allowed)}; got {_show(obj[field])}")

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, got {_show(value)}")
        return value

    def top(self, manifest: Any, limits: ImportLimits) -> list[dict[str, Any]]:
        """The manifest's artifact entries, after every field of the manifest was checked."""
        if not isinstance(manifest, dict):
            raise BundleError(f"{self.source}: not a qtui bundle ({MANIFEST_NAME} is not a JSON object)")
        fmt = manifest.get("bundle_format")
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt != BUNDLE_FORMAT:
            raise BundleError(
                f"{self.source}: bundle format {_show(fmt)}; this qtui ({__version__}) reads {BUNDLE_FORMAT}"
            )
        self.text(manifest, "qtui_version", "bundle", optional=True, max_len=100)
        self.text(manifest, "created", "bundle", optional=True, max_len=100)
        if "machine" in manifest:
            machine = self.obj(manifest["machine"], "machine")
            for field in ("hostname", "machine", "system"):
                self.text(machine, field, "machine", optional=True, none_ok=True, max_len=255)
        entries = manifest.get("artifacts")
        if not isinstance(entries, list):
            raise self.fail("artifacts", f"must be a list of artifacts, got {_show(entries)}")
        if not entries:
            raise self.fail("artifacts", "is empty: the bundle holds no artifacts")
        if len(entries) > limits.max_members:
            raise self.fail("artifacts", f"lists more than {limits.max_members} artifacts")
        metas = [self.obj(e, f"artifacts[{i}]") for i, e in enumerate(entries)]
        # a format mismatch is the likely problem with an honest bundle: report it first, for all
        stale = [
            f"{describe(m)}: artifact format {_show(m.get('artifact_format'))}, this qtui reads {ARTIFACT_FORMAT}"
            for m in metas
            if type(m.get("artifact_format")) is not int or m.get("artifact_format") != ARTIFACT_FORMAT
        ]
        if stale:
            raise BundleError(
                f"{self.source}: cannot import: " + "; ".join(stale) + " (export it again with a matching qtui version)"
            )
        keys: set[str] = set()
        for i, meta in enumerate(metas):
            self.artifact(meta, f"artifacts[{i}]")
            if meta["key"] in keys:
                raise self.fail(f"artifacts[{i}].key", f"{meta['key']} is listed twice")
            keys.add(meta["key"])
        return metas

    def model(self, meta: dict[str, Any], where: str) -> str:
        """A built-in's name, or a user model as `artifacts.model_key` names it: its kind and
        file name or entry point without folders (`onnx:net.onnx`, `tflite:net.tflite`,
        `entry:pkg.mod:build`); returns the source kind ("builtin", "onnx", ...)."""
        value = meta.get("model")
        kind, sep, name = value.partition(":") if isinstance(value, str) else ("", "", "")
        if not sep or kind not in _USER_WEIGHTS_RE:
            self.choice(meta, "model", where, MODELS)
            return "builtin"
        assert isinstance(value, str)
        if (
            len(value) > 300 or not is_plain(name) or "/" in name or "\\" in name
            or source_kind(name) != kind or model_key(name) != value
        ):
            example = {"onnx": "onnx:<file name>.onnx", "tflite": "tflite:<file name>.tflite", "entry": "entry:<module>:<factory>"}[kind]
            raise self.fail(f"{where}.model", f"must be a built-in name or {example} (a name without folders), got {_show(value)}")
        return kind

    def user_model(self, meta: dict[str, Any], where: str, kind: str) -> None:
        """A user model's artifact: its weights are the file's (or code's) digest, and its
        framework × precision a cell that kind of source fills (`model_table.SOURCES`)."""
        if not _USER_WEIGHTS_RE[kind].fullmatch(meta["weights"]):
            raise self.fail(
                f"{where}.weights",
                f"must be the {kind} model's digest ({_USER_WEIGHTS_RE[kind].pattern}), got {_show(meta['weights'])}",
            )
        reason = model_table.source_kind(kind).reason(meta["framework"], meta["precision"])
        if reason:
            raise self.fail(f"{where}", f"{meta['framework']} {meta['precision']} of {_show(meta['model'])}: {reason}")

    def artifact(self, meta: dict[str, Any], where: str) -> None:
        kind = self.model(meta, where)
        self.choice(meta, "framework", where, FRAMEWORKS)
        self.choice(meta, "precision", where, PRECISIONS)
        self.identity(meta, "weights", where)
        if kind != "builtin":
            self.user_model(meta, where, kind)
        if "calibration" not in meta:
            raise self.fail(f"{where}.calibration", "is missing (null when not calibrated)")
        self.identity(meta, "calibration", where, none_ok=True)
        tools = self.obj(meta.get("tools"), f"{where}.tools")
        for name, version in tools.items():
            if not isinstance(version, str | None) or not is_plain(name) or (version and not is_plain(version)):
                raise self.fail(f"{where}.tools", f"must map tool names to version strings, got {_show({name: version})}")
        for field in ("key", "spec_id"):
            self.text(meta, field, where)
            if not _KEY_RE.fullmatch(meta[field]):
                raise self.fail(f"{where}.{field}", f"must be 24 lowercase hex digits, got {_show(meta[field])}")
        if meta["spec_id"] != spec_id(meta):
            raise self.fail(f"{where}.spec_id", f"{meta['spec_id']} does not match the artifact's model/weights/framework/precision/calibration")
        if meta["key"] != artifact_key_of(meta):
            raise self.fail(f"{where}.key", f"{meta['key']} does not match the artifact's spec and tool versions")
        self.text(meta, "file", where, max_len=255)
        file = meta["file"]
        if _split_member(file) is None or "/" in file or file == "meta.json":
            raise self.fail(f"{where}.file", f"must be a plain file name inside the artifact's folder, got {_show(file)}")
        self.text(meta, "format", where, optional=True, max_len=100)
        if "details" in meta and meta["details"] is not None:
            details = self.obj(meta["details"], f"{where}.details")
            self.text(details, "quantized_engine", f"{where}.details", optional=True, none_ok=True, max_len=100)
            self.text(details, "model", f"{where}.details", optional=True, none_ok=True, max_len=100)
            if details.get("made_for") is not None:  # the architecture it was made for: shown by `fleet study`
                self.identity(details, "made_for", f"{where}.details")
        for field in ("weights_digest", "weights_provenance", "created"):
            self.text(meta, field, where, optional=True, none_ok=True)
        self.number(meta, "prepare_seconds", where)
        for field in ("prepare_peak_rss_bytes", "prepare_start_rss_bytes"):
            self.integer(meta, field, where)


def _check_members(members: list[tarfile.TarInfo], metas: list[dict[str, Any]], source: Path) -> None:
    """Every member is bundle.json, the artifacts folder, or a regular file or folder inside the
    folder of a listed artifact, by a plain relative path; every artifact has its file."""
    keys = {m["key"] for m in metas}
    own = {m["key"]: (*artifact_files(m), "meta.json") for m in metas}
    for member in members:
        name = member.name
        parts = _split_member(name)
        if parts is None:
            raise BundleError(f"{source}: refused: member {_show(name)} is not a plain relative path inside the bundle")
        if member.issym() or member.islnk():
            raise BundleError(f"{source}: refused: member {_show(name)} is a link")
        if member.issparse() or not (member.isreg() or member.isdir()):
            raise BundleError(f"{source}: refused: member {_show(name)} is not a regular file or folder")
        if parts == (MANIFEST_NAME,) and member.isreg():
            continue
        if parts == (ARTIFACTS_DIR,) and member.isdir():
            continue
        if len(parts) >= 2 and parts[0] == ARTIFACTS_DIR and parts[1] in keys and (len(parts) > 2 or member.isdir()):
            continue
        raise BundleError(f"{source}: refused: member {_show(name)} is not part of an artifact listed in {MANIFEST_NAME}")
    present = {m.name for m in members if m.isreg()}
    for member in members:
        segments = member.name.split("/")
        inside_file = next(("/".join(segments[:i]) for i in range(1, len(segments)) if "/".join(segments[:i]) in present), None)
        if inside_file is not None:
            raise BundleError(f"{source}: refused: member {_show(member.name)} lies inside the file {_show(inside_file)}")
        if len(segments) == 3 and segments[2] == "meta.json" and not member.isreg():
            raise BundleError(f"{source}: refused: member {_show(member.name)} is not a file")
    for meta in metas:
        if f"{ARTIFACTS_DIR}/{meta['key']}/{meta['file']}" not in present:
            raise BundleError(f"{source}: artifact {meta['key']} ({describe(meta)}) is missing its file {_show(meta['file'])}")
    # nothing but the artifacts' own files: a stray file would be imported and counted in the
    # model's size, and is refused rather than silently dropped
    for member in members:
        parts = tuple(member.name.split("/"))
        if len(parts) < 3:
            continue
        if len(parts) == 3 and parts[2] in own[parts[1]] and member.isreg():
            continue
        raise BundleError(
            f"{source}: refused: member {_show(member.name)} is not a file of artifact {parts[1]} "
            f"(its manifest entry names {' and '.join(own[parts[1]])}; a bundle holding anything "
            "else is not imported)"
        )


# ---------------------------------------------------------------------------------------------
# extracting


class _ReadFailed(Exception):
    """Reading the bundle failed while copying (as opposed to writing the copy)."""


def _copy_limited(src: IO[bytes], dst: IO[bytes], declared: int, budget: int) -> int:
    """Copy at most `declared` bytes (a member longer than its header says is damaged) and
    at most `budget`; returns the number copied. Raises BundleError beyond either, _ReadFailed
    when reading fails; write errors propagate as OSError."""
    copied = 0
    while True:
        try:
            chunk = src.read(1 << 20)
        except _READ_ERRORS as exc:
            raise _ReadFailed(one_line(exc)) from None
        if not chunk:
            return copied
        copied += len(chunk)
        if copied > declared:
            raise BundleError(f"holds more data than its header declares ({declared} bytes)")
        if copied > budget:
            raise BundleError("unpacks to more than its headers declared")
        dst.write(chunk)


def _damaged(source: Path, detail: object) -> BundleError:
    return BundleError(f"{source}: damaged bundle, the file is truncated or corrupt ({one_line(detail)}): copy it again")


class _Digest:
    """A write-only sink that hashes what is written (SHA-256)."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, out: Any, budget: int) -> int:
    try:
        reader = tar.extractfile(member)
    except _READ_ERRORS as exc:
        raise _ReadFailed(one_line(exc)) from None
    assert reader is not None  # a regular file always has a reader
    with reader:
        return _copy_limited(reader, out, member.size, budget)


def _extract(
    tar: tarfile.TarFile,
    members: list[tarfile.TarInfo],
    dest: Path,
    budget: int,
    source: Path,
    hash_only: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Write `members` (already checked) below `dest`: folders and regular files only, no modes
    or owners taken from the bundle, `budget` bytes at most in all. The members named in
    `hash_only` are read but not written: their SHA-256 digests are returned, by member name."""
    digests: dict[str, str] = {}
    for member in members:
        target = dest.joinpath(*member.name.split("/"))
        try:
            if member.name in hash_only:
                sink = _Digest()
                copied = _copy_member(tar, member, sink, budget)
                digests[member.name] = sink.hash.hexdigest()
            elif member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    copied = _copy_member(tar, member, out, budget)
        except _ReadFailed as exc:
            raise _damaged(source, exc) from None
        except BundleError as exc:
            raise BundleError(f"{source}: refused: member {_show(member.name)} {exc}") from None
        except OSError as exc:
            raise BundleError(f"{source}: cannot write to the cache {dest.parent} ({one_line(exc)})") from None
        if copied != member.size:
            raise BundleError(f"{source}: damaged bundle: member {_show(member.name)} is shorter than its header says")
        budget -= copied
    return digests


def _file_digest(path: Path) -> str | None:
    """SHA-256 of a regular file in the cache (None when it is not one)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _content_conflict(meta: dict[str, Any], digests: dict[str, str], root: Path) -> str | None:
    """The first of an artifact's files whose bytes differ between the bundle (`digests`) and the
    copy already in the cache under the same key, or None when they are the same."""
    key = meta["key"]
    for name in artifact_files(meta):
        bundled = digests.get(f"{ARTIFACTS_DIR}/{key}/{name}")
        local = _file_digest(root / key / name)
        if bundled != local:
            return name
    return None


def _warnings_for(meta: dict[str, Any]) -> list[str]:
    warnings = []
    framework = str(meta.get("framework"))
    if not framework_installed(framework):
        warnings.append(f"{framework} is not installed here: {install_hint(framework)}")
    return warnings


def import_bundle(path: str | Path, limits: ImportLimits | None = None) -> list[ImportedArtifact]:
    """Extract a bundle's artifacts into this machine's cache (see the module docstring for the
    checks); `limits` defaults to `import_limits()`."""
    limits = limits or import_limits()
    source = Path(path)
    # opened once, checked on the open descriptor and read only through it: a path swapped for
    # a FIFO (which would block) or a device (which never ends) after a check cannot be read
    try:
        raw = open_regular(source)
    except FileNotFoundError:
        raise BundleError(f"{source}: no such bundle file") from None
    except NotRegularFile as exc:
        raise BundleError(f"{source}: is {exc.kind}, not a bundle file") from None
    except (OSError, ValueError) as exc:  # a name too long, a folder that cannot be searched
        raise BundleError(f"{source}: cannot read the bundle file ({one_line(getattr(exc, 'strerror', None) or exc)})") from None
    with raw:
        try:
            tar = tarfile.open(fileobj=raw, mode="r:gz")
        except (*_READ_ERRORS, ValueError) as exc:
            raise BundleError(f"{source}: not a qtui bundle (not a gzip-compressed tar file: {one_line(exc)})") from None
        with tar:
            return _import_from(tar, source, limits)


def _import_from(tar: tarfile.TarFile, source: Path, limits: ImportLimits) -> list[ImportedArtifact]:
    """The import proper, on the opened bundle (`import_bundle` opened and checked it)."""
    members = _scan_headers(tar, source, limits)
    manifest = _read_manifest(tar, members, source, limits)
    metas = _Manifest(source).top(manifest, limits)
    _check_members(members, metas, source)
    try:
        root = artifacts_root()
    except OSError as exc:
        raise BundleError(f"cannot create the artifact cache: {one_line(exc)}") from None
    present = {m["key"] for m in metas if (root / m["key"]).exists()}

    def in_cache(m: tarfile.TarInfo) -> bool:
        return m.name.startswith(f"{ARTIFACTS_DIR}/") and m.name.split("/")[1] in present

    wanted = [m for m in members if not in_cache(m)]
    # files of artifacts already in the cache: hashed, not written, to compare with the cache
    compared = [m for m in members if in_cache(m) and m.isreg() and not m.name.endswith("/meta.json")]
    needed = sum(m.size for m in wanted if m.isreg())
    free = _free_bytes(root)
    if needed + limits.free_headroom_bytes > free:
        raise BundleError(
            f"{source}: not enough free space in {root}: the bundle unpacks to {_mb(needed)}, "
            f"{_mb(free)} free (keeping {_mb(limits.free_headroom_bytes)} spare)"
        )
    origin = manifest.get("machine") or {}
    origin_text = one_line(f"{origin.get('hostname') or '?'} ({origin.get('machine') or '?'})")
    results: list[ImportedArtifact] = []
    try:
        # named after this process, so a killed import's folder is cleaned like a killed
        # preparation's (paths.clean_stale_staging)
        staging = staging_dir(root, ".import-")
    except OSError as exc:
        raise BundleError(f"{source}: cannot write to the cache {root} ({one_line(exc)})") from None
    try:
        order = {id(m): k for k, m in enumerate(members)}  # one pass over the stream
        budget = needed + sum(m.size for m in compared)
        digests = _extract(
            tar, sorted(wanted + compared, key=lambda m: order[id(m)]), staging, budget, source,
            frozenset(m.name for m in compared),
        )
        _verify_checksum(tar, source, limits)  # the file may have changed since the first pass
        for meta in metas:
            differs = _content_conflict(meta, digests, root) if meta["key"] in present else None
            if differs:
                raise BundleError(
                    f"{source}: refused: artifact {meta['key']} ({describe(meta)}) is already in "
                    f"this cache with different content ({differs} differs); nothing was imported "
                    f"and the cache's copy was kept: to take the bundle's, remove "
                    f"{root / meta['key']} and import again"
                )
        for meta in metas:
            key = meta["key"]
            warns = tuple(_warnings_for(meta))
            if key in present:
                results.append(ImportedArtifact(key, describe(meta), "already present", warns))
                continue
            staged = staging / ARTIFACTS_DIR / key
            stamped = {
                **meta,
                "imported_from": origin_text,
                "imported_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "exported_by_qtui": manifest.get("qtui_version"),
            }
            try:
                (staged / "meta.json").write_text(json.dumps(stamped, indent=2))
            except OSError as exc:
                raise BundleError(f"{source}: cannot write to the cache {root} ({one_line(exc)})") from None
            try:
                os.rename(staged, root / key)
            except OSError:
                if not (root / key).is_dir():
                    raise BundleError(f"{source}: cannot move artifact {key} into {root}") from None
                # another import finished first: keep theirs
                results.append(ImportedArtifact(key, describe(meta), "already present", warns))
                continue
            results.append(ImportedArtifact(key, describe(meta), "imported", warns))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return results
