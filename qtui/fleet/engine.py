"""Run one of qtui's playbooks over the user's inventory with ansible-runner, and collect what
each host's tasks returned (by task name) and why a host was unreachable or failed.

Everything Ansible writes on this machine (runner artifacts, its local temp, ssh's control
sockets) stays under qtui's cache folder (`fleet/`); nothing is written to ~/.ansible.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from qtui.core.paths import cache_dir

#: The longest folder for ssh's control sockets: a unix socket's path is at most 107 bytes, and
#: ssh adds a hash and a temporary suffix (~30 characters) to Ansible's folder.
_SOCKET_DIR_MAX = 70


class FleetError(Exception):
    """Bad input for a fleet command (an inventory that does not parse, a missing file): the
    CLI exits 2 with this message."""


class FleetCancelled(Exception):
    """The run was told to stop (its cancel event set): Ansible's processes were ended, and
    there is no result."""


#: How often (seconds) a run that can be cancelled looks at its cancel event (ansible-runner's
#: wait for output between two looks; 5 s by default).
CANCEL_POLL_S = 0.1
#: The environment variable that marks every process of one run (its value: the run's folder
#: name), so that a cancelled run ends all of them and nothing else.
RUN_MARK = "QTUI_FLEET_RUN"


def _end_run(mark: str) -> None:
    """End every process of the run marked `mark` (this process's descendants that carry the
    mark): ansible-playbook, its workers and what they started. ansible-runner's own cancel
    kills ansible-playbook's process group only, but ansible-core's workers each start their
    own session (setsid), so they and a hung module would go on."""
    import psutil

    procs = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.environ().get(RUN_MARK) == mark:
                procs.append(proc)
        except psutil.Error:
            continue  # ended meanwhile, or not ours to read
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    # ansible-runner reaps ansible-playbook (this process's child) itself; the others are waited
    # for by polling only
    direct = {p.pid for p in psutil.Process().children()}
    psutil.wait_procs([p for p in procs if p.pid not in direct], timeout=5)


@dataclass
class HostOutcome:
    """What one host did in a playbook: each named task's result, and the first reason it
    stopped (`unreachable` / `failed`) as Ansible put it."""

    name: str
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreachable: str | None = None
    failed: str | None = None


def playbook_path(name: str) -> Path:
    """The shipped playbook `name` (package data in qtui/fleet/playbooks)."""
    return Path(str(resources.files("qtui.fleet") / "playbooks" / name))


def _reason(res: dict[str, Any]) -> str:
    """Ansible's reason for a failure or an unreachable host, on one line: ssh's last line (its
    verdict, after any banner) when it said several."""
    msg = res.get("msg") or res.get("stderr") or res.get("module_stderr") or ""
    if msg == "non-zero return code" and res.get("stderr"):  # a command's own words say more
        msg = res["stderr"]
    if not msg and res.get("rc") is not None:
        msg = f"exit {res['rc']}"
    lines = [line.strip() for line in str(msg).splitlines() if line.strip()]
    if not lines:
        return "no reason given"
    text = lines[0] if len(lines) == 1 else f"{lines[0].split(':', 1)[0]}: {lines[-1]}"
    return text.removeprefix("Task failed: ")


def run_playbook(
    name: str,
    inventory: str,
    limit: str | None = None,
    extravars: dict[str, Any] | None = None,
    forks: int = 10,
    cancel: threading.Event | None = None,
) -> dict[str, HostOutcome]:
    """Run the shipped playbook `name` on `inventory` (a path: INI or YAML, as for
    ansible-playbook -i), limited to `limit` (a host or group pattern). Returns every host the
    playbook touched. Raises FleetError when Ansible could not even start the play (an
    inventory that does not parse, a limit that matches no host).

    With `cancel` (a thread that must be able to give up, the TUI's fleet view), setting it
    stops the run within about CANCEL_POLL_S: ansible-runner's cancel callback, which kills
    ansible-playbook's process group (its workers and the ssh sessions they opened); then
    FleetCancelled is raised. Without it ansible-runner keeps its own Ctrl+C handling (main
    thread only)."""
    import ansible_runner  # the fleet extra; imported only here

    inv = Path(inventory)
    if not inv.exists():
        raise FleetError(f"-i {inventory}: no such inventory file")
    work = cache_dir() / "fleet"
    work.mkdir(parents=True, exist_ok=True)
    # ansible-runner's own folder for this run (two fleet commands at once each get theirs)
    private = Path(tempfile.mkdtemp(prefix="runner-", dir=work))
    bindir = os.path.dirname(sys.executable)
    envvars = {
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        # Ansible checks host keys by default, but ansible-runner turns that off unless told:
        # a device whose key is unknown or changed is unreachable, never trusted silently.
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp"),
        "ANSIBLE_HOME": str(work / "home"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        # modules through the open ssh session's stdin, not copied first: fewer round trips per
        # task (Ansible still copies the asynchronous study task, which cannot be piped)
        "ANSIBLE_PIPELINING": "True",
        # an inventory Ansible cannot parse is an error, not a warning and an empty fleet
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        RUN_MARK: private.name,
    }
    if len(str(work / "cp")) > _SOCKET_DIR_MAX:
        # ssh's control sockets would not fit a unix socket's path: one connection per task
        envvars["ANSIBLE_SSH_ARGS"] = "-C -o ControlMaster=no"
    outcomes: dict[str, HostOutcome] = {}

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data") or {}
        host = data.get("host")
        kind = event.get("event", "")
        if not host or not kind.startswith("runner_on_"):
            return True
        out = outcomes.setdefault(host, HostOutcome(host))
        res = data.get("res") or {}
        task = data.get("task") or ""
        if kind == "runner_on_unreachable" and out.unreachable is None:
            out.unreachable = _reason(res)
        elif kind == "runner_on_failed" and not data.get("ignore_errors") and out.failed is None:
            out.failed = f"{task}: {_reason(res)}"
        if kind in ("runner_on_ok", "runner_on_failed", "runner_on_skipped"):
            out.results[task] = res
        return True

    cmdline = f"--forks {int(forks)}"
    stoppable: dict[str, Any] = {}
    if cancel is not None:
        if cancel.is_set():
            raise FleetCancelled()
        ended: list[bool] = []

        def cancelled() -> bool:
            if cancel.is_set() and not ended:
                _end_run(private.name)
                ended.append(True)
            return bool(ended)

        stoppable = {"cancel_callback": cancelled, "settings": {"pexpect_timeout": CANCEL_POLL_S}}
    try:
        r = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(playbook_path(name)),
            inventory=str(inv.resolve()),
            limit=limit,
            extravars=extravars or {},
            envvars=envvars,
            cmdline=cmdline,
            quiet=True,
            event_handler=on_event,
            **stoppable,
        )
        stdout = r.stdout.read() if r.stdout else ""
    finally:
        shutil.rmtree(private, ignore_errors=True)
    if cancel is not None and (r.canceled or cancel.is_set()):
        raise FleetCancelled()
    if not outcomes and r.rc != 0:
        lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "ERROR" in ln or "WARNING" in ln] or lines[-3:]
        raise FleetError(f"-i {inventory}: Ansible could not run: " + " ".join(errors)[:500])
    return outcomes
