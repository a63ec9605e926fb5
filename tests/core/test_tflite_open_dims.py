"""A .tflite file whose one input leaves a dimension besides the batch open (its signature says
-1; the profile's `input.shape` sets it): the backend feeds that input at the shape the samples
have, as it does for a file with several inputs. Checked with a stand-in interpreter that keeps
TFLite's rule (a tensor is set only at the shape it was allocated with), since no converter
here writes such a file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from qtui.core.backends import tflite_backend


class _Interpreter:
    """TFLite's Interpreter API as the backend uses it: input `x` with signature [-1, 4, -1]
    (allocated as [1, 4, 1], as TFLite does for open dimensions), output the sum per sample."""

    def __init__(self, model_path: str, num_threads: int, **_: Any) -> None:
        self.shape = [1, 4, 1]
        self.pending: list[int] | None = None
        self.out = np.zeros((1, 1), np.float32)

    def get_input_details(self) -> list[dict[str, Any]]:
        return [{"name": "x", "index": 0, "dtype": np.float32, "shape": np.array(self.shape),
                 "shape_signature": np.array([-1, 4, -1]), "quantization": (0.0, 0)}]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [{"name": "y", "index": 1, "dtype": np.float32, "shape": np.array([self.shape[0], 1]),
                 "quantization": (0.0, 0)}]

    def resize_tensor_input(self, index: int, shape: list[int]) -> None:
        self.pending = [int(d) for d in shape]

    def allocate_tensors(self) -> None:
        if self.pending is not None:
            self.shape, self.pending = self.pending, None

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        if list(value.shape) != self.shape:
            raise ValueError(f"Cannot set tensor: Dimension mismatch. Got {list(value.shape)} but expected {self.shape}")
        self.x = value

    def invoke(self) -> None:
        self.out = self.x.reshape(len(self.x), -1).sum(axis=1, keepdims=True)

    def get_tensor(self, index: int) -> np.ndarray:
        return self.out


def test_an_input_with_an_open_dimension_is_fed_at_the_samples_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the single-input path set the samples on an interpreter allocated with the open
    dimension at 1, and every run of such a file failed ("Dimension mismatch")."""
    monkeypatch.setattr(tflite_backend, "_runtime", lambda: (_Interpreter, "stand-in interpreter"))
    model = tmp_path / "open.tflite"
    model.write_bytes(b"stand-in")
    backend = tflite_backend.TFLiteBackend()
    backend.load(SimpleNamespace(path=model, precision="fp32"), 1, "Offline")  # type: ignore[arg-type]
    samples = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # input.shape = [4, 3]
    np.testing.assert_array_equal(backend.predict(samples), samples.reshape(2, -1).sum(axis=1, keepdims=True))
    one = samples[:1] + 1
    np.testing.assert_array_equal(backend.predict(one), one.reshape(1, -1).sum(axis=1, keepdims=True))
    backend.close()
