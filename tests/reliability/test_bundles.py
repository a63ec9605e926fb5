"""Hostile and broken bundle files: each one is refused with a clear one-line message (a
BundleError; exit 2 from `qtui bundle import`, no traceback) and nothing is written anywhere: not
outside the cache, and no artifact or staging folder inside it.

The bundles are crafted here (no torch, no framework): one well-formed artifact whose key and
spec_id are the hashes of its spec, then one change per attack.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from qtui.cli import main
from qtui.core import bundle
from qtui.core.artifacts import artifacts_root, list_artifacts, spec_id
from qtui.core.profile import FRAMEWORKS, MODELS, PRECISIONS

Member = tuple[tarfile.TarInfo, bytes | None]


def good_meta(**changes: Any) -> dict[str, Any]:
    """An artifact entry as `qtui prepare` writes it, with key/spec_id matching its fields."""
    meta: dict[str, Any] = {
        "artifact_format": 1,
        "model": "mobilenet_v2",
        "weights": "random:seed=0:v1",
        "framework": "onnxruntime",
        "precision": "fp32",
        "calibration": None,
        "tools": {"torch": "2.13.0+cpu", "onnx": "1.23.2", "opset": "17"},
        "file": "model.onnx",
        "format": "onnx",
        "details": {"opset": 17},
        "weights_digest": "0" * 64,
        "weights_provenance": "seeded random weights",
        "created": "2026-01-01T00:00:00+0000",
        "prepare_seconds": 0.3,
        "prepare_peak_rss_bytes": 1000,
        "prepare_start_rss_bytes": 900,
    }
    meta.update(changes)
    meta["key"] = bundle.artifact_key_of(meta)
    meta["spec_id"] = spec_id(meta)
    return meta


def good_manifest(*metas: dict[str, Any]) -> dict[str, Any]:
    return {
        "bundle_format": 1,
        "qtui_version": "0.1.0",
        "created": "2026-01-01T00:00:00+00:00",
        "machine": {"hostname": "laptop", "machine": "x86_64", "system": "Linux"},
        "artifacts": list(metas) or [good_meta()],
    }


def reg(name: str, data: bytes = b"model bytes") -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def folder(name: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


def special(name: str, kind: bytes, linkname: str = "") -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def artifact_members(meta: dict[str, Any]) -> list[Member]:
    key = meta["key"]
    return [
        folder(f"artifacts/{key}"),
        reg(f"artifacts/{key}/{meta['file']}"),
        reg(f"artifacts/{key}/meta.json", json.dumps(meta).encode()),
    ]


def write_bundle(path: Path, manifest: Any, members: list[Member], *, manifest_raw: bytes | None = None) -> Path:
    """A .tar.gz with bundle.json (unless manifest is None) and `members`, in that order."""
    with tarfile.open(path, "w:gz") as tar:
        if manifest is not None or manifest_raw is not None:
            data = manifest_raw if manifest_raw is not None else json.dumps(manifest).encode()
            tar.addfile(reg("bundle.json", data)[0], io.BytesIO(data))
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def good_bundle(path: Path, *metas: dict[str, Any]) -> Path:
    metas = metas or (good_meta(),)
    members = [folder("artifacts")] + [m for meta in metas for m in artifact_members(meta)]
    return write_bundle(path, good_manifest(*metas), members)


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every path below `root`: its kind and (files) content hash, links not followed."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", "")
            else:
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
    return out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path/cache is the cache (with its artifacts folder); bundles go in tmp_path/bundles."""
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(bundle.MAX_BYTES_ENV, raising=False)
    artifacts_root()
    (tmp_path / "bundles").mkdir()
    return tmp_path


# ---------------------------------------------------------------------------------------------
# one crafted bundle per attack: (builder, what the message must say)

Builder = Callable[[Path], Path]


def _with_meta(**changes: Any) -> Builder:
    """A bundle whose artifact entry has `changes` applied AFTER key/spec_id were computed
    (None deletes the field); its members follow the (possibly hostile) key and file."""

    def build(base: Path) -> Path:
        meta = good_meta()
        for field, value in changes.items():
            if value is None:
                meta.pop(field)
            else:
                meta[field] = value(base) if callable(value) else value
        key, file = meta.get("key"), meta.get("file")
        members = [folder("artifacts")]
        if isinstance(key, str) and isinstance(file, str) and not key.startswith("/") and not file.startswith("/"):
            members += [folder(f"artifacts/{key}"), reg(f"artifacts/{key}/{file}")]
        return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), members)

    return build


def _with_manifest(manifest: Any) -> Builder:
    def build(base: Path) -> Path:
        meta = good_meta()
        return write_bundle(base / "bundles" / "b.tar.gz", manifest, [folder("artifacts"), *artifact_members(meta)])

    return build


def _with_members(extra: Callable[[Path, str], list[Member]], drop: str = "") -> Builder:
    """The good bundle plus `extra(base, key)` members, its member `drop` (a file name in the
    artifact's folder) left out."""

    def build(base: Path) -> Path:
        meta = good_meta()
        members = [folder("artifacts"), *artifact_members(meta)]
        if drop:
            members = [m for m in members if not m[0].name.endswith(f"/{drop}")]
        return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), members + extra(base, meta["key"]))

    return build


def _key_dotdot(base: Path) -> Path:
    """Today's exploit: the staged folder and the final one are joined with an unchecked key, so
    `x/../../payload` moved the bundle's `payload/` folder to <cache>/payload (exit 0)."""
    meta = good_meta()
    meta["key"] = "x/../../payload"
    members = [folder("artifacts"), folder("artifacts/x"), folder("payload"), reg("payload/model.onnx")]
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), members)


def _file_absolute(base: Path) -> Path:
    """`file` naming an existing file elsewhere: today the artifact then pointed at it."""
    secret = base / "secret.bin"
    secret.write_bytes(b"not yours")
    return _with_meta(file=str(secret))(base)


def _file_dotdot(base: Path) -> Path:
    meta = good_meta()
    meta["file"] = "../model.onnx"
    members = [folder("artifacts"), folder(f"artifacts/{meta['key']}"), reg(f"artifacts/{meta['key']}/x"), reg("artifacts/model.onnx")]
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), members)


def _bomb(base: Path) -> Path:
    """8 MiB of zeros in a ~8 KB file (the test lowers the ratio floor to 256 KiB)."""
    meta = good_meta()
    key = meta["key"]
    zeros = bytes(8 << 20)
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), [folder("artifacts"), folder(f"artifacts/{key}"), reg(f"artifacts/{key}/model.onnx", zeros)])


def _too_big(base: Path) -> Path:
    """1.5 MB of incompressible bytes against QTUI_BUNDLE_MAX_BYTES=1M."""
    meta = good_meta()
    key = meta["key"]
    data = os.urandom(1_500_000)
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), [folder("artifacts"), folder(f"artifacts/{key}"), reg(f"artifacts/{key}/model.onnx", data)])


def _many_members(base: Path) -> Path:
    meta = good_meta()
    key = meta["key"]
    extra = [reg(f"artifacts/{key}/part{i}", b"") for i in range(60)]
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), [folder("artifacts"), *artifact_members(meta), *extra])


def _truncated(base: Path) -> Path:
    path = good_bundle(base / "bundles" / "good.tar.gz", good_meta(), good_meta(precision="fp16"))
    data = path.read_bytes()
    path.unlink()
    cut = base / "bundles" / "b.tar.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    return cut


def _truncated_big(base: Path) -> Path:
    """Cut inside a member's data: the headers read so far are fine, copying hits the end."""
    meta = good_meta()
    key = meta["key"]
    path = write_bundle(base / "bundles" / "good.tar.gz", good_manifest(meta), [folder("artifacts"), folder(f"artifacts/{key}"), reg(f"artifacts/{key}/model.onnx", os.urandom(90_000))])
    data = path.read_bytes()
    path.unlink()
    cut = base / "bundles" / "b.tar.gz"
    cut.write_bytes(data[:60_000])
    return cut


def _corrupt(base: Path) -> Path:
    """Bytes flipped in the middle of the deflate stream."""
    meta = good_meta()
    key = meta["key"]
    path = write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), [folder("artifacts"), folder(f"artifacts/{key}"), reg(f"artifacts/{key}/model.onnx", os.urandom(90_000))])
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _plain_tar(base: Path) -> Path:
    path = good_bundle(base / "bundles" / "good.tar.gz")
    raw = base / "bundles" / "b.tar.gz"
    raw.write_bytes(gzip.decompress(path.read_bytes()))
    path.unlink()
    return raw


def _raw_bytes(data: bytes) -> Builder:
    def build(base: Path) -> Path:
        path = base / "bundles" / "b.tar.gz"
        path.write_bytes(data)
        return path

    return build


def _gzip_of(data: bytes) -> Builder:
    return _raw_bytes(gzip.compress(data))


def _raw_manifest(data: bytes) -> Builder:
    def build(base: Path) -> Path:
        meta = good_meta()
        return write_bundle(base / "bundles" / "b.tar.gz", None, [folder("artifacts"), *artifact_members(meta)], manifest_raw=data)

    return build


def _duplicate_key(base: Path) -> Path:
    meta = good_meta()
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta, dict(meta)), [folder("artifacts"), *artifact_members(meta)])


def _manifest_twice(base: Path) -> Path:
    meta = good_meta()
    evil = json.dumps(good_manifest(good_meta(precision="fp16"))).encode()
    return write_bundle(base / "bundles" / "b.tar.gz", good_manifest(meta), [folder("artifacts"), *artifact_members(meta), reg("bundle.json", evil)])


OTHER_KEY = "f" * 24
HOSTILE: dict[str, tuple[Builder, str]] = {
    # key
    "key-dotdot": (_key_dotdot, r"artifacts\[0\]\.key must be 24 lowercase hex digits"),
    "key-absolute": (_with_meta(key=lambda b: str(b / "escaped")), r"\.key must be 24 lowercase hex"),
    "key-not-hex": (_with_meta(key="not-a-cache-key"), r"\.key must be 24 lowercase hex"),
    "key-uppercase": (_with_meta(key=lambda b: good_meta()["key"].upper()), r"\.key must be 24 lowercase hex"),
    "key-not-its-hash": (_with_meta(key="0" * 24), r"\.key 0{24} does not match the artifact's spec"),
    "spec-id-not-its-hash": (_with_meta(spec_id="0" * 24), r"\.spec_id 0{24} does not match"),
    "key-missing": (_with_meta(key=None), r"artifacts\[0\]\.key is missing"),
    "key-number": (_with_meta(key=12), r"\.key must be a string"),
    # file
    "file-dotdot": (_file_dotdot, r"\.file must be a plain file name"),
    "file-absolute": (_file_absolute, r"\.file must be a plain file name"),
    "file-in-subfolder": (_with_meta(file="sub/model.onnx"), r"\.file must be a plain file name"),
    "file-is-meta-json": (_with_meta(file="meta.json"), r"\.file must be a plain file name"),
    "file-empty": (_with_meta(file=""), r"\.file must be a plain file name"),
    "file-missing-field": (_with_meta(file=None), r"\.file is missing"),
    "file-symlink": (
        _with_members(lambda b, k: [special(f"artifacts/{k}/model.onnx", tarfile.SYMTYPE, "/etc/passwd")], drop="model.onnx"),
        r"member 'artifacts/[0-9a-f]{24}/model\.onnx' is a link",
    ),
    "file-is-a-folder": (_with_members(lambda b, k: [folder(f"artifacts/{k}/model.onnx")], drop="model.onnx"), r"is missing its file 'model\.onnx'"),
    "file-not-in-bundle": (_with_members(lambda b, k: [], drop="model.onnx"), r"is missing its file 'model\.onnx'"),
    # members
    "member-outside-artifacts": (_with_members(lambda b, k: [reg("evil.sh", b"rm -rf ~")]), r"member 'evil\.sh' is not part of an artifact listed"),
    "member-unlisted-key": (_with_members(lambda b, k: [reg(f"artifacts/{OTHER_KEY}/model.onnx")]), r"member 'artifacts/f{24}/model\.onnx' is not part of an artifact listed"),
    "member-not-a-key": (_with_members(lambda b, k: [reg("artifacts/loose.bin")]), r"not part of an artifact listed"),
    "member-dotdot": (_with_members(lambda b, k: [reg(f"artifacts/{k}/../../../escaped.txt")]), r"is not a plain relative path"),
    "member-absolute": (_with_members(lambda b, k: [reg(str(b / "escaped.txt"))]), r"is not a plain relative path"),
    "member-backslash": (_with_members(lambda b, k: [reg(f"artifacts/{k}/..\\..\\escaped.txt")]), r"is not a plain relative path"),
    "member-control-chars": (_with_members(lambda b, k: [reg(f"artifacts/{k}/\x1b[31mred")]), r"is not a plain relative path"),
    "member-symlink": (_with_members(lambda b, k: [special(f"artifacts/{k}/up", tarfile.SYMTYPE, "../../..")]), r"is a link"),
    "member-hardlink": (_with_members(lambda b, k: [special(f"artifacts/{k}/passwd", tarfile.LNKTYPE, "/etc/passwd")]), r"is a link"),
    "member-char-device": (_with_members(lambda b, k: [special(f"artifacts/{k}/null", tarfile.CHRTYPE)]), r"is not a regular file or folder"),
    "member-block-device": (_with_members(lambda b, k: [special(f"artifacts/{k}/sda", tarfile.BLKTYPE)]), r"is not a regular file or folder"),
    "member-fifo": (_with_members(lambda b, k: [special(f"artifacts/{k}/pipe", tarfile.FIFOTYPE)]), r"is not a regular file or folder"),
    "member-inside-the-file": (_with_members(lambda b, k: [reg(f"artifacts/{k}/model.onnx/x")]), r"lies inside the file 'artifacts/[0-9a-f]{24}/model\.onnx'"),
    "meta-json-a-folder": (_with_members(lambda b, k: [folder(f"artifacts/{k}/meta.json")], drop="meta.json"), r"member 'artifacts/[0-9a-f]{24}/meta\.json' is not a file"),
    "meta-json-a-link": (_with_members(lambda b, k: [special(f"artifacts/{k}/meta.json", tarfile.SYMTYPE, "/etc/passwd")], drop="meta.json"), r"meta\.json' is a link"),
    "member-twice": (_with_members(lambda b, k: [reg(f"artifacts/{k}/model.onnx", b"other")]), r"appears twice"),
    "manifest-twice": (_manifest_twice, r"member 'bundle\.json' appears twice"),
    # bundle.json shape
    "manifest-missing": (lambda b: write_bundle(b / "bundles" / "b.tar.gz", None, [folder("artifacts"), *artifact_members(good_meta())]), r"no bundle\.json"),
    "manifest-a-list": (_with_manifest([good_meta()]), r"bundle\.json is not a JSON object"),
    "manifest-a-string": (_with_manifest("bundle"), r"bundle\.json is not a JSON object"),
    "manifest-null": (_raw_manifest(b"null"), r"bundle\.json is not a JSON object"),
    "manifest-not-json": (_raw_manifest(b"{not json"), r"bundle\.json is not valid JSON"),
    "manifest-not-utf8": (_raw_manifest(b"\xff\xfe\xfa{}"), r"bundle\.json is not valid JSON"),
    "manifest-nested-deeply": (_raw_manifest(b"[" * 100_000 + b"]" * 100_000), r"bundle\.json is not valid JSON: nested too deeply"),
    "manifest-a-folder": (lambda b: write_bundle(b / "bundles" / "b.tar.gz", None, [folder("bundle.json"), folder("artifacts"), *artifact_members(good_meta())]), r"bundle\.json is not a file"),
    "bundle-format-missing": (_with_manifest({"artifacts": [good_meta()]}), r"bundle format None; this qtui .* reads 1"),
    "bundle-format-string": (_with_manifest({**good_manifest(), "bundle_format": "1"}), r"bundle format '1'"),
    "bundle-format-true": (_with_manifest({**good_manifest(), "bundle_format": True}), r"bundle format True"),
    "bundle-format-newer": (_with_manifest({**good_manifest(), "bundle_format": 2}), r"bundle format 2"),
    "artifacts-missing": (_with_manifest({"bundle_format": 1}), r"artifacts must be a list of artifacts, got None"),
    "artifacts-an-object": (_with_manifest({"bundle_format": 1, "artifacts": {"a": good_meta()}}), r"artifacts must be a list"),
    "artifacts-empty": (_with_manifest({"bundle_format": 1, "artifacts": []}), r"artifacts is empty"),
    "artifact-a-string": (_with_manifest({"bundle_format": 1, "artifacts": ["model.onnx"]}), r"artifacts\[0\] must be an object"),
    "artifact-null": (_with_manifest({"bundle_format": 1, "artifacts": [None]}), r"artifacts\[0\] must be an object"),
    "machine-a-string": (_with_manifest({**good_manifest(), "machine": "laptop"}), r"machine must be an object"),
    "hostname-a-number": (_with_manifest({**good_manifest(), "machine": {"hostname": 7}}), r"machine\.hostname must be a string"),
    "qtui-version-a-list": (_with_manifest({**good_manifest(), "qtui_version": [0, 1]}), r"bundle\.qtui_version must be a string"),
    "duplicate-key": (_duplicate_key, r"artifacts\[1\]\.key [0-9a-f]{24} is listed twice"),
    # artifact fields
    "artifact-format-string": (_with_meta(artifact_format="1"), r"artifact format '1', this qtui reads 1"),
    "artifact-format-missing": (_with_meta(artifact_format=None), r"artifact format None"),
    "artifact-format-float": (_with_meta(artifact_format=1.0), r"artifact format 1\.0, this qtui reads 1"),
    "stale-artifact-nested-model": (
        _raw_manifest(b'{"bundle_format": 1, "artifacts": [{"artifact_format": 999, "model": ' + b"[" * 500 + b"]" * 500 + b"}]}"),
        r"cannot import: \[\[\[.*artifact format 999",
    ),
    "model-unknown": (_with_meta(model="resnet18"), r"\.model must be one of mobilenet_v2, vgg19, densenet121, resnet50; got 'resnet18'"),
    "model-a-list": (_with_meta(model=["vgg19"]), r"\.model must be one of"),
    "model-missing": (_with_meta(model=None), r"\.model is missing"),
    "framework-unknown": (_with_meta(framework="tensorrt"), r"\.framework must be one of onnxruntime, openvino, tflite, torch"),
    "precision-unknown": (_with_meta(precision="int4"), r"\.precision must be one of fp32, fp16, int8_dynamic, int8_static"),
    "weights-a-number": (_with_meta(weights=0), r"\.weights must be a string"),
    "weights-escape-codes": (_with_meta(weights="random\x1b]0;pwned\x07"), r"\.weights must be a non-empty printable string"),
    "calibration-missing": (_with_meta(calibration=None), r"\.calibration is missing"),
    "calibration-a-number": (_with_meta(calibration=16), r"\.calibration must be a string or null"),
    "tools-a-list": (_with_meta(tools=["torch"]), r"\.tools must be an object"),
    "tools-missing": (_with_meta(tools=None), r"\.tools must be an object, got None"),
    "tools-version-a-number": (_with_meta(tools={"torch": 2}), r"\.tools must map tool names to version strings"),
    "details-a-list": (_with_meta(details=[1]), r"\.details must be an object"),
    "details-engine-a-number": (_with_meta(details={"quantized_engine": 1}), r"\.details\.quantized_engine must be a string"),
    "details-made-for-escape-codes": (_with_meta(details={"made_for": "aarch64\x1b[2J"}), r"\.details\.made_for must be a non-empty printable string"),
    "format-a-number": (_with_meta(format=1), r"\.format must be a string"),
    "prepare-seconds-a-string": (_with_meta(prepare_seconds="fast"), r"\.prepare_seconds must be a number"),
    "peak-rss-negative": (_with_meta(prepare_peak_rss_bytes=-1), r"\.prepare_peak_rss_bytes must be a whole number"),
    "peak-rss-a-bool": (_with_meta(prepare_peak_rss_bytes=True), r"\.prepare_peak_rss_bytes must be a whole number"),
    "provenance-an-object": (_with_meta(weights_provenance={}), r"\.weights_provenance must be a string"),
    # sizes and damage
    "gzip-bomb": (_bomb, r"unpacks to more than 100 times its size"),
    "over-size-limit": (_too_big, r"unpacks to more than 1\.0 MB \(set QTUI_BUNDLE_MAX_BYTES to allow more\)"),
    "too-many-members": (_many_members, r"more than 50 members"),
    "truncated": (_truncated, r"damaged bundle, the file is truncated or corrupt"),
    "truncated-inside-data": (_truncated_big, r"damaged bundle, the file is truncated or corrupt"),
    "corrupt-deflate": (_corrupt, r"damaged bundle, the file is truncated or corrupt"),
    "not-gzip-plain-tar": (_plain_tar, r"not a qtui bundle \(not a gzip-compressed tar file"),
    "not-gzip-at-all": (_raw_bytes(b"PK\x03\x04 this is a zip, not a bundle" * 20), r"not a qtui bundle \(not a gzip-compressed tar file"),
    "empty-file": (_raw_bytes(b""), r"not a qtui bundle"),
    "gzip-of-garbage": (_gzip_of(b"not a tar archive at all" * 100), r"not a qtui bundle"),
}


@pytest.fixture
def low_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Limits small enough for small test files: the bomb, the size cap and the member count."""
    monkeypatch.setattr(bundle, "DEFAULT_LIMITS", bundle.ImportLimits(max_members=50, ratio_floor_bytes=256 << 10))
    monkeypatch.setenv(bundle.MAX_BYTES_ENV, "1M")


def _cache_keys() -> list[str]:
    return [a.directory.name for a in list_artifacts()]


def test_the_crafted_good_bundle_imports(home: Path, low_limits: None) -> None:
    """The control for every case below: without the attack the same bundle imports."""
    path = good_bundle(home / "bundles" / "b.tar.gz", good_meta(), good_meta(framework="openvino", file="model.xml"))
    imported = bundle.import_bundle(path)
    assert [i.status for i in imported] == ["imported", "imported"]
    assert sorted(_cache_keys()) == sorted(i.key for i in imported)
    meta = json.loads((artifacts_root() / imported[0].key / "meta.json").read_text())
    assert meta["imported_from"] == "laptop (x86_64)" and meta["file"] == "model.onnx"
    assert not [p for p in artifacts_root().iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_bundle_is_refused_and_nothing_is_written(home: Path, low_limits: None, case: str) -> None:
    build, message = HOSTILE[case]
    path = build(home)
    before = snapshot(home)
    with pytest.raises(bundle.BundleError, match=message) as err:
        bundle.import_bundle(path)
    assert "\n" not in str(err.value) and "\x1b" not in str(err.value)
    assert str(err.value).startswith(str(path))
    assert snapshot(home) == before
    assert not (home.parent / "escaped.txt").exists() and not (home.parent / "payload").exists()
    assert _cache_keys() == []


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_bundle_through_the_cli_exits_2_with_one_line(home: Path, low_limits: None, case: str) -> None:
    build, message = HOSTILE[case]
    path = build(home)
    before = snapshot(home)
    result = CliRunner().invoke(main, ["bundle", "import", str(path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"qtui: {path}"), result.stderr
    assert "Traceback" not in result.output and "Aborted" not in result.output and "\x1b" not in result.output
    assert snapshot(home) == before
    assert _cache_keys() == []


def test_header_pass_stops_a_bomb_before_decompressing_it(home: Path) -> None:
    """A 2 GiB member in a 2 MB-ish file is refused from its header alone: with the real
    defaults (4 GiB, 100:1 above 64 MiB), not one byte is unpacked."""
    meta = good_meta()
    key = meta["key"]
    info = tarfile.TarInfo(f"artifacts/{key}/model.onnx")
    info.size = 2 << 30
    path = home / "bundles" / "b.tar.gz"
    with gzip.open(path, "wb") as gz:  # header only, the data never written: reading it would fail
        manifest = json.dumps(good_manifest(meta)).encode()
        head = tarfile.TarInfo("bundle.json")
        head.size = len(manifest)
        gz.write(head.tobuf(format=tarfile.GNU_FORMAT) + manifest + bytes(-len(manifest) % 512))
        gz.write(info.tobuf(format=tarfile.GNU_FORMAT))
        gz.write(bytes(1 << 20))
    before = snapshot(home)
    with pytest.raises(bundle.BundleError, match=r"unpacks to more than 100 times its size"):
        bundle.import_bundle(path)
    assert snapshot(home) == before


def test_free_space_is_checked_before_extracting(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = good_bundle(home / "bundles" / "b.tar.gz")
    monkeypatch.setattr(bundle, "_free_bytes", lambda p: 10 << 20)
    before = snapshot(home)
    with pytest.raises(bundle.BundleError, match=r"not enough free space in .*artifacts: the bundle unpacks to 0\.0 MB, 10\.5 MB free"):
        bundle.import_bundle(path)
    assert snapshot(home) == before


def test_copying_counts_bytes_again_because_headers_can_lie() -> None:
    out = io.BytesIO()
    with pytest.raises(bundle.BundleError, match="more data than its header declares"):
        bundle._copy_limited(io.BytesIO(b"x" * 5000), out, declared=4096, budget=1 << 20)
    with pytest.raises(bundle.BundleError, match="more than its headers declared"):
        bundle._copy_limited(io.BytesIO(b"x" * 5000), io.BytesIO(), declared=1 << 20, budget=4096)
    assert bundle._copy_limited(io.BytesIO(b"x" * 5000), out, declared=5000, budget=5000) == 5000


def test_messages_survive_values_nested_past_the_recursion_limit() -> None:
    nested: list[Any] = []
    for _ in range(5 * sys.getrecursionlimit()):
        nested = [nested]
    assert bundle._show(nested) == "(a deeply nested value)"
    assert "weights (a deeply nested value)" in bundle.describe({"weights": nested})


def test_size_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(bundle.MAX_BYTES_ENV, "8G")
    assert bundle.import_limits().max_total_bytes == 8 << 30
    monkeypatch.setenv(bundle.MAX_BYTES_ENV, "123456")
    assert bundle.import_limits().max_total_bytes == 123456
    monkeypatch.setenv(bundle.MAX_BYTES_ENV, "lots")
    with pytest.raises(bundle.BundleError, match=r"QTUI_BUNDLE_MAX_BYTES='lots': expected a size in bytes"):
        bundle.import_limits()
    monkeypatch.delenv(bundle.MAX_BYTES_ENV)
    assert bundle.import_limits().max_total_bytes == 4 << 30


def test_text_from_a_bundle_reaches_the_terminal_without_control_sequences(home: Path) -> None:
    """Hostname and provenance are free text: imported, but printed (and stored) as plain text."""
    manifest = good_manifest()
    manifest["machine"] = {"hostname": "lap\x1b[2J\x1b]0;owned\x07top\u202e", "machine": "x86_64\r\n"}
    meta = manifest["artifacts"][0]
    path = write_bundle(home / "bundles" / "b.tar.gz", manifest, [folder("artifacts"), *artifact_members(meta)])
    result = CliRunner().invoke(main, ["bundle", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported: mobilenet_v2 onnxruntime fp32, weights random:seed=0:v1" in result.stdout
    stored = json.loads((artifacts_root() / meta["key"] / "meta.json").read_text())
    assert stored["imported_from"] == "laptop (x86_64 )"
    assert bundle.one_line("a\x1b[31mred\x1b[0m\x07\x9b2J") == "ared"
    assert bundle.describe({"model": "m", "framework": "f", "precision": "p", "weights": "w\x1b[1mb"}) == "m f p, weights wb"


def test_import_of_a_key_already_present_writes_nothing(home: Path) -> None:
    path = good_bundle(home / "bundles" / "b.tar.gz")
    assert [i.status for i in bundle.import_bundle(path)] == ["imported"]
    before = snapshot(home)
    assert [i.status for i in bundle.import_bundle(path)] == ["already present"]
    assert snapshot(home) == before


# ---------------------------------------------------------------------------------------------
# property: any manifest either imports or is a BundleError, never another exception

_json_leaf = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=30)
_json = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
_FIELDS = [*good_meta().keys()]


@st.composite
def _artifact_entry(draw: st.DrawFn) -> tuple[Any, bool]:
    """(entry, untouched): a valid entry, then maybe some fields replaced by random JSON,
    removed, or set to hostile strings; sometimes the key/spec_id are recomputed afterwards."""
    meta = good_meta(
        model=draw(st.sampled_from(MODELS)),
        framework=draw(st.sampled_from(FRAMEWORKS)),
        precision=draw(st.sampled_from(PRECISIONS)),
        weights=draw(st.sampled_from(["random:seed=0:v1", "torchvision:vgg19:IMAGENET1K_V1", "file:" + "a" * 64])),
        calibration=draw(st.sampled_from([None, "synthetic|n=16|abc"])),
        tools=draw(st.dictionaries(st.sampled_from(["torch", "onnx", "opset"]), st.none() | st.text("0123456789.", min_size=1, max_size=6), max_size=3)),
        file=draw(st.sampled_from(["model.onnx", "model.xml", "model.tflite", "model.ts"])),
    )
    changed = draw(st.just([]) | st.lists(st.sampled_from(_FIELDS), min_size=1, max_size=3, unique=True))
    for field in changed:
        action = draw(st.sampled_from(["json", "delete", "hostile"]))
        if action == "delete":
            meta.pop(field)
        elif action == "json":
            meta[field] = draw(_json)
        else:
            meta[field] = draw(st.sampled_from(["../x", "/etc/passwd", "", "a/b", "\x1b[2J", "f" * 24, ".", "..", "meta.json"]))
    if changed and draw(st.booleans()):
        try:
            meta["key"] = bundle.artifact_key_of(meta)
            meta["spec_id"] = spec_id(meta)
        except (KeyError, TypeError, ValueError):
            pass
    if draw(st.integers(0, 9)) == 0:
        return draw(_json), False
    return meta, not changed


@st.composite
def _manifest(draw: st.DrawFn) -> tuple[Any, bool]:
    """(manifest, must_import): must_import when nothing was broken on purpose."""
    entries = draw(st.lists(_artifact_entry(), max_size=3))
    manifest = {"bundle_format": 1, "machine": {"hostname": "h", "machine": "m"}, "artifacts": [e for e, _ in entries]}
    keys = [e.get("key") for e, _ in entries if isinstance(e, dict)]
    must_import = bool(entries) and all(ok for _, ok in entries) and len(set(keys)) == len(keys)
    top_fields = ["bundle_format", "machine", "artifacts", "qtui_version"]
    changed = draw(st.just([]) | st.lists(st.sampled_from(top_fields), min_size=1, max_size=2, unique=True))
    for field in changed:
        manifest[field] = draw(_json)
    if draw(st.integers(0, 19)) == 0:
        return draw(_json), False
    return manifest, must_import and not changed


def _members_for(manifest: Any) -> list[Member]:
    """The members an honest exporter would write for the entries that name a key and a file
    (as tar names, hostile or not)."""
    members: list[Member] = [folder("artifacts")]
    entries = manifest.get("artifacts") if isinstance(manifest, dict) else None
    for meta in entries if isinstance(entries, list) else []:
        if isinstance(meta, dict) and isinstance(meta.get("key"), str) and isinstance(meta.get("file"), str):
            name = f"artifacts/{meta['key']}/{meta['file']}"
            if name not in {m[0].name for m in members} and "\x00" not in name:
                members.append(reg(name))
    return members


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_manifest())
def test_any_manifest_imports_or_is_a_bundle_error(case: tuple[Any, bool]) -> None:
    """Random manifests: a BundleError (one line, nothing written) or a correct import, never
    another exception; one that nobody broke on purpose always imports."""
    manifest, must_import = case
    with tempfile.TemporaryDirectory(prefix="qtui-prop-") as tmp:
        base = Path(tmp)
        with mock.patch.dict(os.environ, {"QTUI_CACHE_DIR": str(base / "cache")}):
            os.environ.pop(bundle.MAX_BYTES_ENV, None)
            artifacts_root()
            path = write_bundle(base / "b.tar.gz", manifest, _members_for(manifest))
            before = snapshot(base)
            try:
                imported = bundle.import_bundle(path)
            except bundle.BundleError as exc:
                assert not must_import, exc
                event("refused")
                assert "\n" not in str(exc)
                assert snapshot(base) == before
                return
            event("imported")
            # success: exactly the listed artifacts, each a well-formed folder in the cache
            assert [i.key for i in imported] == [m["key"] for m in manifest["artifacts"]]
            assert {a.directory.name for a in list_artifacts()} == {i.key for i in imported}
            added = set(snapshot(base)) - set(before)
            assert all(p.startswith("cache/artifacts/") for p in added), added


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    entries=st.lists(
        st.tuples(st.sampled_from(MODELS), st.sampled_from(FRAMEWORKS), st.sampled_from(PRECISIONS), st.booleans()),
        min_size=1, max_size=4, unique=True,
    )
)
def test_valid_manifests_always_import(entries: list[tuple[str, str, str, bool]]) -> None:
    metas = [
        good_meta(model=m, framework=f, precision=p, calibration="synthetic|n=16|abc" if c else None)
        for m, f, p, c in entries
    ]
    with tempfile.TemporaryDirectory(prefix="qtui-prop-") as tmp:
        base = Path(tmp)
        with mock.patch.dict(os.environ, {"QTUI_CACHE_DIR": str(base / "cache")}):
            os.environ.pop(bundle.MAX_BYTES_ENV, None)
            imported = bundle.import_bundle(good_bundle(base / "b.tar.gz", *metas))
            assert [i.status for i in imported] == ["imported"] * len(metas)
            assert {a.directory.name for a in list_artifacts()} == {m["key"] for m in metas}
