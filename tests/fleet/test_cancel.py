"""The fleet view's refresh stopped half-way (`q` while the devices are asked): the real status
source, with the real Ansible engine, ends its Ansible run when told to — ansible-runner's cancel
callback — and leaves no process of it behind. No ssh: one "device" is this machine (Ansible's
local connection) whose Python hangs, standing for a device that answers slowly."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest


def _wait_file(path: Path, seconds: float = 300) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)
    return path.read_text().strip()


def _gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_refresh_told_to_stop_ends_its_ansible_run(tmp_path: Path) -> None:
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        if os.environ.get("QTUI_CI_FLEET") == "1":
            pytest.fail("QTUI_CI_FLEET=1 but no ansible-runner")
        pytest.skip("no ansible-runner (pip install 'qtui[fleet]')")
    import psutil

    from qtui.cli import _fleet_source
    from qtui.fleet.engine import FleetCancelled

    source = _fleet_source()  # what `qtui tui` hands its fleet view (qtui.fleet.cli.status_source)
    assert source is not None

    started = tmp_path / "pid"
    slow = tmp_path / "slow-python"
    slow.write_text(f"#!/bin/sh\necho $$ > {started}\nexec sleep 600\n")
    slow.chmod(0o755)
    inventory = tmp_path / "inv.ini"
    inventory.write_text(f"[pis]\npi-a ansible_connection=local ansible_python_interpreter={slow} qtui_home={tmp_path / 'home'}\n")
    cancel = threading.Event()
    outcome: list[object] = []

    def refresh() -> None:
        try:
            outcome.append(source(str(inventory), cancel))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=refresh)
    thread.start()
    try:
        hung = psutil.Process(int(_wait_file(started)))
        # the Ansible run's processes: the hung module and its ancestors up to this process
        mine = {c.pid for c in psutil.Process().children(recursive=True)}
        ansible = [hung, *(p for p in hung.parents() if p.pid in mine)]
        assert len(ansible) >= 2, ansible  # ansible-playbook (and its worker) run the module
        cancel.set()
    finally:
        cancel.set()
        thread.join(300)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], FleetCancelled), outcome
    assert all(_gone(p.pid) for p in ansible), [(p.pid, p.name()) for p in ansible if not _gone(p.pid)]
