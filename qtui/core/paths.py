"""Where qtui keeps its cache (artifacts, weights, preprocessed data) and its results."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "qtui"


def cache_dir() -> Path:
    """Root of qtui's caches; `QTUI_CACHE_DIR` overrides the user cache dir."""
    override = os.environ.get("QTUI_CACHE_DIR")
    path = Path(override) if override else Path(platformdirs.user_cache_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Results directory: explicit override, then `QTUI_RESULTS_DIR`, then the user data dir."""
    chosen = override or os.environ.get("QTUI_RESULTS_DIR")
    path = Path(chosen) if chosen else Path(platformdirs.user_data_dir(APP)) / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """User config dir, where the TUI saves profiles."""
    path = Path(platformdirs.user_config_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path
