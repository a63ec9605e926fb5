"""What a bundle holds, beyond its shape (issue 20, item 11): an artifact already in the cache
under the same key but with other bytes, files that no manifest entry names, and a cache file
that is a symbolic link when exported.

The bundles are crafted as in `test_bundles.py` (no torch, no framework)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui.cli import main
from qtui.core import bundle
from qtui.core.artifacts import artifacts_root, list_artifacts, load_artifact
from tests.reliability.test_bundles import (
    artifact_members,
    folder,
    good_bundle,
    good_manifest,
    good_meta,
    reg,
    snapshot,
    write_bundle,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(bundle.MAX_BYTES_ENV, raising=False)
    artifacts_root()
    (tmp_path / "bundles").mkdir()
    return tmp_path


def _bundle_with(path: Path, meta: dict[str, object], files: dict[str, bytes]) -> Path:
    key = meta["key"]
    members = [folder("artifacts"), folder(f"artifacts/{key}"), reg(f"artifacts/{key}/meta.json", json.dumps(meta).encode())]
    members += [reg(f"artifacts/{key}/{name}", data) for name, data in files.items()]
    return write_bundle(path, good_manifest(meta), members)


# -- same key, other bytes -------------------------------------------------------------------------


def test_same_key_with_other_bytes_is_refused_and_the_cache_kept(home: Path) -> None:
    """Before: "already present", the old bytes kept silently, so runs here measured another
    model than the bundle's. Now the content is compared (SHA-256 of each artifact file) and the
    import refused, naming the artifact, the file and how to take the bundle's copy."""
    meta = good_meta()
    first = _bundle_with(home / "bundles" / "a.tar.gz", meta, {"model.onnx": b"the first model"})
    assert [i.status for i in bundle.import_bundle(first)] == ["imported"]
    other = _bundle_with(home / "bundles" / "b.tar.gz", meta, {"model.onnx": b"another model!!"})
    before = snapshot(home / "cache")
    with pytest.raises(bundle.BundleError) as err:
        bundle.import_bundle(other)
    text = str(err.value)
    assert f"artifact {meta['key']}" in text and "is already in this cache with different content" in text
    assert "model.onnx differs" in text and "nothing was imported" in text
    assert str(artifacts_root() / meta["key"]) in text  # what to remove to take the bundle's
    assert snapshot(home / "cache") == before
    assert (artifacts_root() / meta["key"] / "model.onnx").read_bytes() == b"the first model"
    # the CLI: exit 2, one line
    out = CliRunner().invoke(main, ["bundle", "import", str(other)])
    assert out.exit_code == 2 and "different content" in out.stderr and "Traceback" not in out.stderr


def test_same_key_with_the_same_bytes_is_already_present(home: Path) -> None:
    """The control: an identical artifact (its meta.json stamped differently) is already there."""
    path = good_bundle(home / "bundles" / "b.tar.gz", good_meta(), good_meta(framework="openvino", file="model.xml"))
    assert [i.status for i in bundle.import_bundle(path)] == ["imported", "imported"]
    before = snapshot(home / "cache")
    assert [i.status for i in bundle.import_bundle(path)] == ["already present", "already present"]
    assert snapshot(home / "cache") == before


# -- files the manifest does not name -------------------------------------------------------------


@pytest.mark.parametrize("stray", ["notes.txt", "model.onnx.bak", "sub/model.onnx"])
def test_files_the_manifest_does_not_name_are_refused(home: Path, stray: str) -> None:
    """Before: imported, and counted in the model's size. An artifact folder may hold its
    manifest's `file`, that format's companion (OpenVINO's `.bin` beside the `.xml`) and
    meta.json; anything else refuses the bundle (nothing is imported)."""
    meta = good_meta()
    key = meta["key"]
    members = [folder("artifacts"), *artifact_members(meta), reg(f"artifacts/{key}/{stray}", b"x" * 5000)]
    path = write_bundle(home / "bundles" / "b.tar.gz", good_manifest(meta), members)
    with pytest.raises(bundle.BundleError) as err:
        bundle.import_bundle(path)
    assert f"member 'artifacts/{key}/{stray}' is not a file of artifact {key}" in str(err.value)
    assert "its manifest entry names model.onnx" in str(err.value)
    assert list_artifacts() == []


def test_openvino_weights_beside_the_ir_are_imported_and_sized(home: Path) -> None:
    meta = good_meta(framework="openvino", file="model.xml", format="openvino_ir")
    path = _bundle_with(home / "bundles" / "b.tar.gz", meta, {"model.xml": b"<xml/>", "model.bin": b"w" * 1000})
    assert [i.status for i in bundle.import_bundle(path)] == ["imported"]
    (artifact,) = list_artifacts()
    assert artifact.size_bytes == 1006


def test_model_size_counts_only_the_artifacts_files(home: Path) -> None:
    """A stray file in a cache folder (dropped there by hand) is not part of the model's size."""
    path = _bundle_with(home / "bundles" / "b.tar.gz", good_meta(), {"model.onnx": b"m" * 100})
    bundle.import_bundle(path)
    (artifact,) = list_artifacts()
    (artifact.directory / "notes.txt").write_bytes(b"n" * 10_000)
    assert artifact.size_bytes == 100


# -- a symbolic link in the cache ----------------------------------------------------------------


def test_symlinked_cache_file_exports_its_bytes_and_round_trips(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the link itself went into the bundle (exit 0) and the Pi refused it ("is a link").
    Now the file's bytes are exported, and a fresh cache imports them as a regular file."""
    meta = good_meta()
    bundle.import_bundle(_bundle_with(home / "bundles" / "a.tar.gz", meta, {"model.onnx": b"the model's bytes"}))
    model = artifacts_root() / meta["key"] / "model.onnx"
    elsewhere = tmp_path / "elsewhere.onnx"
    model.rename(elsewhere)
    model.symlink_to(elsewhere)
    out = CliRunner().invoke(main, ["bundle", "export", str(home / "bundles" / "out.tar.gz")])
    assert out.exit_code == 0, out.output
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "pi-cache"))
    imported = bundle.import_bundle(home / "bundles" / "out.tar.gz")
    assert [i.status for i in imported] == ["imported"]
    copy = artifacts_root() / meta["key"] / "model.onnx"
    assert not copy.is_symlink() and copy.read_bytes() == b"the model's bytes"
    assert load_artifact(copy.parent) is not None


def test_a_dangling_or_special_cache_file_is_refused_at_export(home: Path, tmp_path: Path) -> None:
    meta = good_meta()
    bundle.import_bundle(_bundle_with(home / "bundles" / "a.tar.gz", meta, {"model.onnx": b"bytes"}))
    model = artifacts_root() / meta["key"] / "model.onnx"
    model.unlink()
    os.mkfifo(model)  # not a regular file: never opened for reading (it would block)
    with pytest.raises(bundle.BundleError, match="model.onnx is not a regular file"):
        bundle.export_bundle(home / "bundles" / "out.tar.gz", list_artifacts())
    model.unlink()
    model.symlink_to(tmp_path / "gone")
    assert list_artifacts() == []  # a dangling model file: not an artifact, nothing to export
    assert not (home / "bundles" / "out.tar.gz").exists()
    assert not list((home / "bundles").glob(".*.tmp"))
