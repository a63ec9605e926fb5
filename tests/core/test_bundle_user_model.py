"""Bundles of the user's own ONNX model: prepared here, imported into another machine's empty
cache and run there without torch (a Pi), found by the model file's name and sha256; the
manifest names the file, never its folder; `bundle export --model FILE` picks that file's
artifacts (not another file of the same name)."""

from __future__ import annotations

import json
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import bundle
from qtui.core.model_source import inspect_onnx
from qtui.core.runner import prepare_only, run
from tests.conftest import small_profile

pytest.importorskip("torch")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The controller's model folder: small.onnx, and another model also named small.onnx."""
    from tests.core.test_user_onnx import _export

    root = tmp_path_factory.mktemp("laptop")
    _export(root / "small.onnx")
    (root / "other").mkdir()
    _export(root / "other" / "small.onnx", dynamic={})  # static batch: other bytes, same name
    return root


def _the_pi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, laptop: Path) -> Path:
    """Another machine: an empty cache, no torch, the model file copied into its own folder."""
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "pi-cache"))
    monkeypatch.setitem(sys.modules, "torch", None)
    pi = tmp_path / "pi"
    pi.mkdir()
    (pi / "small.onnx").write_bytes((laptop / "small.onnx").read_bytes())
    return pi / "small.onnx"


def test_user_onnx_bundle_runs_on_a_machine_without_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, laptop: Path
) -> None:
    profile = small_profile(model=str(laptop / "small.onnx"), framework="onnxruntime", precision="int8_dynamic")
    artifact, _ = prepare_only(profile)
    path = bundle.export_bundle(tmp_path / "b.tar.gz", [artifact])
    with tarfile.open(path) as tar:
        manifest = tar.extractfile("bundle.json").read().decode()  # type: ignore[union-attr]
    digest = inspect_onnx(str(laptop / "small.onnx")).digest
    entry = json.loads(manifest)["artifacts"][0]
    assert (entry["model"], entry["weights"]) == ("onnx:small.onnx", f"onnx-file:{digest}")
    assert str(laptop) not in manifest and str(tmp_path) not in manifest

    model_on_pi = _the_pi(tmp_path, monkeypatch, laptop)
    imported = bundle.import_bundle(path)
    assert [i.status for i in imported] == ["imported"]
    assert "onnx:small.onnx" in imported[0].description

    result = run(replace(profile, model=str(model_on_pi)))
    assert result.status == "ok", result.message
    assert result.artifact["cache_hit"] is True
    meta = json.loads((Path(result.artifact["path"]).parent / "meta.json").read_text())
    assert meta["imported_from"] and meta["model"] == "onnx:small.onnx"


def test_external_data_of_a_large_user_model_travels_with_its_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, laptop: Path
) -> None:
    """A user model over protobuf's limit keeps its FP32 weights in `model.onnx.data` beside the
    artifact: the bundle carries that file (the limit lowered to 0 so a tiny model does it)."""
    import qtui.core.prepare.onnxruntime as ort_prep

    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "laptop-cache"))
    monkeypatch.setattr(ort_prep, "_INLINE_LIMIT", 0)
    profile = small_profile(model=str(laptop / "small.onnx"), framework="onnxruntime", precision="fp32")
    artifact, _ = prepare_only(profile)
    data = artifact.directory / "model.onnx.data"
    assert data.is_file() and artifact.size_bytes == artifact.path.stat().st_size + data.stat().st_size
    path = bundle.export_bundle(tmp_path / "b.tar.gz", [artifact])
    with tarfile.open(path) as tar:
        assert f"artifacts/{artifact.directory.name}/model.onnx.data" in tar.getnames()

    model_on_pi = _the_pi(tmp_path, monkeypatch, laptop)
    assert [i.status for i in bundle.import_bundle(path)] == ["imported"]
    result = run(replace(profile, model=str(model_on_pi)))
    assert result.status == "ok", result.message
    assert result.artifact["cache_hit"] is True


def test_export_by_model_file_takes_that_files_artifacts_only(tmp_path: Path, laptop: Path) -> None:
    mine, other = laptop / "small.onnx", laptop / "other" / "small.onnx"
    for model in (mine, other):
        prepare_only(small_profile(model=str(model), framework="onnxruntime", precision="fp32"))
    out = tmp_path / "b.tar.gz"
    done = CliRunner().invoke(cli.main, ["bundle", "export", str(out), "--model", str(mine), "--framework", "onnxruntime", "--precision", "fp32"])
    assert done.exit_code == 0, done.output
    with tarfile.open(out) as tar:
        entries = json.loads(tar.extractfile("bundle.json").read())["artifacts"]  # type: ignore[union-attr]
    assert [e["weights"] for e in entries] == [f"onnx-file:{inspect_onnx(str(mine)).digest}"]
    assert "onnx:small.onnx onnxruntime fp32" in done.output and str(laptop) not in done.output

    missing = CliRunner().invoke(cli.main, ["bundle", "export", str(tmp_path / "c.tar.gz"), "--model", str(tmp_path / "gone.onnx")])
    assert missing.exit_code == 2 and "gone.onnx" in missing.output, missing.output
    assert not (tmp_path / "c.tar.gz").exists()


def test_prepare_names_the_model_file_without_its_folder(laptop: Path) -> None:
    model = laptop / "small.onnx"
    args = ["prepare", "--model", str(model), "--framework", "onnxruntime", "--precision", "fp32"]
    done = CliRunner().invoke(cli.main, args)
    assert done.exit_code == 0, done.output
    assert "small.onnx onnxruntime fp32 → " in done.output and str(laptop) not in done.output


def test_explain_names_the_model_file_without_its_folder(laptop: Path) -> None:
    """The profile `qtui explain` prints and saves names the file, not the folder it came from."""
    from qtui.core import explain
    from qtui.core.explain import render

    model = str(laptop / "small.onnx")
    artifact, _ = prepare_only(small_profile(model=model, framework="onnxruntime", precision="fp32"))
    profile = explain.collect(artifact, model, threads=1, runs=1)
    assert profile.model == "small.onnx"
    assert render.summary_lines(profile)[0].startswith("small.onnx · onnxruntime fp32")
    assert str(laptop) not in json.dumps(explain.to_dict(profile))
