"""Peak resident memory of this process over a block of code.

On Linux the kernel keeps the peak (VmHWM) itself: it is reset through `/proc/self/clear_refs`
at the start and read from `/proc/self/status` at the end, so no sampling thread competes with
the benchmark for the CPU. Elsewhere a background thread samples RSS at 4 Hz.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

import psutil

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _kernel_peak_bytes() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_kernel_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")  # 5 = reset the peak RSS (Linux ≥ 4.0)
        return True
    except OSError:
        return False


class PeakRSS:
    """`with PeakRSS() as peak: ...` then `peak.bytes` is the highest RSS of the process in it."""

    def __init__(self, interval_s: float = 0.25) -> None:
        self._interval = interval_s
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._kernel = False
        self.bytes = 0
        #: RSS when the block started: the peak minus this is what the block itself added
        #: (in a long-lived process the peak also counts what earlier work left resident).
        self.start_bytes = 0

    def _sample(self) -> None:
        while True:
            self.bytes = max(self.bytes, self._proc.memory_info().rss)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> PeakRSS:
        self.bytes = self.start_bytes = self._proc.memory_info().rss
        self._kernel = _reset_kernel_peak() and _kernel_peak_bytes() is not None
        if not self._kernel:
            self._thread = threading.Thread(target=self._sample, name="qtui-peak-rss", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        peak = _kernel_peak_bytes() if self._kernel else None
        self.bytes = max(self.bytes, peak or 0, self._proc.memory_info().rss)
