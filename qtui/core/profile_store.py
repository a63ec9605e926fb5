"""Where profiles live and what a profile name means, the same for `qtui run`, `qtui prepare`,
`qtui bundle export`, the TUI's profile list and its save dialog.

A PROFILE argument is, in this order: a path to an existing file; else a bare name (`quick`,
`quick.toml`) of a profile shipped inside the package (`qtui/profiles/`); else the name of a
profile saved from the TUI (`<config dir>/profiles/NAME.toml`). Saving never shadows a shipped
name: `is_shipped_name` lets the save dialog refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qtui.core.paths import config_path
from qtui.core.profile import RunProfile, non_ascii_note


class ProfileNotFound(Exception):
    """No file, shipped profile or saved profile has this name; the message lists the names."""


@dataclass(frozen=True)
class ProfileEntry:
    """One profile the user can pick: its name, file and where it comes from."""

    name: str
    path: Path
    origin: str  # "shipped" | "saved" | "project"


def shipped_dir() -> Path:
    """The profiles shipped inside the package (a pip-installed qtui has them too)."""
    import qtui

    return Path(qtui.__file__).resolve().parent / "profiles"


def saved_dir() -> Path:
    """Where the TUI saves profiles (`<config dir>/profiles`; `QTUI_CONFIG_DIR` moves it). Not
    created here: an unusable config folder hides saved profiles, never the shipped ones."""
    return config_path() / "profiles"


#: A PROFILE argument longer than this is no file name (Linux's NAME_MAX).
MAX_NAME_BYTES = 255


def _is_file(path: Path) -> bool:
    """Path.is_file without raising: a folder that cannot be searched, a name too long."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _stem(name: str) -> str:
    return name[: -len(".toml")] if name.endswith(".toml") else name


def _is_bare_name(text: str) -> bool:
    return bool(text) and "/" not in text and "\\" not in text and text not in (".", "..")


def is_shipped_name(name: str) -> bool:
    """True when NAME (with or without .toml) is a profile shipped with qtui."""
    return _is_bare_name(name) and (shipped_dir() / f"{_stem(name)}.toml").is_file()


def resolve(name_or_path: str) -> Path:
    """The file a PROFILE argument means (see the module docstring); raises ProfileNotFound."""
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in name_or_path.split("/")):
        raise ProfileNotFound(
            f"{name_or_path[:40]}…: not a profile: a file or profile name is at most {MAX_NAME_BYTES} bytes"
        )
    given = Path(name_or_path).expanduser()
    try:
        if given.exists():
            return given
    except (OSError, ValueError) as exc:  # a path too long, a folder that cannot be searched
        raise ProfileNotFound(f"{name_or_path}: cannot read profile ({getattr(exc, 'strerror', None) or exc})") from None
    if _is_bare_name(name_or_path):
        stem = _stem(name_or_path)
        for folder in (shipped_dir(), saved_dir()):
            candidate = folder / f"{stem}.toml"
            if _is_file(candidate):
                return candidate
    names = sorted({e.name.encode("ascii", "backslashreplace").decode() for e in list_profiles()})
    known = f"; profile names known here: {', '.join(names)}" if names else ""
    raise ProfileNotFound(f"{name_or_path}: no such profile file or profile name{known}")


def _project_dirs() -> list[Path]:
    """`profiles/` beside a checkout's package and in the current folder, when they exist."""
    import qtui

    package = Path(qtui.__file__).resolve().parent
    return [package.parent / "profiles", Path.cwd() / "profiles"]


def profile_dirs() -> list[tuple[Path, str]]:
    """Every folder profiles are listed from, each once (resolved), with its origin."""
    seen: list[Path] = []
    out: list[tuple[Path, str]] = []
    candidates = [(shipped_dir(), "shipped")] + [(d, "project") for d in _project_dirs()]
    candidates.append((saved_dir(), "saved"))
    for folder, origin in candidates:
        try:
            resolved = folder.resolve()
        except OSError:
            continue
        if resolved.is_dir() and resolved not in seen:
            seen.append(resolved)
            out.append((resolved, origin))
    return out


def profile_files(folder: Path) -> list[Path]:
    """The profile files (`*.toml`, regular files) in `folder`, by name; [] when it cannot be
    read. The one listing of profiles: `list_profiles` and the TUI's profile list use it."""
    try:
        files = sorted(folder.glob("*.toml"))
    except OSError:
        return []
    return [p for p in files if _is_file(p)]


def list_profiles() -> list[ProfileEntry]:
    """Every profile file in `profile_dirs()`, shipped ones first, then by name."""
    entries: list[ProfileEntry] = []
    for folder, origin in profile_dirs():
        entries += [ProfileEntry(p.stem, p, origin) for p in profile_files(folder)]
    return entries


def name_note(name: str) -> str | None:
    """Why a profile name deserves a second look, or None: it holds a non-ASCII character (a
    saved `quіck` with a Cyrillic 'і' looks exactly like the shipped `quick`), named by code
    point and Unicode name."""
    odd = non_ascii_note(name)
    return f"the name holds a non-ASCII character, {odd}" if odd else None


def suggest_name(profile: RunProfile) -> str:
    """A file name that says what the profile runs, e.g. `mobilenet_v2-openvino-int8_static-offline`
    (never a shipped profile's name)."""
    from qtui.core.model_source import model_slug

    name = f"{model_slug(profile.model)}-{profile.framework}-{profile.precision}-{profile.scenario.lower()}"
    if profile.mode != "performance":
        name += f"-{profile.mode}"
    return name if not is_shipped_name(name) else f"{name}-mine"


def shadowing_message(name: str) -> str | None:
    """Why NAME cannot be used for a saved profile, or None: a shipped profile has that name."""
    if is_shipped_name(name):
        return (
            f"'{_stem(name)}' is a profile shipped with qtui; saving under that name would hide "
            "one of the two: choose another name"
        )
    return None
