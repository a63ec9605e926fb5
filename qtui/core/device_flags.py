"""Devices whose runs disagree with the other devices' (a fleet's results side by side): another
qtui version, other model weights (their digest), another version of a framework both ran.

Figures from such a device are not like for like with the others', so the merged tables flag the
device instead of mixing its runs in silently: `flag_devices` finds them, `mark` puts
`FLAG_MARK` after their label in a copy of the results (tables show it in their device column),
`flag_notes` says what differs. With one device there is nothing to disagree with.

Which value is "the profile's": the one most devices recorded; a device with another one is
flagged. When no value is held by more devices than every other (two devices, two versions),
every device with a value is flagged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from qtui.core.identity import Measurement, device_label
from qtui.core.text import one_line

#: After a flagged device's label in the tables.
FLAG_MARK = "⚑"
#: The legend above the flagged devices' notes.
FLAG_NOTE = (
    f"{FLAG_MARK} a device whose runs disagree with the other devices' (qtui version, model weights, "
    "framework version): its figures are not like for like with theirs"
)


def _short(value: str) -> str:
    """A digest shortened for a note (a version as it is)."""
    return value[:12] if len(value) >= 32 and all(c in "0123456789abcdef" for c in value) else value


def _aspects(run: Measurement) -> list[tuple[str, str]]:
    """(what, value) this run records that must agree across devices."""
    out: list[tuple[str, str]] = []
    env = run.environment or {}
    version = env.get("qtui_version")
    if isinstance(version, str) and version:
        out.append(("qtui", version))
    framework = run.profile.framework
    fw_version = (env.get("frameworks") or {}).get(framework) if isinstance(env.get("frameworks"), dict) else None
    if isinstance(fw_version, str) and fw_version:
        out.append((framework, fw_version))
    model = run.profile.model
    record = run.provenance.get("model")
    digest = record.get("sha256") if isinstance(record, dict) else None
    digest = digest or run.provenance.get("weights_digest")
    if isinstance(digest, str) and digest:
        out.append((f"{model} weights", digest))
    return out


def flag_devices(results: Iterable[Measurement]) -> dict[str, list[str]]:
    """Device label -> what it disagrees on, e.g. "qtui 0.2.0 (the others: 0.1.0)"; only the
    flagged devices, in the order of their labels. Empty with fewer than two devices."""
    values: dict[str, dict[str, set[str]]] = {}  # what -> device -> values
    for run in results:
        device = device_label(run)
        for what, value in _aspects(run):
            values.setdefault(what, {}).setdefault(device, set()).add(value)
    flags: dict[str, list[str]] = {}
    for what, by_device in values.items():
        for device, why in disagreeing(by_device).items():
            flags.setdefault(device, []).append(f"{what} {why}")
    return {d: flags[d] for d in sorted(flags, key=str.casefold)}


def disagreeing(by_device: dict[str, set[str]]) -> dict[str, str]:
    """Device -> "MINE (the others: THEIRS)" for each device whose values of one aspect are not
    the one most devices hold (every device with a value when no value leads)."""
    counts: dict[str, int] = {}
    for held in by_device.values():
        for value in held:
            counts[value] = counts.get(value, 0) + 1
    if len(by_device) < 2 or len(counts) < 2:
        return {}
    top = max(counts.values())
    leaders = [v for v, n in counts.items() if n == top]
    reference = leaders[0] if len(leaders) == 1 else None
    out: dict[str, str] = {}
    for device, held in by_device.items():
        if reference is not None and held == {reference}:
            continue
        others = sorted({v for d, h in by_device.items() if d != device for v in h} - held)
        if others:
            mine = ", ".join(_short(v) for v in sorted(held))
            out[device] = f"{mine} (the others: {', '.join(_short(v) for v in others)})"
    return out


def flag_notes(flags: dict[str, list[str]]) -> list[str]:
    """The legend and one line per flagged device; [] when none is."""
    if not flags:
        return []
    return [FLAG_NOTE, *(f"{FLAG_MARK} {one_line(d)}: {'; '.join(one_line(x) for x in why)}" for d, why in flags.items())]


def flagged_label(label: str) -> str:
    return f"{label} {FLAG_MARK}"


def mark(results: list[Any], flags: dict[str, list[str]]) -> dict[int, Any]:
    """Copies of the flagged devices' runs in `results` whose device label carries FLAG_MARK (every
    run of a device alike, so that the tables keep its runs together), by the `id` of the run
    they replace; the results themselves are never changed."""
    out: dict[int, Any] = {}
    for run in results:
        label = device_label(run)
        if label in flags:
            out[id(run)] = dataclasses.replace(run, environment={**run.environment, "device": flagged_label(label)})
    return out
