"""`fleet study --push-bundle`: the study's artifacts prepared here, on the controller, as one
bundle (`qtui bundle export`), which the study playbook copies to each device with Ansible's copy
module and imports there with the device's own `qtui bundle import` (which checks every file's
digest and refuses a damaged or altered bundle). A device without the converters (a Pi without
torch, NNCF or the TFLite converter) then runs what it could not prepare.

The bundle is named by the artifacts it holds (their cache keys), so the same study pushes the
same file: Ansible's copy sends it only when a device's copy differs, and a device imports it
once (a marker beside it records the import).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtui.core.paths import cache_dir


def bundle_folder() -> Path:
    """Where the controller keeps the bundles it pushed (in its cache)."""
    return cache_dir() / "fleet" / "bundles"


def bundle_name(keys: list[str]) -> str:
    """The file name of the bundle holding the artifacts with these cache keys."""
    return hashlib.sha256("\n".join(sorted(set(keys))).encode()).hexdigest()[:16] + ".tar.gz"


def study_bundle(profile_path: Path, on_event: Callable[[Any], None] | None = None) -> tuple[Path, list[Any]]:
    """Prepare (or find in this machine's cache) every artifact of the study of `profile_path`
    and export them as one bundle, unless the bundle of exactly these artifacts is there
    already: (the bundle, the artifacts). Raises what preparation and export raise."""
    from qtui.core.bundle import export_bundle
    from qtui.core.prepare.for_profile import prepare_only
    from qtui.core.profile import load
    from qtui.core.study import StudyOptions, plan

    profile = load(profile_path)
    artifacts: dict[str, Any] = {}
    for cell in plan(profile, StudyOptions()):
        artifact, _ = prepare_only(cell, on_event)
        artifacts.setdefault(artifact.directory.name, artifact)
    out = bundle_folder() / bundle_name(list(artifacts))
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        export_bundle(out, list(artifacts.values()))
    return out, list(artifacts.values())
