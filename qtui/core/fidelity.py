"""Accuracy and fidelity figures: top-1/top-5 against labels, and agreement of a run's logits
with the FP32 torch reference on the same samples (SQNR, cosine, centred top-1 agreement).

On random weights raw top-1 agreement is degenerate (a few classes absorb every input), so the
agreement reported here is on *centred* logits: the FP32 mean logit vector over the sample set is
subtracted from both before the argmax, and the number of distinct FP32 classes goes beside it.

Top-1 agreement (and top-1/top-5) needs outputs that are class scores: `is_class_vector` says so
for one dimension of at least two entries per sample (singleton dimensions aside). Any other
output (a user model's feature map, boxes, an embedding of several axes) gets SQNR, cosine and
max |Δ| over its flattened values only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    top = np.argsort(-logits, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio of `test` against `reference`, in dB."""
    noise = np.sum((reference.astype(np.float64) - test) ** 2)
    signal = np.sum(reference.astype(np.float64) ** 2)
    if noise == 0:
        return float("inf")
    return float(10 * np.log10(signal / noise))


def cosine(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean per-sample cosine similarity of logit vectors."""
    a = reference.astype(np.float64)
    b = test.astype(np.float64)
    num = np.sum(a * b, axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(num / np.maximum(den, 1e-30)))


def is_class_vector(outputs: np.ndarray) -> bool:
    """Whether `outputs` (N, …) hold one vector of class scores per sample."""
    per_sample = [d for d in outputs.shape[1:] if d != 1]
    return len(per_sample) == 1 and per_sample[0] >= 2


def fidelity(reference: np.ndarray, test: np.ndarray) -> dict[str, Any]:
    """Compare a run's outputs with the FP32 reference on the same samples (rows aligned): SQNR,
    cosine and max |Δ| for any output, top-1 agreement only for class vectors."""
    n = reference.shape[0]
    classes = is_class_vector(reference)
    reference = reference.reshape(n, -1)
    test = test.reshape(n, -1)
    if not classes:
        return {
            "samples": int(n),
            "sqnr_db": sqnr_db(reference, test),
            "cosine": cosine(reference, test),
            "max_abs_diff": float(np.max(np.abs(reference - test))),
        }
    mean = reference.mean(axis=0, keepdims=True)
    ref_c = np.argmax(reference - mean, axis=1)
    test_c = np.argmax(test - mean, axis=1)
    raw_ref = np.argmax(reference, axis=1)
    raw_test = np.argmax(test, axis=1)
    return {
        "samples": int(reference.shape[0]),
        "sqnr_db": sqnr_db(reference, test),
        "cosine": cosine(reference, test),
        "centred_top1_agreement": float(np.mean(ref_c == test_c)),
        "centred_distinct_classes": int(np.unique(ref_c).size),
        "raw_top1_agreement": float(np.mean(raw_ref == raw_test)),
        "raw_distinct_classes": int(np.unique(raw_ref).size),
        "max_abs_diff": float(np.max(np.abs(reference - test))),
    }
