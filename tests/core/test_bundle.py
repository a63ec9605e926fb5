"""Bundles: prepare on one "machine" (cache dir), run on another that cannot prepare."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from qtui.core import bundle
from qtui.core.prepare import PrepareError, find_or_prepare
from qtui.core.runner import prepare_only, run
from tests.conftest import small_profile


def _other_machine(monkeypatch: pytest.MonkeyPatch, cache: Path, tools: dict[str, str | None]) -> None:
    """Switch to an empty cache whose ONNX tools differ and which cannot export ONNX."""
    import qtui.core.prepare.onnxruntime as ort_prep

    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache))
    monkeypatch.setattr(ort_prep, "tool_versions", lambda: tools)
    monkeypatch.setattr(ort_prep, "unavailable_reason", lambda precision: "exporter not installed here (test)")


def test_export_import_then_run_where_preparing_is_impossible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = small_profile()
    artifact, _ = prepare_only(profile)
    path = bundle.export_bundle(tmp_path / "b.tar.gz", [artifact])

    _other_machine(monkeypatch, tmp_path / "pi-cache", {"torch": None, "onnx": None, "opset": "17"})
    with pytest.raises(PrepareError, match="cannot be prepared here: exporter not installed"):
        find_or_prepare(profile, lambda: None, None, None, lambda s, f: None)
    from qtui.core.catalog import availability

    before = availability("onnxruntime", "fp32")
    assert not before.available and "exporter not installed" in before.reason

    imported = bundle.import_bundle(path)
    assert [i.status for i in imported] == ["imported"]
    # the catalog (doctor, TUI menus) now offers the pair: it runs from the imported artifact
    after = availability("onnxruntime", "fp32")
    assert after.available and after.reason.startswith("runs cached or imported artifacts only: exporter not installed")
    assert not availability("onnxruntime", "int8_static").available
    again = bundle.import_bundle(path)
    assert [i.status for i in again] == ["already present"]

    result = run(profile)
    assert result.status == "ok", result.message
    assert result.artifact["cache_hit"] is True
    meta = json.loads((Path(result.artifact["path"]).parent / "meta.json").read_text())
    assert meta["imported_from"]


def test_bundle_that_does_not_fit_gets_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    artifact, _ = prepare_only(small_profile())
    path = bundle.export_bundle(tmp_path / "b.tar.gz", [artifact])
    _other_machine(monkeypatch, tmp_path / "pi-cache", {"torch": None, "onnx": None, "opset": "17"})
    bundle.import_bundle(path)
    other_weights = small_profile()
    from dataclasses import replace

    other_weights = replace(other_weights, weights=replace(other_weights.weights, seed=7))
    with pytest.raises(PrepareError) as err:
        find_or_prepare(other_weights, lambda: None, None, None, lambda s, f: None)
    msg = str(err.value)
    assert "cached artifacts that do not fit" in msg
    assert "random:seed=0" in msg and "random:seed=7" in msg


def test_bad_bundles(tmp_path: Path) -> None:
    with pytest.raises(bundle.BundleError, match="no such bundle"):
        bundle.import_bundle(tmp_path / "missing.tar.gz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file at all")
    with pytest.raises(bundle.BundleError, match="not a qtui bundle"):
        bundle.import_bundle(junk)
    wrong = tmp_path / "wrong.tar.gz"
    with tarfile.open(wrong, "w:gz") as tar:
        data = json.dumps({"bundle_format": 1, "artifacts": [{"artifact_format": 999, "model": "vgg19", "framework": "onnxruntime", "precision": "fp32", "key": "k", "file": "m.onnx"}]}).encode()
        info = tarfile.TarInfo("bundle.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(bundle.BundleError, match="artifact format 999"):
        bundle.import_bundle(wrong)
    with pytest.raises(bundle.BundleError, match="no prepared artifacts"):
        bundle.export_bundle(tmp_path / "empty.tar.gz", [])


#: /proc/cpuinfo `Features` of a Raspberry Pi 4 (Cortex-A72: no dot product) and a Pi 5
#: (Cortex-A76: `asimddp`), as the boards print them.
PI4_FEATURES = frozenset("fp asimd evtstrm crc32 cpuid".split())
PI5_FEATURES = frozenset("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp".split())


@pytest.mark.parametrize("board", ["pi4", "pi5"])
def test_openvino_int8_static_is_refused_on_a_pi_4_even_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, board: str) -> None:
    """The README: OpenVINO offers INT8 static only where the CPU has dot-product instructions
    (`asimddp`: Pi 5); on the Pi 4's Cortex-A72 its CPU plugin cannot compile INT8 convolutions,
    so qtui refuses it, even from an imported bundle. A real OpenVINO INT8 static artifact is
    prepared here, imported on a "Pi" (its CPU's machine type and features: the inputs of the
    rule), and judged by what the README says of that board."""
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")
    import qtui.core.prepare.openvino as ov_prep
    from qtui.core.catalog import availability

    profile = small_profile(framework="openvino", precision="int8_static")
    artifact, _ = prepare_only(profile)
    path = bundle.export_bundle(tmp_path / "b.tar.gz", [artifact])
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "pi-cache"))
    assert [i.status for i in bundle.import_bundle(path)] == ["imported"]
    monkeypatch.setattr(ov_prep, "_arm", lambda: True)
    monkeypatch.setattr(ov_prep, "_cpu_flags", lambda: PI4_FEATURES if board == "pi4" else PI5_FEATURES)

    offered = availability("openvino", "int8_static")
    assert availability("openvino", "fp32").available  # FP32 runs on both boards
    if board == "pi5":
        assert offered.available, offered.reason
        found, hit = prepare_only(profile)  # the imported artifact, nothing prepared
        assert hit and found.path.read_bytes() == artifact.path.read_bytes()
        return
    assert not offered.available
    assert "asimddp" in offered.reason and "Cortex-A72" in offered.reason
    with pytest.raises(PrepareError, match="cannot compile INT8 convolutions"):
        find_or_prepare(profile, lambda: None, None, None, lambda s, f: None)
    result = run(profile)
    assert result.status == "failed" and "asimddp" in result.message


def _python_3_11_2_tarfile(monkeypatch: pytest.MonkeyPatch) -> None:
    """tarfile as on Debian 12 / Raspberry Pi OS Bookworm (3.11.2): no extraction filters."""
    real = tarfile.TarFile.extractall

    def extractall(self: tarfile.TarFile, path: str = ".", members: Any = None, *, numeric_owner: bool = False) -> None:
        real(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.delattr(tarfile, "data_filter")
    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)


def test_import_on_python_without_tar_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen on the emulated Pi: `extractall(filter=...)` is a TypeError before Python 3.11.4."""
    profile = small_profile()
    artifact, _ = prepare_only(profile)
    path = bundle.export_bundle(tmp_path / "b.tar.gz", [artifact])
    _other_machine(monkeypatch, tmp_path / "pi-cache", {"torch": None, "onnx": None, "opset": "17"})
    _python_3_11_2_tarfile(monkeypatch)
    imported = bundle.import_bundle(path)
    assert [i.status for i in imported] == ["imported"]
    found, hit = find_or_prepare(profile, lambda: None, None, None, lambda s, f: None)
    assert hit and found.path.read_bytes() == artifact.path.read_bytes()


def _with_extra_member(good: Path, out: Path, extra: tarfile.TarInfo, data: bytes | None) -> Path:
    """A copy of the bundle `good` with one more member."""
    with tarfile.open(good, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isreg() else None)
        dst.addfile(extra, io.BytesIO(data) if data is not None else None)
    return out


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_hostile_bundle_members_are_refused_without_tar_filters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """A real exported bundle plus one hostile member, on a Python without extraction filters."""
    artifact, _ = prepare_only(small_profile())
    good = bundle.export_bundle(tmp_path / "good.tar.gz", [artifact])
    _other_machine(monkeypatch, tmp_path / "pi-cache", {"torch": None, "onnx": None, "opset": "17"})
    _python_3_11_2_tarfile(monkeypatch)
    if kind == "symlink":
        info = tarfile.TarInfo(f"artifacts/{artifact.directory.name}/extra.onnx")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        data = None
        message = "is a link"
    else:
        info = tarfile.TarInfo("../escaped.txt" if kind == "dotdot" else str(tmp_path / "escaped.txt"))
        info.size = 3
        data = b"bad"
        message = "is not a plain relative path"
    hostile = _with_extra_member(good, tmp_path / "hostile.tar.gz", info, data)
    with pytest.raises(bundle.BundleError, match=message):
        bundle.import_bundle(hostile)
    assert not (tmp_path / "escaped.txt").exists()
    assert not any(p.name in ("escaped.txt", "extra.onnx") for p in Path(tmp_path).rglob("*"))
    assert bundle.list_artifacts() == []


def test_manifest_key_check_matches_how_prepare_computes_keys() -> None:
    """Import refuses a key that is not the hash of the artifact's spec: it must hash exactly
    as `qtui.core.prepare.artifact_key` does, or real bundles would be refused."""
    from qtui.core.artifacts import spec_id

    artifact, _ = prepare_only(small_profile())
    assert bundle.artifact_key_of(artifact.meta) == artifact.meta["key"] == artifact.directory.name
    assert spec_id(artifact.meta) == artifact.meta["spec_id"]


def test_export_for_a_pi_makes_the_arm_recipe_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`qtui bundle export --for aarch64`: ONNX Runtime's INT8 static is made with ARM's S8S8
    recipe on this machine, whatever its own CPU, and the bundle says what it was made for; a
    Pi importing it then has the artifact its own tools would have made (the same spec and
    recipe). `--for` without profiles is refused: a cached artifact is already made."""
    from click.testing import CliRunner

    from qtui.cli import main
    from qtui.core.profile import dumps
    from qtui.fleet.needs import arch_recipe

    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "laptop"))
    profile = tmp_path / "int8.toml"
    profile.write_text(dumps(small_profile(precision="int8_static")))
    out = tmp_path / "pi.tar.gz"
    done = CliRunner().invoke(main, ["bundle", "export", str(out), str(profile), "--for", "aarch64"])
    assert done.exit_code == 0, done.output
    with tarfile.open(out) as tar:
        metas = [json.load(tar.extractfile(m)) for m in tar.getmembers() if m.name.endswith("/meta.json")]  # type: ignore[arg-type]
    [meta] = metas
    assert meta["precision"] == "int8_static" and meta["details"]["made_for"] == "aarch64"
    assert meta["details"]["activations"] == "int8"
    assert arch_recipe("onnxruntime", "int8_static", meta["tools"]).startswith("v1:static=S8S8")

    import platform

    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "pi"))
    [item] = bundle.import_bundle(out)
    assert item.status == "imported"
    from qtui.core.prepare import lookup

    found = lookup(small_profile(precision="int8_static"), _calibration(small_profile(precision="int8_static")))
    assert found.artifact is not None and found.key == meta["key"]  # the key the Pi's own tools give

    refused = CliRunner().invoke(main, ["bundle", "export", str(tmp_path / "x.tar.gz"), "--for", "aarch64"])
    assert refused.exit_code == 2 and "--for needs PROFILES" in refused.output
    assert not (tmp_path / "x.tar.gz").exists()


def _calibration(profile: Any) -> Any:
    from qtui.core.prepare.for_profile import calibration_spec

    return calibration_spec(profile, None, lambda *_: None)[1]
