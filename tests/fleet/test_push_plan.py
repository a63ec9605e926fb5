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


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the controller here is an x86 machine")
def test_an_arm_device_is_never_sent_what_this_x86_machine_makes_its_own_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = tmp_path / "arm.toml"
    profile.write_text(dumps(small_profile(name="fleet-arm", study=StudySpec(quality=False), sweep=SweepSpec(precisions=("fp32", "int8_static")))))
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

    # every artifact it lacks (--push all): FP32 is the same made anywhere and is sent; this
    # machine's INT8 static is U8S8 (x86), the device's S8S8: not prepared, not sent, said why
    push = plan_pushes(profile, {"pi-arm": answer}, "all")["pi-arm"]
    assert [(a.meta["precision"], a.meta["spec_id"]) for a in push.artifacts] == [("fp32", cells["fp32"]["spec_id"])]
    [why] = push.not_pushed
    assert why.startswith("mobilenet_v2 onnxruntime int8_static: made here (x86_64) with recipe v1:static=U8S8"), why
    assert "the device (aarch64) makes it with v1:static=S8S8" in why and why.endswith("prepare it on an aarch64 machine")

    # a device whose cell is another artifact (its data differ: another spec) is sent nothing
    # for it; one that could not answer (an older qtui) is sent nothing and prepares itself
    other = {**answer, "cells": [{**cells["fp32"], "spec_id": "0" * 24, "state": "lacks"}]}
    pushes = plan_pushes(profile, {"pi-other": other, "pi-old": "No such command 'needs'."}, "auto")
    assert pushes["pi-other"].artifacts == [] and "the device's is another artifact" in pushes["pi-other"].summary()
    assert pushes["pi-old"].summary() == "cannot tell what it lacks (No such command 'needs'.): nothing pushed, it prepares what it runs"


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
