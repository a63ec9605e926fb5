"""Framework runtimes behind one small interface; each framework's module is imported only when
that framework is chosen (`get_backend`)."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from qtui.core.artifacts import Artifact


class BackendError(Exception):
    """A runtime could not load or run an artifact; the message is meant for the user."""


class Backend(ABC):
    """Load an artifact with a thread count, then predict batches of NCHW float32 → logits."""

    framework: str = ""

    #: Largest batch the loaded model accepts (None: any). Fixed-batch models report 1.
    max_batch: int | None = None

    #: Whether `predict_stream` keeps several batches in flight (an asynchronous queue), so
    #: that Offline runs faster than one synchronous batch at a time: the warm-up then times
    #: that path too, to size LoadGen's Offline query.
    async_stream: bool = False

    @abstractmethod
    def load(self, artifact: Artifact, threads: int, scenario: str) -> None: ...

    @abstractmethod
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N, 1000) float32 for a batch (N, 3, 224, 224) float32."""

    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def executed_precision(self) -> str:
        """What the runtime actually executes, in its own words (e.g. ORT op types)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the runtime's resources."""

    def predict_stream(
        self,
        batches: Iterator[tuple[Any, np.ndarray]],
        on_result: Callable[[Any, np.ndarray], None],
    ) -> None:
        """Offline: predict every `(key, batch)` and call `on_result(key, logits)` as each one
        finishes. Runtimes with an asynchronous queue (OpenVINO) override this to keep several
        batches in flight; `on_result` may then be called from the runtime's threads. Returns
        once every submitted batch has been reported. The iterator stops early on cancel."""
        for key, batch in batches:
            on_result(key, predict_in_chunks(self, batch))


def get_backend(framework: str) -> Backend:
    """Instantiate the backend for `framework` (its module from the framework table), importing
    the module only now."""
    from qtui.core import frameworks

    try:
        module_name = frameworks.info(framework).backend_module
    except KeyError:
        raise BackendError(f"no runtime backend for framework '{framework}' in this qtui") from None
    module = importlib.import_module(module_name)
    backend: Backend = module.create()
    return backend


def predict_in_chunks(backend: Backend, batch: np.ndarray) -> np.ndarray:
    """Predict a batch, splitting it when the model has a fixed maximum batch."""
    limit = backend.max_batch
    if limit is None or batch.shape[0] <= limit:
        return backend.predict(batch)
    return np.concatenate([backend.predict(batch[i : i + limit]) for i in range(0, batch.shape[0], limit)])
