"""The contract every framework's prepare module keeps (`Preparer`), checked by mypy where the
modules are registered and by a test at run time. A module, not a class, implements it: the
framework table (`qtui.core.frameworks`) names it, and it is imported only when chosen.

A prepare module turns the FP32 torch model into the framework's artifact for one precision,
in a folder it is given, and says what it cannot do here and why — without importing its
framework until it prepares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

#: A progress callback: (step name, fraction done or None when the step cannot tell).
ProgressFn = Callable[[str, "float | None"], None]
#: Calibration images for INT8 static: a callable returning an iterator of NCHW float32 batches
#: (numpy arrays; typed Any so that importing the contract costs no numpy).
CalibrationBatches = Callable[[], Iterator[Any]]


@runtime_checkable
class Preparer(Protocol):
    """What `qtui.core.prepare.find_or_prepare`, the catalog and `qtui doctor` need."""

    #: One line per precision this module prepares: what that precision means in this framework
    #: (shown in the catalog, `qtui doctor` and the UI's menus).
    PRECISION_NOTES: Mapping[str, str]

    def unavailable_reason(self, precision: str) -> str | None:
        """Why `precision` cannot be prepared here (a converter missing, a CPU limit), or None."""
        ...

    def runtime_unavailable_reason(self, precision: str) -> str | None:
        """Why this framework cannot even run `precision` here, so not an imported artifact
        either (e.g. OpenVINO INT8 static on an ARM CPU without dot product), or None."""
        ...

    def check_supported(self, precision: str) -> None:
        """Raise PrepareError when `precision` cannot be prepared here."""
        ...

    def tool_versions(self) -> dict[str, str | None]:
        """The versions of the tools that make the artifact: part of its cache key."""
        ...

    def prepare(
        self,
        loaded: Any,
        precision: str,
        out_dir: Path,
        calibration_batches: CalibrationBatches | None,
        progress: ProgressFn,
    ) -> dict[str, Any]:
        """Write the artifact into `out_dir`; return {"file": name in out_dir, "format": …,
        "details": {…}} (details go into the artifact's metadata)."""
        ...
