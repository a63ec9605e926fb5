"""`fleet study`'s pushes: what the controller prepares here for each device and copies there.

Each device first says, with its own qtui, which artifacts of the study it has, can make, or
lacks (qtui.fleet.needs). The controller prepares (or finds in its cache) those a device lacks
(`--push auto`, the default) or every one it does not have (`--push all`: every device then runs
the same bytes), checks that each is the artifact the device asked for (the same spec id: the
same model, weights, precision and calibration set) made with the device's own
architecture-bound recipe (`needs.arch_recipe`), and exports them as one bundle per device
(`qtui bundle export`). The study playbook copies it with Ansible's copy module and the device's
own `qtui bundle import` checks every digest. A device that has everything gets nothing, so the
same `fleet study` again pushes nothing.

A bundle is named by the artifacts it holds (their cache keys), so the same artifacts are the
same file: it is exported once and Ansible's copy sends it only when a device's copy differs.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtui.core.paths import cache_dir
from qtui.core.prepare.target import Target, preparing_for
from qtui.core.text import plural
from qtui.fleet.needs import arch_recipe, device_target

#: `fleet study --push`: what a device is sent (`none`: nothing, as before a device said).
PUSH_MODES = ("auto", "all", "none")


def bundle_folder() -> Path:
    """Where the controller keeps the bundles it pushed (in its cache)."""
    return cache_dir() / "fleet" / "bundles"


def bundle_name(keys: list[str]) -> str:
    """The file name of the bundle holding the artifacts with these cache keys."""
    return hashlib.sha256("\n".join(sorted(set(keys))).encode()).hexdigest()[:16] + ".tar.gz"


def bundle_of(artifacts: list[Any]) -> Path:
    """The bundle of exactly these artifacts in the controller's cache, exported unless it is
    there already. Raises what export raises."""
    from qtui.core.bundle import export_bundle

    out = bundle_folder() / bundle_name([a.directory.name for a in artifacts])
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        export_bundle(out, artifacts)
    return out


def cell_name(entry: dict[str, Any]) -> str:
    """An artifact of the study as a note names it: `mobilenet_v2 onnxruntime int8_static`."""
    return " ".join(str(entry.get(k, "?")) for k in ("model", "framework", "precision"))


def _made_for(meta: dict[str, Any]) -> str:
    """` (made here for aarch64)` for an artifact made with another architecture's recipe."""
    details = meta.get("details")
    made_for = details.get("made_for") if isinstance(details, dict) else None
    return f" (made here for {made_for})" if made_for else ""


@dataclass
class Push:
    """What one device is sent: the artifacts and their bundle (None: nothing), how many of the
    study's artifacts it has or makes itself, and why an artifact it needs is not sent."""

    artifacts: list[Any] = field(default_factory=list)
    bundle: Path | None = None
    has: int = 0
    prepares: int = 0
    not_pushed: list[str] = field(default_factory=list)
    #: the device's answer could not be read: nothing is pushed, it prepares what it runs
    unknown: str | None = None

    def summary(self) -> str:
        """One line for the notes under `fleet study`'s table (after the device's name)."""
        if self.unknown is not None:
            return f"cannot tell what it lacks ({self.unknown}): nothing pushed, it prepares what it runs"
        parts = []
        if self.artifacts:
            names = ", ".join(cell_name(a.meta) + _made_for(a.meta) for a in self.artifacts)
            size = self.bundle.stat().st_size / 1e6 if self.bundle is not None and self.bundle.is_file() else 0.0
            parts.append(f"pushed {names} (bundle {self.bundle.name if self.bundle else '?'}, {size:.1f} MB)")
        else:
            parts.append("nothing pushed")
        if self.has:
            parts.append(f"has {self.has}")
        if self.prepares:
            parts.append(f"prepares {self.prepares} itself")
        return ", ".join(parts) + "".join(f"; not pushed: {n}" for n in self.not_pushed)


def plan_pushes(
    profile_path: Path,
    answers: dict[str, dict[str, Any] | str],
    mode: str,
    say: Callable[[str], None] | None = None,
) -> dict[str, Push]:
    """What each device is sent, from its answer (`needs.device_needs`' dict, or a str saying
    why there is none). Each artifact is prepared here once for all devices; one that cannot
    be made here, is another artifact than the device asked for, or is made with another
    recipe than the device's is not sent, and the device's Push says why. An artifact whose
    recipe depends on the CPU (`needs.arch_recipe`) is made here with the device's recipe
    (`target.preparing_for` its architecture) when this machine's differs. `say` hears of each
    preparation here before it starts (a large model takes minutes)."""
    from qtui.core.prepare.for_profile import prepare_only
    from qtui.core.profile import load
    from qtui.core.study import StudyOptions, plan

    cells = plan(load(profile_path), StudyOptions())
    made: dict[tuple[int, Target | None], Any] = {}  # (plan index, made for) → the artifact here, or the exception preparing it
    here = platform.machine()
    pushes: dict[str, Push] = {}
    for device_name, answer in answers.items():
        push = pushes[device_name] = Push()
        if isinstance(answer, str):
            push.unknown = answer
            continue
        there = str(answer.get("machine") or "?")
        for entry in answer.get("cells") or []:
            state = entry.get("state")
            if state == "have":
                push.has += 1
            elif state == "prepare" and mode != "all":
                push.prepares += 1
            elif state == "cannot run":
                push.not_pushed.append(f"{cell_name(entry)}: cannot run there ({entry.get('reason', '')})")
            elif state == "error":
                push.not_pushed.append(f"{cell_name(entry)}: {entry.get('reason', '')}")
            elif state in ("lacks", "prepare"):
                index = entry.get("cell")
                cell = cells[index] if isinstance(index, int) and 0 <= index < len(cells) else None
                if cell is None or (cell.model, cell.framework, cell.precision) != (entry.get("model"), entry.get("framework"), entry.get("precision")):
                    push.not_pushed.append(f"{cell_name(entry)}: the device plans another study than this machine (another qtui version?)")
                    continue
                # the recipe first: an artifact the device makes another way than this machine is
                # made here for it (its architecture's recipe) when this qtui knows that recipe
                ours = _recipe_for(cell, None)
                device = None
                if ours != entry.get("recipe"):
                    device = device_target(there, entry.get("recipe"))
                    theirs = _recipe_for(cell, device)
                    if theirs != entry.get("recipe"):
                        push.not_pushed.append(
                            f"{cell_name(entry)}: the device ({there}) makes it with recipe {entry.get('recipe')}, which this qtui cannot make "
                            f"(it makes {ours} here on {here}, {theirs} for an {there} device): another qtui version there?"
                        )
                        continue
                if (index, device) not in made:
                    if say is not None:
                        recipe = f" with the {there} recipe" if device is not None else ""
                        say(f"preparing here{recipe} (or from this machine's cache) for {device_name}: {cell_name(entry)}")
                    try:
                        with preparing_for(device):
                            made[index, device] = prepare_only(cell)[0]
                    except Exception as exc:  # preparation raises many kinds; each says what failed
                        made[index, device] = exc
                artifact = made[index, device]
                if isinstance(artifact, Exception):
                    push.not_pushed.append(f"{cell_name(entry)}: cannot be prepared here either: {artifact}")
                elif artifact.meta.get("spec_id") != entry.get("spec_id"):
                    push.not_pushed.append(f"{cell_name(entry)}: the device's is another artifact (its weights, data or calibration set differ)")
                elif arch_recipe(cell.framework, cell.precision, artifact.meta.get("tools") or {}) != entry.get("recipe"):
                    push.not_pushed.append(f"{cell_name(entry)}: the one in this machine's cache was made with another recipe than the device's")
                elif all(a.directory != artifact.directory for a in push.artifacts):
                    push.artifacts.append(artifact)
    return pushes


def _recipe_for(cell: Any, device: Target | None) -> str | None:
    """The architecture-bound recipe this machine makes `cell`'s artifact with for `device`
    (None: for itself); None when there is none."""
    from qtui.core.prepare import PrepareError, prepare_module

    try:
        with preparing_for(device):
            tools = prepare_module(cell.framework).tool_versions()
    except PrepareError:
        return None  # this qtui cannot prepare the framework: preparing says so
    return arch_recipe(cell.framework, cell.precision, tools)


def export_pushes(pushes: dict[str, Push]) -> None:
    """Each device's bundle (one file per distinct set of artifacts). A bundle that cannot be
    written leaves its devices with nothing pushed and says why."""
    from qtui.core.bundle import BundleError

    for push in pushes.values():
        if not push.artifacts:
            continue
        try:
            push.bundle = bundle_of(push.artifacts)
        except BundleError as exc:
            push.not_pushed.append(f"{plural(len(push.artifacts), 'artifact')}: {exc}")
            push.artifacts = []
