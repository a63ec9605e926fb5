"""Commands qtui suggests (`recommend`'s "to measure it:"): built from a run's validated profile,
never from its name alone, and checked before they are shown.

`run_argv(profile)` is a `qtui run` argv that measures exactly `profile`: a named profile this
machine knows (the one the run was made from, else the shipped `quick`) plus one `--set` for each
value that differs from it (model, framework, precision, scenario, mode, threads, batch size,
weights, data, LoadGen settings, device label), and for a `[sweep]` profile its sweep narrowed
to the one combination. The argv is resolved back the way `qtui run` resolves it
(`profile_store.resolve`, `profile.apply_overrides`, `expand_sweep`) and kept only when that
yields `profile` in every field that decides what is measured (`identity.measured_identity`) and
its device label; otherwise there is no command (None), never an approximate one.
`sinks.shell_command` then quotes every argument.
"""

from __future__ import annotations

import json
from typing import Any

from qtui.core.profile import (
    ProfileError,
    RunProfile,
    _parse_override_value,
    apply_overrides,
    expand_sweep,
    load,
    to_dict,
)
from qtui.core.sinks import shell_command

#: Profile keys a suggested command does not reproduce through `--set`: the name comes with the
#: base profile, a sweep is narrowed instead, `[study]` does not change a single run.
_NOT_SET = ("schema_version", "name", "sweep", "study", "device")
#: Where a command falls back to when the run's own profile is unknown here (always shipped).
FALLBACK_PROFILE = "quick"


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _value_text(key: str, value: Any) -> str:
    """`value` as `--set key=…` reads it back: a bare word when it reads back as that same
    string (`precision=int8_static`), TOML otherwise (`"true"`, `8`, `["a"]`, `"a b "`)."""
    if isinstance(value, str) and value == value.strip() and value:
        try:
            if _parse_override_value(value, key, "--set") == value:
                return value
        except ProfileError:
            pass
    return _toml(value)


def _toml(value: Any) -> str:
    """A TOML value on one line (a JSON string is a TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _measured(profile: RunProfile) -> dict[str, Any]:
    from qtui.core.identity import measured_identity

    return measured_identity(profile)


def _resolve_base(name: str) -> tuple[str, RunProfile] | None:
    """The profile NAME means to `qtui run NAME`, when it is a bare name that resolves."""
    from qtui.core.profile_store import ProfileNotFound, _is_bare_name, resolve

    if not name or name != name.strip() or not _is_bare_name(name) or name.startswith("-"):
        return None
    try:
        return name, load(resolve(name))
    except (ProfileNotFound, ProfileError, OSError):
        return None


def _assignments(base: RunProfile, target: RunProfile, device: str | None) -> list[str] | None:
    pins: list[str] = []
    if base.sweep is not None:
        for key, value in (
            ("models", target.model), ("frameworks", target.framework),
            ("precisions", target.precision), ("scenarios", target.scenario),
        ):
            pins.append(f"sweep.{key}={_value_text(f'sweep.{key}', [value])}")
    try:
        pinned = expand_sweep(apply_overrides(base, pins))[0] if pins else base
    except ProfileError:
        return None
    have = _leaves(to_dict(pinned))
    sets = [
        f"{key}={_value_text(key, value)}"
        for key, value in _leaves(to_dict(target)).items()
        if key.split(".", 1)[0] not in _NOT_SET and have.get(key, _MISSING) != value
    ]
    if device is not None and pinned.device != device:
        sets.append(f"device={_value_text('device', device)}")
    return pins + sets


_MISSING = object()


def run_argv(profile: RunProfile, device: str | None = None) -> list[str] | None:
    """A `qtui run` argv (see the module docstring) that measures exactly `profile` and records
    the device label `device` (None: the profile's own); None when no such command exists here."""
    device = device if device is not None else profile.device
    wanted = _measured(profile)
    names = [profile.name.split("/", 1)[0], FALLBACK_PROFILE]
    for name in dict.fromkeys(names):
        found = _resolve_base(name)
        if found is None:
            continue
        base_name, base = found
        sets = _assignments(base, profile, device)
        if sets is None:
            continue
        try:
            runs = expand_sweep(apply_overrides(base, sets))
        except ProfileError:
            continue
        if len(runs) == 1 and _measured(runs[0]) == wanted and runs[0].device == device:
            argv = ["qtui", "run", base_name]
            for item in sets:
                argv += ["--set", item]
            return argv
    return None


def run_command(profile: RunProfile, device: str | None = None) -> str | None:
    """`run_argv` as one shell-quoted line (`sinks.shell_command`), or None."""
    argv = run_argv(profile, device)
    if argv is None:
        return None
    try:
        return shell_command(argv)
    except ValueError:
        return None
