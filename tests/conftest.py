"""Shared fixtures: one artifact/weights cache per test session (exports happen once), results in
a per-test folder, and small profiles that keep LoadGen runs to seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qtui-cache")


@pytest.fixture(autouse=True)
def _isolated_dirs(monkeypatch: pytest.MonkeyPatch, session_cache: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("QTUI_CACHE_DIR", str(session_cache))
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("QTUI_CONFIG_DIR", raising=False)  # saved profiles: XDG_CONFIG_HOME per test


def small_profile(**changes: object) -> RunProfile:
    """MobileNetV2 on 32 synthetic images, short LoadGen settings."""
    base = RunProfile(
        name="test",
        threads=2,
        batch_size=4,
        warmup_queries=2,
        dataset=DatasetSpec(count=32, performance_sample_count=32, calibration_count=16),
        loadgen=LoadGenSpec(preset="quick", min_duration_ms=0),
    )
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


def torch_reference(loaded: Any, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` structured synthetic images (seed `seed`) and FP32 torch logits on them: what
    every framework's artifacts are compared against."""
    import torch

    from qtui.core.data import SyntheticDataset

    images = SyntheticDataset(count, seed).get_batch(list(range(count)))
    with torch.inference_mode():
        ref = np.concatenate(
            [loaded.module(torch.from_numpy(images[i : i + 32])).numpy() for i in range(0, count, 32)]
        )
    return images, ref
