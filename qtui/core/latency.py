"""Thread-safe per-query latency recorder: exact percentiles plus a log-spaced histogram.

The SUT calls `record()` from the LoadGen issue thread (or worker threads); a reporter thread
takes `snapshot()`s. Recording is an append under a lock: O(1), no allocation per sample beyond
the list growth.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from qtui.core.events import HistogramSnapshot

PERCENTILES = (50.0, 90.0, 95.0, 97.0, 99.0, 99.9)


def percentile_key(p: float) -> str:
    return f"p{p:g}"


def exact_percentiles(latencies_ns: np.ndarray, percentiles: tuple[float, ...] = PERCENTILES) -> dict[str, float]:
    """Percentiles in ms, LoadGen's way: the sorted sample at index floor(n * p / 100)."""
    if latencies_ns.size == 0:
        return {}
    ordered = np.sort(latencies_ns)
    n = ordered.size
    out: dict[str, float] = {}
    for p in percentiles:
        idx = min(n - 1, int(math.floor(n * p / 100.0)))
        out[percentile_key(p)] = float(ordered[idx]) / 1e6
    return out


def log_edges_ms(lo_ms: float, hi_ms: float, bins: int) -> np.ndarray:
    """`bins + 1` log-spaced edges covering [lo_ms, hi_ms], snapped outward to nice bounds."""
    lo = max(lo_ms, 1e-3)
    hi = max(hi_ms, lo * 1.01)
    lo_edge = 10 ** (math.floor(math.log10(lo) * 4) / 4)
    hi_edge = 10 ** (math.ceil(math.log10(hi) * 4) / 4)
    if hi_edge <= lo_edge:
        hi_edge = lo_edge * 10 ** 0.25
    return np.logspace(math.log10(lo_edge), math.log10(hi_edge), bins + 1)


def histogram(latencies_ns: np.ndarray, bins: int = 40) -> HistogramSnapshot:
    """Log-spaced histogram of the given latencies (ms edges)."""
    if latencies_ns.size == 0:
        return HistogramSnapshot(edges_ms=(), counts=())
    ms = latencies_ns / 1e6
    edges = log_edges_ms(float(ms.min()), float(ms.max()), bins)
    counts, _ = np.histogram(ms, bins=edges)
    return HistogramSnapshot(edges_ms=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts))


@dataclass(frozen=True)
class LatencySnapshot:
    queries: int
    samples: int
    percentiles_ms: dict[str, float]
    histogram: HistogramSnapshot
    min_ms: float | None
    mean_ms: float | None
    max_ms: float | None


class LatencyRecorder:
    """Collects one latency per query (ns) and the number of samples each carried.

    `record` is an append under a lock. `array`/`snapshot` copy only what arrived since the last
    call, so a reporter polling at 4 Hz never holds the lock for long on a long run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[int] = []
        self._samples = 0
        self._queries = 0
        self._collected = np.empty(0, dtype=np.int64)
        self._collect_lock = threading.Lock()

    def record(self, latency_ns: int, samples: int = 1) -> None:
        with self._lock:
            self._pending.append(latency_ns)
            self._samples += samples
            self._queries += 1

    def reset(self) -> None:
        with self._collect_lock, self._lock:
            self._pending = []
            self._samples = 0
            self._queries = 0
            self._collected = np.empty(0, dtype=np.int64)

    @property
    def counts(self) -> tuple[int, int]:
        """(queries, samples) recorded so far."""
        with self._lock:
            return self._queries, self._samples

    def array(self) -> np.ndarray:
        """All latencies so far (ns, int64), in arrival order."""
        with self._collect_lock:
            with self._lock:
                fresh, self._pending = self._pending, []
            if fresh:
                self._collected = np.concatenate(
                    [self._collected, np.asarray(fresh, dtype=np.int64)]
                )
            return self._collected

    def snapshot(self, bins: int = 40) -> LatencySnapshot:
        data = self.array()
        _, samples = self.counts
        if data.size == 0:
            return LatencySnapshot(0, samples, {}, HistogramSnapshot((), ()), None, None, None)
        return LatencySnapshot(
            queries=int(data.size),
            samples=samples,
            percentiles_ms=exact_percentiles(data),
            histogram=histogram(data, bins),
            min_ms=float(data.min()) / 1e6,
            mean_ms=float(data.mean()) / 1e6,
            max_ms=float(data.max()) / 1e6,
        )
