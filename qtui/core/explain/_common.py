"""Helpers every collector shares: the input it profiles with, timing without a profiler, and
the machine it ran on."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: Seed of the one input every profiling pass runs (batch 1, ImageNet-like range).
INPUT_SEED = 0


def sample_input(shape: tuple[int, ...] = (1, 3, 224, 224)) -> np.ndarray:
    return np.random.default_rng(INPUT_SEED).standard_normal(shape).astype(np.float32)


def median_ms(call: Callable[[], Any], runs: int) -> float:
    """Median wall time of `runs` calls of `call`, in ms (after one untimed call)."""
    call()
    times = []
    for _ in range(max(1, runs)):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def overhead(plain_ms: float, profiled_ms: float, runs: int) -> dict[str, Any]:
    """How much the profiler slowed inference: median batch-1 ms without and with it."""
    ratio = profiled_ms / plain_ms if plain_ms > 0 else None
    return {"plain_ms": round(plain_ms, 3), "profiled_ms": round(profiled_ms, 3),
            "ratio": round(ratio, 3) if ratio is not None else None, "runs": runs}


def cpu_name() -> str:
    from qtui.core.environment import cpu_model

    try:
        return str(cpu_model())
    except Exception:  # noqa: BLE001 - the name is a label, never a reason to fail
        return "?"
