"""`fleet study --push-bundle` on one sshd "device" without torch (it cannot export a model): the
controller's bundle is copied with Ansible's copy module and imported by the device's own qtui,
which refuses a damaged one (the study never starts), and the study then runs the imported
artifact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtui.core.profile import StudySpec, dumps
from qtui.fleet.cli import profile_hash
from tests.conftest import small_profile
from tests.fleet.conftest import REPO, Fleet
from tests.fleet.test_fleet import qtui, rows, wait_for

pytestmark = pytest.mark.timeout(600)


@pytest.fixture()
def controller(session_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The controller's cache: a short path (ssh's control sockets), starting as hard links to
    the session's cache (artifacts other tests prepared are not prepared again)."""
    root = Path(tempfile.mkdtemp(prefix="qtui-fleet-"))
    shutil.copytree(session_cache, root, dirs_exist_ok=True, copy_function=os.link)
    monkeypatch.setenv("QTUI_CACHE_DIR", str(root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_push_bundle_runs_what_the_device_cannot_prepare(fleet_devices: Fleet, session_cache: Path, controller: Path, tmp_path: Path) -> None:
    a = fleet_devices.devices[0]
    shutil.rmtree(a.home, ignore_errors=True)
    # no artifact there (its data caches are the session's: the test is about the artifact)
    shutil.copytree(session_cache, a.home / "cache", ignore=shutil.ignore_patterns("artifacts", "fleet"), copy_function=os.link)
    no_torch = tmp_path / "no-torch"
    (no_torch / "torch").mkdir(parents=True)
    (no_torch / "torch" / "__init__.py").write_text('raise ImportError("no torch on this device")\n')
    device_python = ["env", f"PYTHONPATH={no_torch}:{REPO}", sys.executable]
    assert subprocess.run([*device_python, "-c", "import torch"], capture_output=True).returncode == 1
    inv = fleet_devices.inventory(tmp_path / "inv.ini", command={a.name: " ".join([*device_python, "-m", "qtui"])})
    profile = tmp_path / "push.toml"
    profile.write_text(dumps(small_profile(name="fleet-push", study=StudySpec(quality=False))))

    # the bundle on the controller, damaged after export (a bad disk, a bad copy): the device's
    # own import refuses it and its study never starts
    from qtui.fleet.push import study_bundle

    bundle, artifacts = study_bundle(profile)
    assert [x.meta["framework"] for x in artifacts] == ["onnxruntime"]
    good = bundle.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    bundle.write_bytes(bytes(bad))
    r = qtui("fleet", "study", str(profile), "-i", str(inv), "--limit", a.name, "--push-bundle")
    assert r.exit_code == 1 and rows(r.output)[a.name][0] == "failed", r.output
    assert "bundle import: qtui: " in " ".join(r.output.split()), r.output
    assert not list((a.home / "fleet").glob("*/pid")) and not (a.home / "cache" / "artifacts").exists()

    # the bundle as exported: copied again (its bytes differ), imported, and the study runs it;
    # an earlier study the device was interrupted in stays in sight of `fleet status`
    earlier = a.home / "fleet" / ("0" * 16)
    earlier.mkdir(parents=True)
    (earlier / "profile.toml").write_text("")
    bundle.write_bytes(good)
    r = qtui("fleet", "study", str(profile), "-i", str(inv), "--limit", a.name, "--push-bundle")
    assert r.exit_code == 0 and rows(r.output)[a.name][0] == "started", r.output
    assert f"bundle {bundle.name}: 1 artifact" in r.output
    state = a.home / "fleet" / profile_hash(profile.read_bytes())
    assert wait_for(state / "rc") == "0", (state / "log").read_text()
    r = qtui("fleet", "status", "-i", str(inv), "--limit", a.name)
    assert r.exit_code == 0 and rows(r.output)[a.name][:2] == ["finished", "1/1"], r.output
    assert f"{a.name}: earlier studies: {'0' * 16} interrupted" in r.output, r.output
    [result] = [json.loads(p.read_text()) for p in (a.home / "results").glob("*/result.json")]
    assert result["status"] == "ok" and result["artifact"]["key"] == artifacts[0].meta["key"]
    assert result["artifact"]["cache_hit"] is True  # imported, never prepared there
    meta = json.loads((a.home / "cache" / "artifacts" / artifacts[0].directory.name / "meta.json").read_text())
    assert meta.get("imported_from")
