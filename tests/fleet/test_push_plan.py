"""What `fleet study` sends each device, decided from the device's own answer (`qtui fleet needs`,
here run in this process as another machine) — no ssh: an ARM device is never sent an artifact
made with this x86 machine's INT8 static recipe, and each device's line says what was sent and
why something was not."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from qtui.core.profile import StudySpec, SweepSpec, dumps
from qtui.fleet.needs import arch_recipe, device_needs
from qtui.fleet.push import plan_pushes
from tests.conftest import small_profile


def _quantize_linear_dtypes(model_file: Path) -> set[int]:
    """The element types of the activations' QuantizeLinear zero points in an ONNX model."""
    import onnx

    graph = onnx.load(str(model_file)).graph
    inits = {i.name: i.data_type for i in graph.initializer}
    return {inits[n.input[2]] for n in graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in inits}


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the controller here is an x86 machine")
def test_an_arm_device_is_sent_what_this_x86_machine_makes_with_the_arm_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx

    from qtui.core.bundle import import_bundle
    from qtui.fleet.push import export_pushes

    profile = tmp_path / "arm.toml"
    profile.write_text(dumps(small_profile(name="fleet-arm", study=StudySpec(quality=False), sweep=SweepSpec(precisions=("fp32", "int8_static")))))
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "controller-cache"))
    # the device: an aarch64 machine with an empty cache, asked by its own qtui
    with monkeypatch.context() as device:
        device.setattr(platform, "machine", lambda: "aarch64")
        device.setenv("QTUI_CACHE_DIR", str(tmp_path / "device-cache"))
        answer = device_needs(profile)
    assert answer["machine"] == "aarch64"
    cells = {c["precision"]: c for c in answer["cells"]}
    assert [c["state"] for c in answer["cells"]] == ["prepare", "prepare"], answer
    assert cells["fp32"]["recipe"] is None and cells["int8_static"]["recipe"].startswith("v1:static=S8S8")

    # by default a device that can prepare gets nothing
    push = plan_pushes(profile, {"pi-arm": answer}, "auto")["pi-arm"]
    assert push.artifacts == [] and push.summary() == "nothing pushed, prepares 2 itself"

    # every artifact it lacks (--push all): FP32 is the same made anywhere; this machine's own
    # INT8 static is U8S8 (x86), so the device's is made here with ARM's S8S8 recipe, cached
    # apart from this machine's own, and said so
    heard: list[str] = []
    push = plan_pushes(profile, {"pi-arm": answer}, "all", say=heard.append)["pi-arm"]
    assert push.not_pushed == []
    made = {a.meta["precision"]: a for a in push.artifacts}
    assert {p: a.meta["spec_id"] for p, a in made.items()} == {p: c["spec_id"] for p, c in cells.items()}
    int8 = made["int8_static"]
    assert arch_recipe("onnxruntime", "int8_static", int8.meta["tools"]) == cells["int8_static"]["recipe"]
    assert int8.meta["details"]["made_for"] == "aarch64" and int8.meta["details"]["activations"] == "int8"
    assert _quantize_linear_dtypes(int8.path) == {onnx.TensorProto.INT8}  # S8S8: int8 activations
    assert "preparing here with the aarch64 recipe (or from this machine's cache) for pi-arm: mobilenet_v2 onnxruntime int8_static" in heard, heard
    export_pushes({"pi-arm": push})
    assert push.bundle is not None and "mobilenet_v2 onnxruntime int8_static (made here for aarch64)" in push.summary()

    # this machine's own INT8 static is still U8S8, under another key
    from qtui.core.prepare.for_profile import prepare_only
    from qtui.core.profile import load
    from qtui.core.study import StudyOptions, plan

    [own_int8] = [c for c in plan(load(profile), StudyOptions()) if c.precision == "int8_static"][:1]
    own = prepare_only(own_int8)[0]
    assert own.directory != int8.directory and own.meta["spec_id"] == int8.meta["spec_id"]
    assert _quantize_linear_dtypes(own.path) == {onnx.TensorProto.UINT8} and "made_for" not in own.meta["details"]

    # the device imports the bundle: it then has both, and the next `fleet study` sends nothing
    with monkeypatch.context() as device:
        device.setattr(platform, "machine", lambda: "aarch64")
        device.setenv("QTUI_CACHE_DIR", str(tmp_path / "device-cache"))
        import_bundle(push.bundle)
        again = device_needs(profile)
    assert [c["state"] for c in again["cells"]] == ["have", "have"], again
    assert plan_pushes(profile, {"pi-arm": again}, "all")["pi-arm"].summary() == "nothing pushed, has 2"

    # a recipe this qtui does not know (a newer qtui there) is neither made nor sent, said why
    newer = {**answer, "cells": [{**cells["int8_static"], "recipe": "v2:static=S8S8-qdq-perchannel-entropy"}]}
    [why] = plan_pushes(profile, {"pi-new": newer}, "all")["pi-new"].not_pushed
    assert why.startswith("mobilenet_v2 onnxruntime int8_static: the device (aarch64) makes it with recipe v2:static=S8S8"), why
    assert "which this qtui cannot make" in why and "v1:static=S8S8" in why, why

    # a device whose cell is another artifact (its data differ: another spec) is sent nothing
    # for it; one that could not answer (an older qtui) is sent nothing and prepares itself
    other = {**answer, "cells": [{**cells["fp32"], "spec_id": "0" * 24, "state": "lacks"}]}
    pushes = plan_pushes(profile, {"pi-other": other, "pi-old": "No such command 'needs'."}, "auto")
    assert pushes["pi-other"].artifacts == [] and "the device's is another artifact" in pushes["pi-other"].summary()
    assert pushes["pi-old"].summary() == "cannot tell what it lacks (No such command 'needs'.): nothing pushed, it prepares what it runs"


def test_an_x86_device_gets_its_own_vnni_recipe() -> None:
    """An x86 device says by its recipe whether its CPU has VNNI (7-bit weights without it): the
    target made for it follows, whatever this machine's CPU has."""
    from qtui.core.prepare import onnxruntime as ortprep
    from qtui.core.prepare.target import preparing_for
    from qtui.fleet.needs import device_target

    for recipe, vnni in (("v1:static=U8S8-qdq-perchannel-minmax-rr", False), ("v1:static=U8S8-qdq-perchannel-minmax", True)):
        target = device_target("x86_64", recipe)
        assert target.vnni is vnni
        with preparing_for(target):
            assert arch_recipe("onnxruntime", "int8_static", ortprep.tool_versions()) == recipe
    assert device_target("aarch64", "v1:static=S8S8-qdq-perchannel-minmax").vnni is None
    with preparing_for(device_target("aarch64", None)):
        assert ortprep._recipe_id() == "v1:static=S8S8-qdq-perchannel-minmax"


def test_the_architecture_bound_recipes_are_read_from_the_tools_that_make_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """ONNX Runtime's INT8 static and PyTorch's INT8 depend on the CPU they are made on; the
    other artifacts do not (the same recipe for x86 and ARM)."""
    from qtui.core.prepare import onnxruntime as ort_prep
    from qtui.core.prepare import torch as torch_prep

    tools = {}
    for machine in ("x86_64", "aarch64"):
        monkeypatch.setattr(platform, "machine", lambda m=machine: m)
        tools[machine] = {"onnxruntime": ort_prep.tool_versions(), "torch": torch_prep.tool_versions()}
    assert arch_recipe("onnxruntime", "int8_static", tools["x86_64"]["onnxruntime"]) != arch_recipe("onnxruntime", "int8_static", tools["aarch64"]["onnxruntime"])
    assert arch_recipe("torch", "int8_dynamic", tools["x86_64"]["torch"]) == "x86" and arch_recipe("torch", "int8_static", tools["aarch64"]["torch"]) == "qnnpack"
    for framework, precision in (("onnxruntime", "fp32"), ("onnxruntime", "int8_dynamic"), ("torch", "fp16")):
        assert arch_recipe(framework, precision, tools["x86_64"][framework]) is None is arch_recipe(framework, precision, tools["aarch64"][framework])


def test_a_cell_broken_on_the_device_is_named_not_pushed(tmp_path: Path) -> None:
    """A cell the device cannot even look up (its calibration images are not there) is an
    error there, named under the table, and nothing is prepared here for it."""
    from dataclasses import replace

    base = small_profile(name="fleet-broken", precision="int8_static", study=StudySpec(quality=False))
    profile = tmp_path / "broken.toml"
    profile.write_text(dumps(replace(base, dataset=replace(base.dataset, source=str(tmp_path / "no-such-images")))))
    answer = device_needs(profile)
    [cell] = answer["cells"]
    assert cell["state"] == "error" and "no-such-images" in cell["reason"], cell
    push = plan_pushes(profile, {"pi-a": answer}, "all")["pi-a"]
    assert push.artifacts == [] and push.summary().startswith("nothing pushed; not pushed: mobilenet_v2 onnxruntime int8_static: "), push.summary()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the controller here is an x86 machine")
def test_a_pi_gets_pytorch_int8_made_here_for_qnnpack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyTorch's INT8 is packed and calibrated per engine: an ARM device's is made here with
    QNNPACK (which this x86 build has), and this machine's own stays on the x86 engine."""
    from qtui.core.prepare import torch as torch_prep
    from qtui.core.prepare.target import Target, preparing_for

    with preparing_for(Target("aarch64")):
        assert torch_prep.tool_versions()["quantized_engine"] == "qnnpack"
        assert torch_prep.select_engine() == ("qnnpack", "qnnpack")
    assert torch_prep.tool_versions()["quantized_engine"] == "x86"  # outside: this machine again

    profile = tmp_path / "torch.toml"
    profile.write_text(dumps(small_profile(
        name="fleet-torch", framework="torch", study=StudySpec(quality=False),
        sweep=SweepSpec(frameworks=("torch",), precisions=("int8_dynamic",)),
    )))
    monkeypatch.setenv("QTUI_CACHE_DIR", str(tmp_path / "controller-cache"))
    with monkeypatch.context() as device:
        device.setattr(platform, "machine", lambda: "aarch64")
        device.setenv("QTUI_CACHE_DIR", str(tmp_path / "device-cache"))
        answer = device_needs(profile)
    [cell] = answer["cells"]
    assert (cell["state"], cell["recipe"]) == ("prepare", "qnnpack"), cell
    push = plan_pushes(profile, {"pi-arm": answer}, "all")["pi-arm"]
    [artifact] = push.artifacts
    assert artifact.meta["tools"]["quantized_engine"] == "qnnpack" and artifact.meta["spec_id"] == cell["spec_id"]
    assert artifact.meta["details"]["quantized_engine"] == "qnnpack" and artifact.meta["details"]["made_for"] == "aarch64"
    assert push.summary().startswith("pushed mobilenet_v2 torch int8_dynamic (made here for aarch64) (bundle ")
