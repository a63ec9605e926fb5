"""`fleet study`'s pushes on two sshd "devices": pi-a without torch (it cannot export a model)
gets the controller's bundle by default, copied with Ansible's copy module and imported by its
own qtui, which refuses a damaged one (the study never starts), and its study runs the imported
artifact; pi-b, which can prepare, gets nothing unless asked (`--push-bundle`, i.e. --push all);
a device that has the artifact (by its spec's hash) gets nothing, so the same `fleet study`
again pushes nothing."""

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
from tests.fleet.conftest import REPO, Fleet, gated_command
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


def test_a_device_gets_what_it_cannot_prepare_and_nothing_twice(fleet_devices: Fleet, session_cache: Path, controller: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import psutil

    a, b = fleet_devices.devices[:2]
    for d in (a, b):
        shutil.rmtree(d.home, ignore_errors=True)
        # no artifact there (their data caches are the session's: the test is about the artifact)
        shutil.copytree(session_cache, d.home / "cache", ignore=shutil.ignore_patterns("artifacts", "fleet"), copy_function=os.link)
    no_torch = tmp_path / "no-torch"
    (no_torch / "torch").mkdir(parents=True)
    (no_torch / "torch" / "__init__.py").write_text('raise ImportError("no torch on this device")\n')
    device_python = ["env", f"PYTHONPATH={no_torch}:{REPO}", sys.executable]
    assert subprocess.run([*device_python, "-c", "import torch"], capture_output=True).returncode == 1
    # pi-b's study waits for its gate: it stays running while pi-b is asked again
    gate = tmp_path / "gate-b"
    gate.write_text("")
    request.addfinalizer(lambda: gate.unlink(missing_ok=True))  # never left waiting
    inv = fleet_devices.inventory(tmp_path / "inv.ini", command={a.name: " ".join([*device_python, "-m", "qtui"]), b.name: gated_command(gate)})
    profile = tmp_path / "push.toml"
    profile.write_text(dumps(small_profile(name="fleet-push", study=StudySpec(quality=False))))
    state = {d.name: d.home / "fleet" / profile_hash(profile.read_bytes()) for d in (a, b)}

    # the bundle on the controller, damaged after export (a bad disk, a bad copy): pi-a's own
    # import refuses it and its study never starts
    from qtui.core.prepare.for_profile import prepare_only
    from qtui.core.profile import load
    from qtui.fleet.push import bundle_of

    artifact, _ = prepare_only(load(profile))
    bundle = bundle_of([artifact])
    good = bundle.read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    bundle.write_bytes(bytes(bad))
    r = qtui("fleet", "study", str(profile), "-i", str(inv), "--limit", "pi-a:pi-b")
    assert r.exit_code == 1 and rows(r.output)[a.name][0] == "failed", r.output
    assert "bundle import: qtui: " in " ".join(r.output.split()), r.output
    assert not (state[a.name] / "pid").exists() and not list((a.home / "cache" / "artifacts").glob("*"))
    # pi-b can prepare it (it has torch): nothing is sent to it, its study starts
    assert rows(r.output)[b.name][:2] == ["started", "–"], r.output
    assert f"{b.name}: nothing pushed, prepares 1 itself\n" in r.output, r.output
    assert not (b.home / "fleet" / "bundles").exists()

    # the bundle as exported: copied again (its bytes differ), imported, and pi-a's study runs
    # it; with --push-bundle (every artifact a device does not have) pi-b gets it too, and its
    # running study is not disturbed; an earlier study pi-a was interrupted in stays in sight of
    # `fleet status`
    earlier = a.home / "fleet" / ("0" * 16)
    earlier.mkdir(parents=True)
    (earlier / "profile.toml").write_text("")
    bundle.write_bytes(good)
    r = qtui("fleet", "study", str(profile), "-i", str(inv), "--limit", "pi-a:pi-b", "--push-bundle")
    assert r.exit_code == 0, r.output
    assert rows(r.output)[a.name][:2] == ["started", "1"] and rows(r.output)[b.name][:2] == ["running", "1"], r.output
    for d in (a, b):
        assert f"{d.name}: pushed mobilenet_v2 onnxruntime fp32 (bundle {bundle.name}, " in r.output, r.output
    assert wait_for(state[a.name] / "rc") == "0", (state[a.name] / "log").read_text()
    r = qtui("fleet", "status", "-i", str(inv), "--limit", a.name)
    assert r.exit_code == 0 and rows(r.output)[a.name][:2] == ["finished", "1/1"], r.output
    assert f"{a.name}: earlier studies: {'0' * 16} interrupted" in r.output, r.output
    [result] = [json.loads(p.read_text()) for p in (a.home / "results").glob("*/result.json")]
    assert result["status"] == "ok" and result["artifact"]["key"] == artifact.meta["key"]
    assert result["artifact"]["cache_hit"] is True  # imported, never prepared there
    for d in (a, b):
        meta = json.loads((d.home / "cache" / "artifacts" / artifact.directory.name / "meta.json").read_text())
        assert meta.get("imported_from")

    # the same command again: both have the artifact (by its spec's hash), nothing is sent
    sent = {d.name: (d.home / "fleet" / "bundles" / bundle.name).stat().st_mtime_ns for d in (a, b)}
    r = qtui("fleet", "study", str(profile), "-i", str(inv), "--limit", "pi-a:pi-b")
    assert r.exit_code == 0, r.output
    assert rows(r.output)[a.name][:2] == ["finished", "–"] and rows(r.output)[b.name][:2] == ["running", "–"], r.output
    for d in (a, b):
        assert f"{d.name}: nothing pushed, has 1\n" in r.output, r.output
    assert {d.name: (d.home / "fleet" / "bundles" / bundle.name).stat().st_mtime_ns for d in (a, b)} == sent

    # pi-b's study, still at its gate, ends here (the test is about what was pushed to it)
    study_b = psutil.Process(int(wait_for(state[b.name] / "pid")))
    for proc in [study_b, *study_b.children(recursive=True)]:
        proc.kill()
