"""The data a profile measures and calibrates on: its `[dataset]` table read with its model's
input (`qtui.core.model_input`): images for an image model, the user's tensors or generated ones
for any other input. Above both `qtui.core.data` (the data sets) and `model_input`, which
imports `data`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtui.core import model_input
from qtui.core.data import (
    DEFAULT_SYNTHETIC_COUNT,
    Dataset,
    DatasetError,
    Progress,
    SyntheticDataset,
    detect_kind,
    open_dataset,
    preprocess_from_spec,
)
from qtui.core.model_file import ModelSourceError


def open_profile_dataset(profile: Any, progress: Progress | None = None) -> Dataset:
    """The data set a profile's `[dataset]` and `[input]` tables describe, checked; for the
    user's own model, the data its input takes (`qtui.core.model_input`)."""
    ds = profile.dataset
    try:
        found = model_input.for_profile(profile)
    except ModelSourceError as exc:
        raise DatasetError(str(exc)) from None
    count = ds.count if ds.count > 0 else None
    tensor_input = None
    if found is not None and found.kind != "image":
        kind = detect_kind(ds.source) if ds.kind == "auto" else ds.kind
        if kind == "synthetic" and ds.source.strip() == "synthetic":
            return model_input.GeneratedTensors(DEFAULT_SYNTHETIC_COUNT if count is None else count, ds.seed, found)
        if kind in ("imagenet", "images", "classes"):
            raise DatasetError(model_input.not_an_image(found, kind))
        if found.kind == "inputs" and kind == "tensors":
            return model_input.InputArrays(Path(ds.source).expanduser(), count, found)
        tensor_input = (found.name, found.dtype, found.shape)
    return open_dataset(
        ds.source,
        count,
        seed=ds.seed,
        kind=ds.kind,
        classes=ds.classes,
        preprocess=found.preprocess if found is not None and found.preprocess else preprocess_from_spec(profile.input),
        progress=progress,
        tensor_input=tensor_input,
    )


def calibration_dataset(profile: Any, dataset: Dataset) -> Dataset:
    """What INT8 static calibrates on: the measured data set, or the synthetic set when the
    profile says `dataset.calibration = "synthetic"` (seeded like the data, as many images as
    `dataset.calibration_count`)."""
    if profile.dataset.calibration != "synthetic" or dataset.kind == "synthetic":
        return dataset
    found = model_input.for_profile(profile)
    if found is not None and found.kind != "image":  # the user's model's input is no image
        return model_input.GeneratedTensors(profile.dataset.calibration_count, profile.dataset.seed, found)
    return SyntheticDataset(profile.dataset.calibration_count, profile.dataset.seed, dataset.preprocess)
