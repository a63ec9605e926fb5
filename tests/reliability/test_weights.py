"""Weights files that are not state dicts get qtui's own message: never torch's advice to retry
with weights_only=False (which would let the file run code), never a traceback."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from qtui.core.models import load_model
from qtui.core.models.weights import WeightsError


class _Payload:
    """Stands for any pickled object a hostile or careless file could carry."""


def _load(path: Path) -> str:
    with pytest.raises(WeightsError) as caught:
        load_model("mobilenet_v2", weights="file", path=str(path))
    text = str(caught.value)
    assert "weights_only=False" not in text and "Re-running" not in text
    assert "\x1b" not in text  # torch's message carries ANSI bold
    assert str(path) in text
    return text


def test_a_whole_pickled_model_is_named_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    text = _load(path)
    assert "holds pickled Python objects (it contains torch.nn.modules.linear.Linear)" in text
    assert "torch.save(model.state_dict(), path)" in text


def test_a_pickled_foreign_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "payload.pth"
    torch.save({"weight": _Payload()}, path)
    assert f"(it contains {__name__}._Payload)" in _load(path)


@pytest.mark.parametrize(
    "name, write, expected",
    [
        ("empty.pth", lambda p: p.write_bytes(b""), "is empty"),
        ("text.pth", lambda p: p.write_text("hello"), "is not a PyTorch state dict file"),
        ("zip.pth", lambda p: zipfile.ZipFile(p, "w").writestr("a", "b"), "is not a PyTorch state dict file"),
        ("plain-pickle.pth", lambda p: p.write_bytes(pickle.dumps({"x": 1}, protocol=4)), "pickled Python objects"),
    ],
)
def test_files_that_are_not_state_dicts(tmp_path: Path, name: str, write, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    write(path)
    assert expected in _load(path)
