"""Memory: the peak resident memory of this process over a block of code (`PeakRSS`), and the
check that refuses, before anything is loaded, what will not fit (`check_fits`).

On Linux the kernel keeps the peak (VmHWM) itself: it is reset through `/proc/self/clear_refs`
at the start and read from `/proc/self/status` at the end, so no sampling thread competes with
the benchmark for the CPU. Elsewhere a background thread samples RSS at 4 Hz.

`check_fits(n, bytes_per_sample, what)` raises `MemoryBudgetError` when n × bytes_per_sample is
more than the memory available now less a safety margin (what the model, the runtime and the OS
still need); `input_bytes_per_sample()` is one preprocessed image (3×224×224 float32 = 602 112 B)
and `LOADGEN_BYTES_PER_SAMPLE` what LoadGen allocates per scheduled sample.
"""

from __future__ import annotations

import math
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


#: The models' input: one preprocessed ImageNet image, NCHW without the batch axis.
INPUT_SHAPE = (3, 224, 224)

#: LoadGen builds its whole query schedule before the first query: its peak, measured with
#: mlperf_loadgen 6.0.17 and a do-nothing SUT, is 330-370 B per query in SingleStream, 490 B per
#: sample in Offline (with the Python responses), 93 B per sample in MultiStream; doubled.
LOADGEN_BYTES_PER_SAMPLE = 1024

#: Kept free beyond what is checked: the model, the runtime's arenas, the OS (≥ 256 MiB).
SAFETY_FRACTION = 0.10
SAFETY_MIN_BYTES = 256 * 1024 * 1024


class MemoryBudgetError(Exception):
    """What was asked for does not fit in the memory available; the message says how much was
    needed, how much there is, and which key to lower (`key`, or None)."""

    def __init__(self, message: str, key: str | None, need_bytes: int, usable_bytes: int) -> None:
        super().__init__(message)
        self.key = key
        self.need_bytes = need_bytes
        self.usable_bytes = usable_bytes


def input_bytes_per_sample(shape: tuple[int, ...] = INPUT_SHAPE, itemsize: int = 4) -> int:
    """Bytes of one preprocessed sample: 3×224×224 float32 is 602 112 B."""
    return math.prod(shape) * itemsize


def safety_margin_bytes(total_bytes: int) -> int:
    """What to leave free on a machine with `total_bytes` of memory."""
    return max(SAFETY_MIN_BYTES, int(total_bytes * SAFETY_FRACTION))


def usable_bytes() -> tuple[int, int, int]:
    """(available now, safety margin, usable = available − margin, never negative)."""
    vm = psutil.virtual_memory()
    margin = safety_margin_bytes(int(vm.total))
    return int(vm.available), margin, max(0, int(vm.available) - margin)


def _size(n: float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def check_fits(
    n_samples: int,
    bytes_per_sample: int,
    what: str,
    key: str | None = None,
    *,
    available: tuple[int, int] | None = None,
) -> None:
    """Raise MemoryBudgetError when `n_samples` × `bytes_per_sample` is more than the memory
    available less the safety margin. `what` names the allocation ("loading 50_000 samples"),
    `key` the profile key that sets its size. `available` = (available, margin) replaces the
    machine's figures (tests)."""
    if n_samples < 0 or bytes_per_sample < 0:
        raise ValueError(f"negative size: {n_samples} samples × {bytes_per_sample} B")
    need = n_samples * bytes_per_sample
    if available is None:
        free, margin, usable = usable_bytes()
    else:
        free, margin = available
        usable = max(0, free - margin)
    if need <= usable:
        return
    hint = f"; lower {key}" if key else ""
    raise MemoryBudgetError(
        f"{what}: {n_samples:_} samples × {bytes_per_sample:_} B = {_size(need)} will not fit in "
        f"memory ({_size(free)} available, {_size(margin)} kept free){hint}",
        key,
        need,
        usable,
    )
