"""Keeping the frameworks' chatter out of the user's terminal: converters and runtimes print
progress, warnings and deprecation notes (Python and C++) that would scribble over the TUI or a
headless run's table. Used by both the prepare modules and the backends, so it lives below both.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_python(*loggers: str) -> Iterator[None]:
    """Converters' prints and Python warnings captured: stdout/stderr redirected, warnings
    ignored, the named loggers ("" = root) at ERROR meanwhile."""
    sink = io.StringIO()
    handles = [logging.getLogger(name or None) for name in loggers]
    levels = [h.level for h in handles]
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            for h in handles:
                h.setLevel(logging.ERROR)
            yield
    finally:
        for h, level in zip(handles, levels, strict=True):
            h.setLevel(level)


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """What C++ code writes to fd 2 captured meanwhile (other threads' stderr too: hold it only
    around short calls)."""
    try:
        sys.__stderr__.flush()  # type: ignore[union-attr]
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, pytest capture off)
        yield
        return
    try:
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextlib.contextmanager
def quiet(native: bool = False) -> Iterator[None]:
    """Python warnings and prints always; with `native`, also what C++ writes to fd 2 (torch's
    once-per-process "[W Quantizer.cpp] … deprecated" line comes from c10's own handler). Hold
    `native` only around short calls (load, convert, trace, save)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(quiet_python())
        if native:
            stack.enter_context(native_stderr_captured())
        yield
