"""A profile's artifact, from the cache, an imported bundle, or prepared now — the one
preparation path for runs, `qtui prepare`, bundles, studies and benches.

- `prepare_artifact`: the path itself, given the FP32 model to start from, a progress step and
  (INT8 static) the data set to calibrate on; the runner's `prepare` stage calls it.
- `prepare_only`: the same without a run (`qtui prepare`, `qtui bundle export PROFILE`, a study's
  preparing phase, benches): it loads the FP32 model itself and reports through `on_event`. It
  needs no results folder and never resolves one.

It sits beside `find_or_prepare` (the cache) and below the runner, which imports it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from qtui.core import events as ev
from qtui.core.prepare import CalibrationSpec, PrepareError, find_or_prepare
from qtui.core.profile import RunProfile
from qtui.core.threads import Cancelled, run_cancellable

EventSink = Callable[[Any], None]
Step = Callable[[str, float | None], None]


def dataset_identity(dataset: Any) -> str:
    """What identifies a data set's images in a cache key (calibration, the FP32 reference)."""
    return str(dataset.identity)


def prepare_artifact(
    profile: RunProfile,
    dataset: Any | None,
    load_model: Callable[[], Any],
    step: Step,
    stop: threading.Event | None = None,
) -> tuple[Any, bool]:
    """The profile's artifact from the cache, an imported bundle, or prepared now: (artifact,
    cache hit). The one path for runs, `qtui prepare`, bundles, studies and benches. INT8 static
    calibrates on `dataset`'s calibration images (opened here when None), pulled in batches of 8;
    each batch is a checkpoint where `stop` cancels."""
    if profile.precision != "int8_static":
        return find_or_prepare(profile, load_model, None, None, step)
    dataset, calib = calibration_spec(profile, dataset, step)
    return find_or_prepare(profile, load_model, calib, CalibrationBatches(dataset, calib.indices, stop), step)


def calibration_spec(profile: RunProfile, dataset: Any | None, step: Step) -> tuple[Any, CalibrationSpec]:
    """The images INT8 static calibrates on, from `dataset` (opened here when None): (the
    calibration data set, which of its images and their identity, part of the cache key)."""
    from qtui.core.data import calibration_indices
    from qtui.core.profile_data import calibration_dataset, open_profile_dataset

    if dataset is None:
        dataset = open_profile_dataset(profile, lambda f: step("checking data", f))
    dataset = calibration_dataset(profile, dataset)
    indices = tuple(calibration_indices(dataset, profile.dataset.calibration_count, seed=profile.dataset.seed))
    return dataset, CalibrationSpec(dataset_identity=dataset_identity(dataset), indices=indices)


class CalibrationBatches:
    """The calibration images in batches of 8, as often as a quantizer asks (each call iterates
    again); `len()` is the number of batches, so a quantizer can show a percentage. Each batch
    is a checkpoint where a cancel stops the preparation."""

    BATCH = 8

    def __init__(self, dataset: Any, indices: tuple[int, ...], stop: threading.Event | None) -> None:
        self.dataset = dataset
        self.indices = indices
        self.stop = stop

    def __len__(self) -> int:
        return -(-len(self.indices) // self.BATCH)

    def __call__(self) -> Iterator[Any]:
        for i in range(0, len(self.indices), self.BATCH):
            if self.stop is not None and self.stop.is_set():  # frameworks pull the batches
                raise Cancelled()
            yield self.dataset.get_batch(list(self.indices[i : i + self.BATCH]))


def load_fp32_model(profile: RunProfile, step: Step) -> Any:
    """The FP32 model to prepare from: the built-in torch model with the profile's weights, the
    model an entry point (`module:factory`) builds, or the user's inspected model file
    (`model_source.OnnxModel`, a `TfliteModel`). A user's model that cannot be read or built, or
    a .tflite file the profile does not fit, raises `PrepareError` with the reason."""
    from qtui.core.model_source import ModelSourceError, inspect_cached, is_user_model, source_kind

    if source_kind(profile.model) == "entry":
        from qtui.core.data import preprocess_from_spec
        from qtui.core.model_input import for_profile
        from qtui.core.model_source_entry import load_entry

        step("building the model (the entry point's own code)", None)
        try:
            return load_entry(
                profile.model, profile.weights.source, profile.weights.seed,
                preprocess_from_spec(profile.input).sample_shape, for_profile(profile),
            )
        except ModelSourceError as exc:
            raise PrepareError(str(exc)) from None
    if is_user_model(profile.model):
        try:
            found = inspect_cached(profile.model)
        except ModelSourceError as exc:
            raise PrepareError(str(exc)) from None
        from qtui.core.model_source_tflite import TfliteModel, profile_problem

        problem = profile_problem(found, profile) if isinstance(found, TfliteModel) else None
        if problem:
            raise PrepareError(problem)
        return found
    from qtui.core.models import load_model

    w = profile.weights
    source = w.source if w.source in ("random", "torchvision") else "file"
    return load_model(
        profile.model,
        weights=w.source if source != "file" else "file",
        seed=w.seed,
        path=w.source if source == "file" else None,
        on_progress=lambda s, f: step(s, f),
    )


def prepare_only(
    profile: RunProfile, on_event: EventSink | None = None, stop: threading.Event | None = None
) -> tuple[Any, bool]:
    """Prepare (or find cached) the profile's artifact without running it: (artifact, cache hit).

    With `stop` (a study), setting it cancels the way a run's preparation is cancelled: at the
    next checkpoint, or within the grace time by leaving a long uninterruptible call (a
    calibration) to end in the background; `Cancelled` is raised. Without it the preparation
    runs in this thread (`qtui prepare` interrupts it with KeyboardInterrupt)."""
    emit = on_event or (lambda e: None)
    cancel = stop if stop is not None else threading.Event()
    loaded: list[Any] = []

    def step(name: str, fraction: float | None = None) -> None:
        emit(ev.Preparing(name, fraction))
        if cancel.is_set():
            raise Cancelled()

    def model() -> Any:
        if not loaded:
            loaded.append(load_fp32_model(profile, step))
        return loaded[0]

    if stop is None:
        return prepare_artifact(profile, None, model, step)
    result: tuple[Any, bool] = run_cancellable(
        "preparing",
        lambda: prepare_artifact(profile, None, model, step, stop),
        stop,
        lambda text: emit(ev.Log(text, "warning")),
    )
    return result
