"""The thread plumbing of a run: the one inference thread every backend call runs on, preparation
steps a cancel can leave behind, and the preparations such a cancel left finishing in the
background (a later run waits for them, so they never compete with a measurement for the CPU).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

#: How long a cancel waits for a preparation step to reach a checkpoint before leaving it behind.
CANCEL_GRACE_S = 1.0

# Preparations cancelled in the middle of one long, uninterruptible call (an ONNX export, an
# OpenVINO conversion): the run reports "cancelled" at once and the call finishes in the
# background, stopping at its next progress checkpoint.
_ABANDONED: list[threading.Thread] = []
_ABANDONED_LOCK = threading.Lock()


class Cancelled(Exception):
    """The run was cancelled before LoadGen started (raised at a checkpoint)."""


class InferenceThread:
    """The one thread that makes every backend call of a run: loading, warm-up and LoadGen
    (whose `issue_queries` runs on the thread that called `StartTest`).

    Runtimes keep per-thread state. PyTorch's OpenMP (libgomp) is the costly case: a thread that
    computes while another thread's OpenMP team is alive (say, the one that ran the warm-up)
    gets 2-4x slower on a 2-core machine, because libgomp stops spin-waiting once it manages
    more threads than there are CPUs. One thread for all of it measures what the runtime does
    when it is used the normal way."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="qtui-inference", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((fn, future))
        return future

    def call(self, fn: Callable[[], Any]) -> Any:
        return self.submit(fn).result()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def close(self) -> None:
        """Let the thread end after what it is doing (a hung call keeps it, as a daemon)."""
        self._queue.put(None)


def leave_behind(worker: threading.Thread) -> None:
    """Let `worker` finish in the background (a cancelled LoadGen test still draining its
    schedule): the next run waits for it (`wait_for_abandoned`), and an interrupted CLI exits
    with `os._exit` while it is alive."""
    with _ABANDONED_LOCK:
        _ABANDONED.append(worker)


def pending_preparations() -> list[threading.Thread]:
    """Cancelled preparations (or LoadGen tests, see `leave_behind`) still finishing in the
    background."""
    with _ABANDONED_LOCK:
        _ABANDONED[:] = [t for t in _ABANDONED if t.is_alive()]
        return list(_ABANDONED)


def run_cancellable(
    what: str,
    fn: Callable[[], Any],
    stop: threading.Event,
    on_left_behind: Callable[[str], None] = lambda text: None,
    grace_s: float | None = None,
) -> Any:
    """`fn()` in a worker thread, so that a cancel returns within the grace time even while
    `fn` is inside one long call that cannot be interrupted: the call is then left to end in the
    background (at its next checkpoint) and `Cancelled` is raised here."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"qtui-{what}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
        if stop.is_set() and worker.is_alive():
            worker.join(CANCEL_GRACE_S if grace_s is None else grace_s)
            if worker.is_alive():
                with _ABANDONED_LOCK:
                    _ABANDONED.append(worker)
                on_left_behind(f"cancelled while {what}: its current step ends in the background")
                raise Cancelled()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def wait_for_abandoned(step: Callable[[str], None], log: Callable[[str], None]) -> None:
    """Wait for preparations a cancel left behind (`step` is the caller's checkpoint: it raises
    when this run is cancelled meanwhile)."""
    pending = pending_preparations()
    if not pending:
        return
    log("waiting for a cancelled preparation or LoadGen test to stop (it would compete for the CPU)")
    for worker in pending:
        while worker.is_alive():
            step("waiting for a cancelled preparation or LoadGen test to stop")
            worker.join(0.25)
