"""Peak resident memory of this process over a block of code, sampled by a background thread."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


class PeakRSS:
    """`with PeakRSS() as peak: ...` then `peak.bytes` is the highest RSS seen (sampled at 20 Hz)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self._interval = interval_s
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="qtui-peak-rss", daemon=True)
        self.bytes = 0

    def _sample(self) -> None:
        while True:
            self.bytes = max(self.bytes, self._proc.memory_info().rss)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> PeakRSS:
        self.bytes = self._proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, self._proc.memory_info().rss)
