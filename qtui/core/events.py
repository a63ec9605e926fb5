"""Events a run emits, as plain frozen dataclasses (no UI types): the runner calls
`on_event(event)` with these; the TUI wraps them in Textual messages, the CLI prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preparing:
    """A preparation step (weights, export, quantize, calibrate, load, warm-up) and its progress."""

    step: str
    fraction: float | None = None  # None when the step cannot tell


@dataclass(frozen=True)
class Started:
    """LoadGen has been started: from here on queries are timed."""

    run_id: str
    scenario: str
    mode: str
    settings: dict[str, Any] = field(default_factory=dict)
    expected_samples: int | None = None


@dataclass(frozen=True)
class HistogramSnapshot:
    """Log-spaced latency histogram: `edges_ms` has len(counts)+1 entries."""

    edges_ms: tuple[float, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Progress:
    """Throttled progress of the timed part (≤ 4 Hz, ≤ 2 Hz over SSH)."""

    completed_queries: int
    completed_samples: int
    elapsed_s: float
    percentiles_ms: dict[str, float]
    samples_per_s: float
    histogram: HistogramSnapshot
    expected_samples: int | None = None
    #: Seconds until LoadGen stops, by its own stopping rule (`qtui.core.schedule`); None when
    #: not known yet.
    left_s: float | None = None


@dataclass(frozen=True)
class Log:
    """A line for the log panel."""

    text: str
    level: str = "info"


@dataclass(frozen=True)
class Finished:
    """The run ended (status ok, invalid or cancelled); `result_path` is the saved result.json."""

    status: str
    result_path: str
    summary: str


@dataclass(frozen=True)
class Failed:
    """The run failed; `message` is meant for the user."""

    message: str
    result_path: str | None = None


@dataclass(frozen=True)
class StudyStep:
    """A study moved on: `phase` is "preparing", "checking quality", "measuring" or "done";
    `index` of `total` (runs when measuring, cells when preparing, artifacts when checking);
    `eta_s` estimates the time left (None while no run can be estimated)."""

    phase: str
    index: int
    total: int
    label: str
    eta_s: float | None = None
    #: the combination's RunProfile (as run: an accuracy-mode one when checking quality)
    profile: Any = None


Event = Preparing | Started | Progress | Log | Finished | Failed | StudyStep
