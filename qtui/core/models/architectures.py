"""The built-in models' ids, titles and constructors, from the model table
(`qtui.core.model_table`); below `weights`, which builds them (importing this does not import
torch)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from qtui.core import model_table as _table

if TYPE_CHECKING:
    import torch

#: The built-in models' ids and titles, from the model table (`qtui.core.model_table`).
MODEL_NAMES: tuple[str, ...] = _table.IDS
MODEL_TITLES: dict[str, str] = {m.id: m.title for m in _table.TABLE}


def architecture(name: str) -> Callable[[], torch.nn.Module]:
    """The constructor of model `name` (imports torch). Raises ValueError for unknown names."""
    try:
        module_name, function = _table.info(name).constructor.split(":")
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None
    constructor: Callable[[], torch.nn.Module] = getattr(importlib.import_module(module_name), function)
    return constructor


def build_model(name: str) -> torch.nn.Module:
    """Model `name` with torchvision's default (random) initialisation, in eval mode."""
    return architecture(name)().eval()
