"""The user's own ONNX model as `model`: a small CNN exported here (torch → ONNX) runs through
ONNX Runtime (4 precisions) and OpenVINO (3) with the real runtimes and LoadGen; the other cells
are refused with their reason; bad files get a message naming the file, exit 2 and nothing in
the cache."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.core import catalog, model_table
from qtui.core.model_source import ModelSourceError, file_digest, inspect_onnx, source_kind
from qtui.core.runner import run
from tests.conftest import small_profile

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")


class SmallCNN(torch.nn.Module):
    """Conv-BN-ReLU ×2 with strides, global pool, a 10-class head: a CNN in miniature."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, stride=4, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=4, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        )
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x: Any) -> Any:
        return self.head(self.features(x).mean((2, 3)))


def _export(path: Path, dynamic: dict[str, dict[int, str]] | None = None, external: bool = False) -> Path:
    torch.manual_seed(0)
    net = SmallCNN().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so INT8 has ranges to calibrate
        for bn in (net.features[1], net.features[4]):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    torch.onnx.export(
        net, (torch.zeros(1, 3, 224, 224),), str(path), input_names=["pixels"], output_names=["scores"],
        dynamic_axes=dynamic if dynamic is not None else {"pixels": {0: "n"}, "scores": {0: "n"}},
        opset_version=17, dynamo=False,
    )
    if external:
        model = onnx.load(str(path))
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=0)
    return path


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("user-onnx")
    _export(root / "small.onnx")
    (root / "ext").mkdir()
    _export(root / "ext" / "small_ext.onnx", external=True)
    _export(root / "open_hw.onnx", dynamic={"pixels": {0: "n", 2: "h", 3: "w"}, "scores": {0: "n"}})
    return root


# -- inspecting the file ------------------------------------------------------------------------


def test_inspect_reads_input_digest_and_provenance(models_dir: Path) -> None:
    found = inspect_onnx(str(models_dir / "small.onnx"))
    assert (found.input_name, found.input_shape, found.output_name) == ("pixels", ("n", 3, 224, 224), "scores")
    data = (models_dir / "small.onnx").read_bytes()
    expected = hashlib.sha256(b"qtui-model-files-v1\0" + f"small.onnx\0{len(data)}\0".encode() + data).hexdigest()
    assert found.digest == expected and found.size_bytes == len(data)
    assert "small.onnx" in found.provenance and str(models_dir) not in found.provenance
    record = found.record()
    assert record["file"] == "small.onnx" and record["sha256"] == expected
    assert str(models_dir) not in str(record)


def test_external_data_is_part_of_the_digest(models_dir: Path) -> None:
    found = inspect_onnx(str(models_dir / "ext" / "small_ext.onnx"))
    assert [p.name for p in found.external] == ["small_ext.onnx.data"]
    assert (found.digest, found.size_bytes) == file_digest([found.path, *found.external])
    assert found.size_bytes > (models_dir / "ext" / "small_ext.onnx").stat().st_size


def test_source_kinds() -> None:
    assert source_kind("resnet50") == "builtin"
    assert source_kind("some/where/My.ONNX") == "onnx"
    assert source_kind("alexnet") == "unknown"


def _bad(tmp_path: Path, models_dir: Path, case: str) -> Path:
    if case == "text":
        path = tmp_path / "notes.onnx"
        path.write_text("this is a shopping list, not a network\n" * 20)
    elif case == "truncated":
        path = tmp_path / "cut.onnx"
        path.write_bytes((models_dir / "small.onnx").read_bytes()[:700])
    elif case == "empty":
        path = tmp_path / "empty.onnx"
        path.write_bytes(b"")
    elif case == "missing":
        path = tmp_path / "absent.onnx"
    elif case == "huge":  # sparse: 3 GiB that take no disk space, and are never read
        path = tmp_path / "huge.onnx"
        with path.open("wb") as fh:
            fh.truncate(3 * 2**30)
    elif case in ("external-missing", "external-truncated"):
        folder = tmp_path / case
        shutil.copytree(models_dir / "ext", folder)
        path = folder / "small_ext.onnx"
        data = folder / "small_ext.onnx.data"
        if case == "external-missing":
            data.unlink()
        else:
            data.write_bytes(data.read_bytes()[:100])
    elif case == "open-dims":
        path = models_dir / "open_hw.onnx"
    elif case == "unknown-op":
        model = onnx.load(str(models_dir / "small.onnx"))
        model.graph.node[0].op_type = "FrobnicateConv"
        path = tmp_path / "frob.onnx"
        onnx.save(model, str(path))
    else:
        raise AssertionError(case)
    return path


BAD = {
    "text": "is not an ONNX model",
    "truncated": "is not an ONNX model, or is truncated",
    "empty": "is empty",
    "missing": "does not exist",
    "huge": "is 3.0 GiB: no ONNX file can exceed 2 GiB",
    "external-missing": "keeps its weights in small_ext.onnx.data, which is not beside it",
    "external-truncated": "is truncated",
    "open-dims": "leaves the image's height and width open besides the batch",
    "unknown-op": "FrobnicateConv",
}


@pytest.mark.parametrize("case", sorted(set(BAD) - {"open-dims"}))  # open dims: with the profile (test_user_inputs)
def test_bad_files_are_named_with_what_to_do(tmp_path: Path, models_dir: Path, case: str) -> None:
    path = _bad(tmp_path, models_dir, case)
    with pytest.raises(ModelSourceError) as caught:
        inspect_onnx(str(path))
    assert BAD[case] in str(caught.value)
    assert path.name in str(caught.value)


def _artifacts(cache: Path) -> list[str]:
    root = cache / "artifacts"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


@pytest.mark.parametrize("case", ["text", "truncated", "external-missing", "open-dims", "unknown-op"])
def test_run_refuses_a_bad_file_with_exit_2_and_writes_nothing(
    tmp_path: Path, models_dir: Path, case: str, session_cache: Path
) -> None:
    path = _bad(tmp_path, models_dir, case)
    before = _artifacts(session_cache)
    out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"model={path}"])
    assert out.exit_code == 2, out.output
    assert path.name in out.output and BAD[case] in out.output
    assert "Traceback" not in out.output
    assert _artifacts(session_cache) == before
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("framework", "words"), [
    ("onnxruntime", "ONNX Runtime cannot run model custom.onnx"),
    ("openvino", "OpenVINO cannot convert model custom.onnx"),
])
def test_a_runtime_refusal_is_named_with_the_framework(
    tmp_path: Path, models_dir: Path, session_cache: Path, framework: str, words: str
) -> None:
    """An operator ONNX knows (a custom domain passes its checker) but the runtime does not
    have: `run` names the framework that refused it, exits 2, leaves nothing in the cache."""
    model = onnx.load(str(models_dir / "small.onnx"))
    model.graph.node[0].domain = "com.example"
    model.opset_import.append(onnx.helper.make_opsetid("com.example", 1))
    path = tmp_path / "custom.onnx"
    onnx.save(model, str(path))
    before = _artifacts(session_cache)
    out = CliRunner().invoke(cli.main, ["run", "quick", "--set", f"model={path}", "--set", f"framework={framework}"])
    assert out.exit_code == 2, out.output
    assert words in out.output and "Conv" in out.output
    assert _artifacts(session_cache) == before


# -- which cells run ----------------------------------------------------------------------------

OFFERED = {("onnxruntime", p) for p in ("fp32", "fp16", "int8_dynamic", "int8_static")} | {
    ("openvino", p) for p in ("fp32", "fp16", "int8_static")
}


def test_the_onnx_source_offers_ort_and_openvino_only(models_dir: Path) -> None:
    model = str(models_dir / "small.onnx")
    kind = model_table.source_kind("onnx")
    for a in catalog.matrix(model):
        if (a.framework, a.precision) in OFFERED:
            assert kind.allows(a.framework, a.precision)
            assert a.available == (catalog.unavailable_reason(a.framework, a.precision) is None)
        else:
            assert not a.available, a
            assert a.reason == kind.reason(a.framework, a.precision)
    reasons = {(a.framework, a.precision): a.reason for a in catalog.matrix(model)}
    assert "weight-only" in reasons[("openvino", "int8_dynamic")]
    assert "ONNX" in reasons[("tflite", "fp32")] and "ONNX" in reasons[("torch", "int8_static")]


@pytest.mark.parametrize(("framework", "precision"), [("tflite", "fp32"), ("torch", "int8_static"), ("openvino", "int8_dynamic")])
def test_run_refuses_a_cell_the_source_cannot_fill(models_dir: Path, framework: str, precision: str, session_cache: Path) -> None:
    before = _artifacts(session_cache)
    out = CliRunner().invoke(cli.main, [
        "run", "quick", "--set", f"model={models_dir / 'small.onnx'}",
        "--set", f"framework={framework}", "--set", f"precision={precision}",
    ])
    assert out.exit_code == 2, out.output
    assert model_table.source_kind("onnx").reason(framework, precision) in out.output
    assert _artifacts(session_cache) == before


def test_doctor_names_the_cells_of_a_model(models_dir: Path) -> None:
    out = CliRunner().invoke(cli.main, ["doctor", "--model", str(models_dir / "small.onnx")])
    assert out.exit_code == 0, out.output
    assert "for model small.onnx" in out.output
    tflite = [line for line in out.output.splitlines() if "TensorFlow Lite" in line and "FP32" in line]
    assert tflite and tflite[0].lstrip().startswith("no") and "ONNX" in tflite[0]
    bad = CliRunner().invoke(cli.main, ["doctor", "--model", str(models_dir / "nothing.onnx")])
    assert bad.exit_code == 2 and "nothing.onnx" in bad.output


# -- running the cells --------------------------------------------------------------------------


def _profile(model: Path, framework: str, precision: str, **changes: Any) -> Any:
    return small_profile(model=str(model), framework=framework, precision=precision, **changes)


@pytest.mark.parametrize(("framework", "precision"), sorted(OFFERED))
def test_every_offered_cell_runs_with_loadgen(models_dir: Path, framework: str, precision: str) -> None:
    if catalog.unavailable_reason(framework, precision):
        pytest.skip(catalog.unavailable_reason(framework, precision) or "")
    result = run(_profile(models_dir / "small.onnx", framework, precision), lambda e: None)
    assert result.status in ("ok", "invalid"), result.message
    assert result.throughput["samples"] > 0 and result.latency_ms["p90"] > 0
    model = result.provenance["model"]
    assert model["file"] == "small.onnx" and model["sha256"] == inspect_onnx(str(models_dir / "small.onnx")).digest
    assert str(models_dir) not in str(result.provenance)
    assert result.artifact["executed_precision"]
    assert "/" not in result.run_id and "-small-" in result.run_id
    from qtui.core.paths import results_dir
    from qtui.core.results import load_results_dirs

    saved = [r.run_id for r in load_results_dirs([results_dir()])]
    assert saved == [result.run_id]  # saved in its own folder of the results folder, found again


def test_fidelity_is_against_the_fp32_artifact_of_the_same_file(models_dir: Path) -> None:
    """INT8 static in accuracy mode: fidelity against ONNX Runtime FP32 on the same file; the
    FP32 run itself is identical to that reference."""
    path = models_dir / "ext" / "small_ext.onnx"  # external data: copied into the artifact
    fp32 = run(_profile(path, "onnxruntime", "fp32", mode="accuracy", scenario="Offline"), lambda e: None)
    assert fp32.status == "ok", fp32.message
    assert fp32.accuracy["reference"] == "FP32 ONNX Runtime on the same model file and samples"
    assert fp32.accuracy["fidelity"]["sqnr_db"] == float("inf") or fp32.accuracy["fidelity"]["max_abs_diff"] == 0
    int8 = run(_profile(path, "onnxruntime", "int8_static", mode="accuracy", scenario="Offline"), lambda e: None)
    assert int8.status == "ok", int8.message
    fid = int8.accuracy["fidelity"]
    assert 10.0 < fid["sqnr_db"] < float("inf") and fid["cosine"] > 0.95, fid


def test_the_file_digest_is_in_the_artifact_key(tmp_path: Path, models_dir: Path) -> None:
    """Two files with the same name and different weights make two artifacts; the same file
    twice is a cache hit."""
    from qtui.core.runner import prepare_only

    first = tmp_path / "a" / "net.onnx"
    second = tmp_path / "b" / "net.onnx"
    first.parent.mkdir()
    second.parent.mkdir()
    shutil.copy(models_dir / "small.onnx", first)
    model = onnx.load(str(models_dir / "small.onnx"))
    weight = model.graph.initializer[0]
    values = np.frombuffer(weight.raw_data, dtype=np.float32).copy() * 1.5
    weight.raw_data = values.tobytes()
    onnx.save(model, str(second))
    a, hit_a = prepare_only(_profile(first, "onnxruntime", "fp32"))
    b, hit_b = prepare_only(_profile(second, "onnxruntime", "fp32"))
    again, hit_again = prepare_only(_profile(first, "onnxruntime", "fp32"))
    assert a.directory != b.directory and again.directory == a.directory
    assert (hit_a, hit_b, hit_again) == (False, False, True)
    assert a.meta["model"] == "onnx:net.onnx" and str(tmp_path) not in str(a.meta["weights"])
    assert a.meta["weights"] == f"onnx-file:{inspect_onnx(str(first)).digest}"


def test_study_names_and_skips_what_the_source_cannot_fill(models_dir: Path, tmp_path: Path) -> None:
    """`qtui study` over ONNX Runtime and TFLite FP32 of an ONNX model: TFLite named and
    skipped, ONNX Runtime measured and in the study table under the file's name."""
    profile = tmp_path / "study.toml"
    model = (models_dir / "small.onnx").as_posix()
    profile.write_text(
        f'name = "mine"\nmodel = "{model}"\nthreads = 2\nwarmup_queries = 2\n'
        '[dataset]\ncount = 32\nperformance_sample_count = 32\ncalibration_count = 16\n'
        '[loadgen]\npreset = "quick"\nmin_duration_ms = 0\n'
        '[sweep]\nframeworks = ["onnxruntime", "tflite"]\nprecisions = ["fp32"]\nscenarios = ["SingleStream"]\n'
        '[study]\nrepeats = 1\n'
    )
    out = CliRunner().invoke(cli.main, ["study", str(profile), "--results-dir", str(tmp_path / "res")])
    assert out.exit_code == 0, out.output
    reason = model_table.source_kind("onnx").reason("tflite", "fp32")
    assert f"not measured here: tflite fp32: {reason}" in out.output
    heading = [line for line in out.output.splitlines() if "· SingleStream" in line]
    assert heading and heading[0].split(" · ")[0].lstrip("#* ") == "small.onnx", out.output


def test_run_ids_and_profile_names_carry_the_file_stem_not_its_folder() -> None:
    from qtui.core.model_source import model_slug
    from qtui.core.profile_store import suggest_name
    from qtui.core.runner import new_run_id

    profile = small_profile(model="/home/me/models/My Net (v2).onnx")
    assert model_slug(profile.model) == "My_Net_v2"
    assert "-My_Net_v2-onnxruntime-fp32-" in new_run_id(profile) and "/" not in new_run_id(profile)
    assert suggest_name(profile) == "My_Net_v2-onnxruntime-fp32-singlestream"
    assert model_slug("resnet50") == "resnet50"
