"""`fleet pull` unpacks a device's archive of run folders as hostile input (no ssh): only plain
files and folders below run folders, each run moved into place whole."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from qtui.fleet.pull import PullError, have_runs, unpack


def archive(path: Path, members: list[tuple[str, bytes | None, bytes]]) -> Path:
    """A .tar.gz of (name, file bytes or None for a folder, type)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_runs_come_in_whole_and_anything_else_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "pulled" / "pi-a"
    good = archive(tmp_path / "good.tar.gz", [
        ("run-1", None, tarfile.DIRTYPE), ("run-1/result.json", b"{}", tarfile.REGTYPE), ("run-1/raw/lat.bin", b"x", tarfile.REGTYPE),
    ])
    assert unpack(good, dest) == 1
    assert (dest / "run-1" / "raw" / "lat.bin").read_bytes() == b"x" and have_runs(dest) == ["run-1"]
    for name, members, why in [
        ("link", [("run-2/result.json", b"", tarfile.SYMTYPE)], "not a regular file or folder"),
        ("up", [("run-2/../../evil", b"x", tarfile.REGTYPE)], "not a plain path"),
        ("abs", [("/tmp/evil", b"x", tarfile.REGTYPE)], "not a plain path"),
        ("top", [("evil", b"x", tarfile.REGTYPE)], "a file outside any run folder"),
        ("escape", [("run-2/\x1b[2Jx", b"x", tarfile.REGTYPE)], "not a plain path"),
    ]:
        with pytest.raises(PullError, match=why):
            unpack(archive(tmp_path / f"{name}.tar.gz", [("run-2/ok", b"1", tarfile.REGTYPE), *members]), dest)
        assert sorted(p.name for p in dest.iterdir()) == ["run-1"]  # nothing of it added
    big = archive(tmp_path / "big.tar.gz", [("run-3/result.json", b"x" * 100, tarfile.REGTYPE)])
    with pytest.raises(PullError, match="more than 10 bytes"):
        unpack(big, dest, max_bytes=10)
    with pytest.raises(PullError, match="cannot be read"):
        unpack(archive(tmp_path / "cut.tar.gz", [("run-4/a", b"y" * 5000, tarfile.REGTYPE)]).with_name("missing.tar.gz"), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["run-1"] and not list(dest.parent.glob(".staging*"))
