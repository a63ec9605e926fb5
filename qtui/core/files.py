"""Opening files that a profile names or that qtui finds in its own folders without hanging on
them: a FIFO blocks `open` until a writer comes, `/dev/zero` or `/dev/urandom` never end, a
huge file exhausts memory. `open_regular` refuses anything but a regular file before it opens
it (checked again on the open descriptor, opened with O_NONBLOCK so a path swapped for a FIFO
in between does not block); `read_regular` also bounds how much is read.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a folder or a socket; the message (and `kind`) say which."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"is {kind}, not a regular file")
        self.kind = kind


class FileTooLarge(OSError):
    """The file is larger than the caller reads."""


def file_kind(mode: int) -> str:
    """What a `st_mode` that is not a regular file is, in words ("a FIFO")."""
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _refuse(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFile(file_kind(mode))


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for binary reading, when it is a regular file (a symlink to one is fine);
    raises NotRegularFile (an OSError) otherwise, and OSError when it cannot be opened."""
    _refuse(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        _refuse(os.fstat(fd).st_mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The content of regular file `path`, at most `max_bytes` (FileTooLarge beyond)."""
    with open_regular(path) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileTooLarge(f"is larger than {max_bytes:_} bytes")
    return data


def describe_error(path: str | os.PathLike[str], exc: OSError) -> str:
    """`exc` for a one-line message about `path`: qtui's own words, or the system's."""
    if isinstance(exc, (NotRegularFile, FileTooLarge)):
        return f"{Path(path)} {exc}"
    return f"{Path(path)}: {exc.strerror or exc}"


def probe_write(folder: str | Path) -> None:
    """Raise OSError unless a file can really be written in `folder`: a probe file created,
    written and removed (permission bits do not stop root; a read-only mount or a full disk only
    shows on writing)."""
    fd, probe = tempfile.mkstemp(prefix=".qtui-write-check-", dir=folder)
    try:
        os.write(fd, b"qtui")
    finally:
        os.close(fd)
        os.unlink(probe)


def atomic_write(path: Path, write: Callable[[BinaryIO], object], *, make_folder: bool = True) -> None:
    """`write(fh)` into a temporary file in the same folder, fsync, then rename over `path`: a
    reader sees the old file or the whole new one; a failure leaves no temporary file.
    `make_folder=False`: a folder that is gone stays gone (the write fails)."""
    if make_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """`text` (UTF-8) written with `atomic_write`."""
    data = text.encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))
