"""What every kind of model file shares, below the modules that read each kind
(`qtui.core.model_source` for ONNX and the dispatch, `model_source_tflite`, `model_source_entry`):
the error a model the user named raises, the digest over a model's files, and the element types
qtui can feed. `qtui.core.model_source` re-exports them."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: The input element types qtui can feed (ONNX TensorProto id → numpy name); what the input's
#: shape means (an image, or a tensor) is decided with the profile by `qtui.core.model_input`.
ONNX_DTYPES = {1: "float32", 10: "float16", 11: "float64", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool"}
_CHUNK = 1 << 22


class ModelSourceError(Exception):
    """A model the user named cannot be used; the message names the file and what to do."""


def file_digest(files: list[Path]) -> tuple[str, int]:
    """(sha256, total bytes) over `files` in order: each file's name, NUL, its length, NUL and
    its bytes, so moving a byte between files changes the digest."""
    h = hashlib.sha256(b"qtui-model-files-v1\0")
    total = 0
    for path in files:
        size = path.stat().st_size
        h.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                h.update(chunk)
        total += size
    return h.hexdigest(), total
