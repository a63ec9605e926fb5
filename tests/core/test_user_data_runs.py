"""Real runs on the user's own data: MobileNetV2 through ONNX Runtime (FP32 and INT8 static)
and the real LoadGen on a plain picture folder (fidelity against FP32), class folders and a
labelled .npz file (top-1), calibration on the data by default and on synthetic images only when
asked (then marked in the run table and the study table), artifacts keyed by the data's content,
results that name the data without the user's path, and bad data refused with exit 2 before
any work."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core.data import SyntheticDataset
from qtui.core.profile import DatasetSpec, InputSpec, RunProfile
from qtui.core.run_table import table_rows
from qtui.core.runner import SYNTHETIC_CALIBRATION_WARNING, run
from qtui.core.study_tables import (
    STUDY_SYNTHETIC_CALIBRATION_MARK,
    STUDY_SYNTHETIC_CALIBRATION_NOTE,
    study_markdown,
)
from tests.conftest import small_profile
from tests.core.test_user_data import _truncate, make_classes, make_pictures

pytest.importorskip("onnxruntime")


def _profile(source: Path, precision: str = "fp32", mode: str = "performance", **dataset: Any) -> RunProfile:
    spec = DatasetSpec(source=str(source), count=0, performance_sample_count=8, calibration_count=8)
    return small_profile(precision=precision, mode=mode, dataset=replace(spec, **dataset))


def _ok(result: Any) -> Any:
    assert result.status == "ok", result.message
    return result


def _no_full_path(result: Any, folder: Path) -> None:
    """Nothing the run records about its data holds the user's full path."""
    recorded = json.dumps({k: v for k, v in result.provenance.items()})
    assert str(folder.parent) not in recorded


def test_plain_folder_fidelity_and_calibration_on_the_pictures(tmp_path: Path) -> None:
    root = make_pictures(tmp_path / "holiday", 8)
    fp32 = _ok(run(_profile(root, mode="accuracy")))
    prov = fp32.provenance
    assert prov["data_kind"] == "images" and prov["data_count"] == 8 and prov["data_name"] == "holiday"
    assert prov["data_has_labels"] is False and len(prov["data_digest"]) == 16
    assert prov["preprocess"] == "resize 256, centre crop 224, ImageNet mean/std, NCHW"
    assert "top1" not in fp32.accuracy and fp32.accuracy["fidelity"]["samples"] == 8
    assert fp32.accuracy["fidelity"]["cosine"] > 0.9999  # FP32 ORT against FP32 torch
    _no_full_path(fp32, root)

    int8 = _ok(run(_profile(root, "int8_static", mode="accuracy")))
    assert int8.provenance["calibration_data"] == "data"
    assert int8.provenance["calibration"].startswith("8 of your pictures in 'holiday'")
    assert "top1" not in int8.accuracy and int8.accuracy["fidelity"]["samples"] == 8
    assert not any("synthetic" in w for w in int8.environment.get("warnings", []))
    on_synthetic = _ok(run(replace(_profile(root, "int8_static"), dataset=DatasetSpec(count=32, calibration_count=8, performance_sample_count=8))))
    assert on_synthetic.artifact["key"] != int8.artifact["key"]  # calibrated on other images


def test_same_pictures_elsewhere_reuse_the_artifact_other_pictures_do_not(tmp_path: Path) -> None:
    first = _ok(run(_profile(make_pictures(tmp_path / "a", 6), "int8_static")))
    moved = _ok(run(_profile(make_pictures(tmp_path / "b", 6), "int8_static")))
    assert moved.artifact["key"] == first.artifact["key"] and moved.artifact["cache_hit"]
    other = make_pictures(tmp_path / "c", 6)
    make_pictures(tmp_path / "d", 1)
    (other / "a.jpg").write_bytes((tmp_path / "d" / "a.jpg").read_bytes())
    from tests.core.test_user_data import _picture

    _picture(other / "a.jpg", 77)  # one picture differs
    changed = _ok(run(_profile(other, "int8_static")))
    assert changed.artifact["key"] != first.artifact["key"] and not changed.artifact["cache_hit"]
    assert changed.provenance["data_digest"] != first.provenance["data_digest"]


def test_class_folders_top1(tmp_path: Path) -> None:
    root = make_classes(tmp_path / "pets", ("cat", "dog", "fish"), per=3)
    for precision in ("fp32", "int8_static"):
        result = _ok(run(_profile(root, precision, mode="accuracy", kind="classes")))
        acc = result.accuracy
        assert acc["labels"] == "class folders" and acc["samples"] == 9
        assert 0.0 <= acc["top1"] <= 1.0 and "fidelity" in acc
        assert result.provenance["data_kind"] == "classes" and result.provenance["data_has_labels"]


def test_npz_tensors_top1_and_npy_performance(tmp_path: Path) -> None:
    x = SyntheticDataset(12, seed=5).get_batch(list(range(12)))
    np.savez(tmp_path / "inputs.npz", input=x, labels=np.arange(12) * 80)
    for precision in ("fp32", "int8_static"):
        result = _ok(run(_profile(tmp_path / "inputs.npz", precision, mode="accuracy")))
        assert result.accuracy["labels"] == "the .npz file's labels" and 0.0 <= result.accuracy["top1"] <= 1.0
        assert result.provenance["data_kind"] == "tensors" and result.provenance["preprocess"] == "as given (tensors)"
    np.save(tmp_path / "inputs.npy", x)
    perf = _ok(run(_profile(tmp_path / "inputs.npy", "int8_static")))
    assert perf.provenance["data_count"] == 12 and perf.throughput["samples_per_s"] > 0


def test_preprocessing_is_applied_and_recorded(tmp_path: Path) -> None:
    root = make_pictures(tmp_path / "pics", 4)
    prof = replace(_profile(root, mode="accuracy"), input=InputSpec(resize=224, normalize="none"))
    result = _ok(run(prof))
    assert result.provenance["preprocess"] == "resize 224, centre crop 224, no normalisation (0-255 values), NCHW"
    assert result.profile.input == InputSpec(resize=224, normalize="none")
    default = _ok(run(_profile(root, mode="accuracy")))
    assert result.provenance["data_digest"] == default.provenance["data_digest"]
    assert result.accuracy["fidelity"]["samples"] == 4
    # what reached the model: the pictures' 0-255 values, not ImageNet-normalised ones
    from qtui.core.profile_data import open_profile_dataset

    sample = open_profile_dataset(prof).get(0)
    assert sample.min() >= 0 and sample.max() > 200


def test_synthetic_calibration_is_explicit_and_marked(tmp_path: Path) -> None:
    root = make_pictures(tmp_path / "pics", 6)
    fp32 = _ok(run(_profile(root)))
    marked = _ok(run(_profile(root, "int8_static", calibration="synthetic")))
    # 8 synthetic images calibrate it: no "the data set has 6 images" warning
    assert not any(w.startswith("dataset.calibration_count") for w in marked.environment["warnings"])
    assert marked.provenance["calibration_data"] == "synthetic"
    assert marked.provenance["calibration"] == "8 of synthetic structured images (seed 0, 8 images) — no labels"
    assert SYNTHETIC_CALIBRATION_WARNING in marked.environment["warnings"]
    rows = {r["run_id"]: r for r in table_rows([fp32, marked])}
    assert SYNTHETIC_CALIBRATION_WARNING in rows[marked.run_id]["warnings"]
    assert SYNTHETIC_CALIBRATION_WARNING not in rows[fp32.run_id]["warnings"]
    table = study_markdown([fp32, marked])
    cells = [ln for ln in table.splitlines() if ln.startswith("| ONNX Runtime")]
    assert len(cells) == 1 and cells[0].count(STUDY_SYNTHETIC_CALIBRATION_MARK) == 1  # the INT8s cell
    assert STUDY_SYNTHETIC_CALIBRATION_NOTE in table
    on_data = _ok(run(_profile(root, "int8_static")))
    assert STUDY_SYNTHETIC_CALIBRATION_MARK not in study_markdown([fp32, on_data])
    assert on_data.artifact["key"] != marked.artifact["key"]


def _cli_run(profile: RunProfile, tmp_path: Path) -> Any:
    from qtui.core.profile import save

    path = save(profile, tmp_path / "p.toml", overwrite=True)
    return CliRunner().invoke(cli.main, ["run", str(path), "--results-dir", str(tmp_path / "results")])


@pytest.mark.parametrize("problem", ["truncated", "empty", "one-class", "npy-shape", "ambiguous"])
def test_bad_data_exits_2_before_any_work(tmp_path: Path, problem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "fresh-cache"
    monkeypatch.setenv("QTUI_CACHE_DIR", str(cache))
    kind = "auto"
    if problem == "truncated":
        source = make_pictures(tmp_path / "pics", 4)
        _truncate(source / "b.PNG")
        expected = f"{source / 'b.PNG'}: corrupt or truncated"
    elif problem == "empty":
        source = tmp_path / "nothing"
        source.mkdir()
        expected = "nothing: no pictures in this folder or below"
    elif problem == "one-class":
        source, kind = make_classes(tmp_path / "one", ("cat",)), "classes"
        expected = "top-1 needs at least two classes"
    elif problem == "npy-shape":
        source = tmp_path / "x.npy"
        np.save(source, np.zeros((2, 224, 224, 3), np.float32))
        expected = "the model takes N×3×224×224"
    else:
        source = make_classes(tmp_path / "albums", ("2023", "2024"))
        expected = "set dataset.kind = 'classes'"
    result = _cli_run(_profile(source, "int8_static", kind=kind), tmp_path)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    assert not (cache / "artifacts").exists() or not any((cache / "artifacts").iterdir())
    assert not (cache / "data").exists() or not any((cache / "data").iterdir())
