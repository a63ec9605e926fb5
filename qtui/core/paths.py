"""Where qtui keeps its cache (artifacts, weights, preprocessed data) and its results; checks
that those folders can be written before any work starts (`unusable_dirs`); staging folders
named after the process that owns them, and the removal of those whose owner is gone
(`staging_dir`, `clean_stale_staging`)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import platformdirs

from qtui.core.files import probe_write

APP = "qtui"


class DirectoryError(OSError):
    """A qtui folder cannot be used; the message names the folder, what chose it and why."""


def _ensure_dir(path: Path, origin: str) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DirectoryError(f"{origin} {path} is a file, not a folder") from None
    except NotADirectoryError:
        raise DirectoryError(f"{origin} {path} lies under a file, not a folder") from None
    except OSError as exc:
        raise DirectoryError(f"cannot create {origin} {path}: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise DirectoryError(f"{origin} {path} is not a folder")
    return path


def _cache_choice() -> tuple[Path, str]:
    override = os.environ.get("QTUI_CACHE_DIR")
    if override:
        return Path(override), "cache folder (QTUI_CACHE_DIR)"
    return Path(platformdirs.user_cache_dir(APP)), "cache folder"


def _results_choice(override: str | os.PathLike[str] | None) -> tuple[Path, str]:
    if override:
        return Path(override), "results folder (--results-dir)"
    env = os.environ.get("QTUI_RESULTS_DIR")
    if env:
        return Path(env), "results folder (QTUI_RESULTS_DIR)"
    return Path(platformdirs.user_data_dir(APP)) / "results", "results folder"


def keep_libraries_out_of_home() -> None:
    """Point what the libraries qtui loads would write into $HOME at qtui's own folders, or turn
    it off, before any of them is imported (`import qtui` calls this): ONNX Runtime's telemetry
    (a device id and an event database in ~/.cache/Microsoft) is off (`ORT_DISABLE_TELEMETRY`),
    and matplotlib's config and font cache go to `<cache>/matplotlib` (`MPLCONFIGDIR`; matplotlib
    creates it when it draws). A value the user set is kept. OpenVINO's and NNCF's telemetry are
    stubbed where the converters run (`qtui.core.prepare.openvino`)."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if "MPLCONFIGDIR" not in os.environ:
        os.environ["MPLCONFIGDIR"] = os.path.abspath(_cache_choice()[0] / "matplotlib")


def decline_openvino_telemetry() -> None:
    """OpenVINO's usage telemetry (`openvino_telemetry`, which `import openvino` and NNCF start)
    answered as if the user had declined it: it then writes no client id or stats file into
    ~/intel and sends nothing. It has no switch but a consent file in $HOME (or `CI=true`, which
    changes other libraries too), so its consent check is replaced. Call it before `openvino` or
    `nncf` is imported (the OpenVINO backend and preparation modules do, and import this first);
    without the package, nothing to do."""
    try:
        from openvino_telemetry.utils import opt_in_checker
    except ImportError:
        return
    declined = opt_in_checker.ConsentCheckResult.DECLINED

    def check(self: Any, *args: Any, **kwargs: Any) -> Any:
        return declined

    opt_in_checker.OptInChecker.check = check  # type: ignore[method-assign]


def cache_dir() -> Path:
    """Root of qtui's caches; `QTUI_CACHE_DIR` overrides the user cache dir. Raises
    DirectoryError (an OSError) with a clear message when it cannot be a folder."""
    return _ensure_dir(*_cache_choice())


def results_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Results directory: explicit override, then `QTUI_RESULTS_DIR`, then the user data dir.
    Raises DirectoryError (an OSError) with a clear message when it cannot be a folder."""
    return _ensure_dir(*_results_choice(override))


def _config_choice() -> tuple[Path, str]:
    override = os.environ.get("QTUI_CONFIG_DIR")
    if override:
        return Path(override), "config folder (QTUI_CONFIG_DIR)"
    return Path(platformdirs.user_config_dir(APP)), "config folder"


def config_path() -> Path:
    """The config folder's path (`QTUI_CONFIG_DIR`, else the user config dir), without creating
    it: reading saved profiles must work, and shipped ones too, when it cannot be created."""
    return _config_choice()[0]


def config_dir() -> Path:
    """Where the TUI saves profiles (in `profiles/` below it): `QTUI_CONFIG_DIR`, else the user
    config dir. Raises DirectoryError when it cannot be a folder."""
    return _ensure_dir(*_config_choice())


def check_writable(path: Path, origin: str) -> None:
    """Raise DirectoryError unless `path` is (or can be made) a folder a file can be written in.

    The probe really writes: permission bits do not stop root, a read-only mount or a full disk
    only shows on writing."""
    _ensure_dir(path, origin)
    try:
        probe_write(path)
    except OSError as exc:
        raise DirectoryError(f"cannot write in {origin} {path}: {exc.strerror or exc}") from None


def unusable_dirs(results_override: str | os.PathLike[str] | None = None, results: bool = True) -> list[str]:
    """Problems with the cache folder (and the results folder unless `results` is False), one
    message each; empty when both can be written. Meant to run before any work."""
    problems = []
    choices = [_cache_choice()] + ([_results_choice(results_override)] if results else [])
    for path, origin in choices:
        try:
            check_writable(path, origin)
        except DirectoryError as exc:
            problems.append(str(exc))
    return problems


# -- staging folders ------------------------------------------------------------------------
# A staging folder is named `<prefix><pid>-<start>-<random>`: `start` is the owner's start time
# (centiseconds since the epoch), so a pid that the system gave to a new process since does not
# keep a dead owner's folder alive. Preparations stage as `.<key>.tmp-`, bundle imports as
# `.import-`. Older qtui versions named preparation folders `.<key>.tmp-<pid>` and import folders
# `.import-<random>` (tempfile): see `clean_stale_staging` for how those are judged.

_OWNED = re.compile(r"^\.(?:.+\.tmp|import)-(?P<pid>\d+)-(?P<start>\d+)(?:-[0-9a-f]+)?$")
_PID_ONLY = re.compile(r"^\..+\.tmp-(?P<pid>\d+)$")
_UNOWNED_IMPORT = re.compile(r"^\.import-[a-z0-9_]{8}$")


def process_start(pid: int) -> int | None:
    """When process `pid` started, in centiseconds since the epoch; None when it does not exist."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # ended, not yet reaped
            return None
        return round(proc.create_time() * 100)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, ValueError, OSError):
        return None


def owner_tag(pid: int | None = None) -> str:
    """`<pid>-<start>` of a process (default: this one), as staging folder names carry it."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}-{process_start(pid) or 0}"


def owner_alive(pid: int, start: int | None) -> bool:
    """True while process `pid` runs and, when `start` is given (0: unknown), is the one that
    started then (±0.02 s: the start time comes from clock ticks and may round differently)."""
    now = process_start(pid)
    if now is None:
        return False
    return not start or abs(now - start) <= 2


def staging_dir(parent: Path, prefix: str) -> Path:
    """Create and return a new staging folder in `parent` owned by this process."""
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f"{prefix}{owner_tag()}-{secrets.token_hex(3)}"
    path.mkdir()
    return path


def is_staging(name: str) -> bool:
    """True for names of staging folders (this version's or older ones)."""
    return bool(_OWNED.match(name) or _PID_ONLY.match(name) or _UNOWNED_IMPORT.match(name))


def _other_qtui_running() -> bool:
    import psutil

    me = os.getpid()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.info["pid"] != me and any("qtui" in part for part in proc.info["cmdline"] or ()):
                return True
        except (psutil.Error, TypeError):
            continue
    return False


def stale_staging(root: Path) -> list[Path]:
    """Staging folders in `root` whose owner is gone.

    Owned names: the owner is gone when no process with that pid and start time runs. Names
    with a pid only (older qtui): when no process with that pid runs. Unowned import folders
    (older qtui): when no other qtui process runs at all."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    stale: list[Path] = []
    unowned: list[Path] = []
    for entry in entries:
        if not entry.is_dir() or entry.is_symlink():
            continue
        if m := _OWNED.match(entry.name):
            if not owner_alive(int(m["pid"]), int(m["start"])):
                stale.append(entry)
        elif m := _PID_ONLY.match(entry.name):
            if not owner_alive(int(m["pid"]), None):
                stale.append(entry)
        elif _UNOWNED_IMPORT.match(entry.name):
            unowned.append(entry)
    if unowned and not _other_qtui_running():
        stale += unowned
    return stale


def clean_stale_staging(root: Path) -> list[Path]:
    """Remove the staging folders in `root` whose owner is gone (killed while preparing or
    importing); returns those removed. Never raises: a folder that cannot be removed stays."""
    removed = []
    for path in stale_staging(root):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def remove_own_staging(root: Path) -> None:
    """Remove this process's staging folders in `root` (before it ends with work still staged,
    e.g. a cancelled preparation left running in the background)."""
    tag = owner_tag()
    try:
        entries = list(root.iterdir())
    except OSError:
        return
    for entry in entries:
        m = _OWNED.match(entry.name)
        if m and f"{m['pid']}-{m['start']}" == tag:
            shutil.rmtree(entry, ignore_errors=True)
