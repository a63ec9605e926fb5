"""The user's own model after its runs: fidelity for outputs that are not class scores, the
recommendation's wording (its reference is the FP32 artifact of the same file; its weights are
never "random"), what it cannot run, and `report`/`recommend`/`study` naming the file, never its
folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from qtui.cli import main
from qtui.core import model_table
from qtui.core.fidelity import fidelity, is_class_vector
from qtui.core.recommend import RANDOM_WEIGHTS_CAVEAT, USER_UNLABELLED_CAVEAT, recommend
from qtui.core.results import RunResult, table_rows
from qtui.core.study import CellStatus
from tests.conftest import small_profile
from tests.core.test_study_table import make_run, save_all

USER_MODEL = "/home/someone/private/models/my_net.onnx"
FOLDER = "/home/someone"


def test_fidelity_judges_agreement_only_for_class_vectors() -> None:
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((16, 4, 8, 8)).astype(np.float32)
    noisy = maps + np.float32(0.01) * rng.standard_normal(maps.shape).astype(np.float32)
    fid = fidelity(maps, noisy)
    assert set(fid) == {"samples", "sqnr_db", "cosine", "max_abs_diff"}
    assert 30 < fid["sqnr_db"] < 50 and fid["cosine"] > 0.99 and fid["samples"] == 16
    scores = rng.standard_normal((16, 10, 1, 1)).astype(np.float32)  # a classifier's 1×1 head
    assert is_class_vector(scores) and "centred_top1_agreement" in fidelity(scores, scores)
    assert not is_class_vector(maps) and not is_class_vector(np.zeros((4, 1), np.float32))


def _user_runs(agreement: bool) -> list[RunResult]:
    fid = {"sqnr_db": 28.0, "cosine": 0.9987, "samples": 256}
    if agreement:
        fid.update(centred_top1_agreement=0.9, centred_distinct_classes=10)
    acc = {"samples": 256, "logged_responses": 256, "fidelity": fid,
           "reference": "FP32 ONNX Runtime on the same model file and samples"}
    return [
        make_run("u-f", "fp32", 20.0, model=USER_MODEL),
        make_run("u-i", "int8_static", 8.0, model=USER_MODEL),
        make_run("u-i-acc", "int8_static", 1.0, mode="accuracy", accuracy=acc, model=USER_MODEL),
    ]


def test_recommendation_names_the_reference_the_accuracy_run_recorded() -> None:
    """recommend names what the run recorded as its reference (one line), not a guess from the
    model's kind; a result from before that field gets the runner's reference for its kind."""
    runs = _user_runs(agreement=False)
    runs[2].accuracy["reference"] = "FP32 TensorFlow Lite on the same model file\nand samples"
    (answer,) = recommend(runs, unavailable=lambda f, p: None, this_host="elsewhere")
    assert answer.best is not None
    assert answer.best.quality.summary.startswith(
        "fidelity against FP32 TensorFlow Lite on the same model file and 256 samples: SQNR 28.0 dB"
    ), answer.best.quality.summary
    del runs[2].accuracy["reference"]
    (old,) = recommend(runs, unavailable=lambda f, p: None, this_host="elsewhere")
    assert old.best is not None
    assert old.best.quality.summary.startswith("fidelity against FP32 ONNX Runtime on the same model file and 256")


def test_recommendation_for_a_user_model_names_its_own_reference_and_what_it_cannot_run() -> None:
    (answer,) = recommend(_user_runs(agreement=False), unavailable=lambda f, p: None, this_host="elsewhere")
    best = answer.best
    assert best is not None and (best.cell.framework, best.cell.precision) == ("onnxruntime", "int8_static")
    assert best.quality.summary == (
        "fidelity against FP32 ONNX Runtime on the same model file and 256 samples: SQNR 28.0 dB (≥ 20), "
        "cosine 0.9987; no top-1 agreement: the output is not a class vector"
    )
    assert best.quality.caveat == USER_UNLABELLED_CAVEAT
    text = "\n".join(answer.text_lines())
    assert RANDOM_WEIGHTS_CAVEAT not in text and "PyTorch on the same weights" not in text
    assert answer.title.startswith("my_net.onnx · SingleStream") and FOLDER not in text
    onnx = model_table.source_kind("onnx")
    reasons = {(f, p): r for f, p, r in answer.not_measured}
    assert reasons[("tflite", "fp32")] == onnx.reason("tflite", "fp32")
    assert reasons[("torch", "int8_static")] == onnx.reason("torch", "int8_static")
    assert reasons[("openvino", "int8_dynamic")] == onnx.reason("openvino", "int8_dynamic")
    assert reasons[("openvino", "fp32")] == "not run"  # it can: it was not run
    (classifier,) = recommend(_user_runs(agreement=True), unavailable=lambda f, p: None, this_host="elsewhere")
    assert classifier.best is not None and "centred top-1 agreement 90 % over 10 classes" in classifier.best.quality.summary


def test_report_recommend_and_html_take_and_show_the_file_by_its_name(tmp_path: Path) -> None:
    root = tmp_path / "results"
    save_all(root, _user_runs(agreement=False) + [make_run("b-f", "fp32", 30.0)])
    for model in ("my_net.onnx", "./elsewhere/my_net.onnx", USER_MODEL):
        out = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--model", model, "--format", "csv"])
        assert out.exit_code == 0, out.output
        rows = out.output.strip().splitlines()[1:]
        assert len(rows) == 3 and all(",my_net.onnx," in row for row in rows) and FOLDER not in out.output
    other = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--model", "their_net.onnx"])
    assert other.exit_code != 0 or "my_net" not in other.output
    table = CliRunner().invoke(main, ["report", "--results-dir", str(root)])
    assert "my_net.onnx" in table.output and FOLDER not in table.output
    advice = CliRunner().invoke(main, ["recommend", "--results-dir", str(root), "--model", "my_net.onnx"])
    assert advice.exit_code == 0, advice.output
    assert "my_net.onnx · SingleStream" in advice.output and "MobileNetV2" not in advice.output
    html = tmp_path / "report.html"
    made = CliRunner().invoke(main, ["report", "--results-dir", str(root), "--format", "html", "-o", str(html)])
    assert made.exit_code == 0, made.output
    page = html.read_text()
    assert 'data-model="my_net.onnx"' in page and FOLDER not in page
    assert [r["model"] for r in table_rows(_user_runs(agreement=False))] == ["my_net.onnx"] * 3


def test_study_progress_names_the_file_not_its_folder() -> None:
    assert CellStatus(small_profile(model=USER_MODEL)).label == "my_net.onnx onnxruntime fp32 SingleStream"
    assert CellStatus(small_profile()).label == "mobilenet_v2 onnxruntime fp32 SingleStream"


def test_every_kind_of_user_model_is_labelled_without_its_folder() -> None:
    """Tables, CSV and titles show a user model without the folder it was typed with (the merge
    of ONNX inputs with .tflite and entry points showed a .tflite file's and an entry point's
    full path)."""
    from qtui.core.model_source import model_label

    assert model_label("/home/me/models/my_model.onnx") == "my_model.onnx"
    assert model_label("/home/me/models/My Net.TFLITE") == "My Net.TFLITE"
    assert model_label("/home/me/src/net.py:build") == "net.py:build"
    assert model_label("mypkg.nets:build") == "mypkg.nets:build"
    assert model_label("mobilenet_v2") == "mobilenet_v2"


def test_recommendation_names_the_reference_each_kind_of_user_model_was_measured_against() -> None:
    """A .tflite file's fidelity is against FP32 TensorFlow Lite, an entry point's against FP32
    PyTorch (the runner's references); recommend said "FP32 ONNX Runtime" for every user model."""
    acc = {"samples": 64, "logged_responses": 64, "fidelity": {"sqnr_db": 30.0, "cosine": 0.999, "samples": 64}}
    for model, framework, against in (
        ("/home/someone/m/my_net.tflite", "tflite", "FP32 TensorFlow Lite on the same model file"),
        ("/home/someone/m/net.py:build", "torch", "FP32 PyTorch on the same weights"),
    ):
        runs = [
            make_run("f", "fp32", 20.0, model=model, framework=framework),
            make_run("i", "int8_static", 8.0, model=model, framework=framework),
            make_run("i-acc", "int8_static", 1.0, mode="accuracy", accuracy=acc, model=model, framework=framework),
        ]
        (answer,) = recommend(runs, unavailable=lambda f, p: None, this_host="elsewhere")
        assert answer.best is not None and answer.best.cell.precision == "int8_static", answer.text_lines()
        assert answer.best.quality.summary.startswith(f"fidelity against {against} and 64 samples"), answer.best.quality.summary
        assert "ONNX Runtime" not in answer.best.quality.summary
