"""`fleet pull`'s controller side: the archive a device packed of its new run folders is unpacked
into DEST/<device>/, treated as hostile until checked — every member must be a plain file or
folder below one of the run folders the controller asked for (no links, devices, absolute paths
or `..`, plain names only), within a size limit — then each run folder is moved into place whole,
so a pull cut short never leaves half a run behind.
"""

from __future__ import annotations

import re
import shutil
import tarfile
from pathlib import Path, PurePosixPath

#: One path component of a run folder's member (as qtui names run folders and their files).
_PART = re.compile(r"[A-Za-z0-9._+-]{1,255}")
#: The most bytes one device's archive may unpack to.
MAX_BYTES = 16 * 1024**3


class PullError(Exception):
    """A device's archive that is refused: one line saying why."""


def have_runs(folder: Path) -> list[str]:
    """The run folders already pulled into `folder` (those with a result.json)."""
    return sorted(p.parent.name for p in folder.glob("*/result.json")) if folder.is_dir() else []


def unpack(archive: Path, folder: Path, max_bytes: int = MAX_BYTES) -> int:
    """The run folders of `archive` into `folder` (a run folder already there is replaced whole);
    returns how many. Raises PullError, adding nothing, when a member is not a plain file or
    folder below a run folder or the archive unpacks to more than `max_bytes`."""
    limit = max_bytes
    staging = folder.parent / f".staging-{folder.name}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            total = 0
            for m in members:
                parts = PurePosixPath(m.name).parts
                if not parts or m.name.startswith("/") or any(p in ("..", ".") or not _PART.fullmatch(p) for p in parts):
                    raise PullError(f"refused member {m.name!r}: not a plain path below a run folder")
                if not (m.isfile() or m.isdir()):
                    raise PullError(f"refused member {m.name!r}: not a regular file or folder")
                if m.isfile() and len(parts) < 2:
                    raise PullError(f"refused member {m.name!r}: a file outside any run folder")
                total += m.size
                if total > limit:
                    raise PullError(f"the runs unpack to more than {limit} bytes")
            staging.mkdir(parents=True)
            for m in members:
                target = staging.joinpath(*PurePosixPath(m.name).parts)
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(m)
                if source is None:
                    raise PullError(f"refused member {m.name!r}: no content")
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
        folder.mkdir(parents=True, exist_ok=True)
        runs = sorted(p for p in staging.iterdir() if p.is_dir())
        for run in runs:
            shutil.rmtree(folder / run.name, ignore_errors=True)
            run.rename(folder / run.name)
        return len(runs)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PullError(f"the device's archive cannot be read: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
