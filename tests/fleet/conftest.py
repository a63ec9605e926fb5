"""Devices for the fleet tests: one sshd per "device" on 127.0.0.1 (Debian's openssh-server, run
as the current user with its own config, a temporary host key and user key, a free port each),
started once per session, and an Ansible inventory naming them.

Host keys are checked as Ansible does by default: the inventory points ssh at a known_hosts file
written here with each device's host key. The devices run this checkout's qtui
(`qtui_command`), each with its own `qtui_home` in the session's temporary folder.

Without sshd or Ansible the tests skip, except under CI (QTUI_CI_FLEET=1, set by .ci/run),
where that is a failure.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.path.exists(p)), None)
SFTP = next((p for p in ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server") if os.path.exists(p)), None)
REPO = Path(__file__).resolve().parents[2]
#: The device's qtui: this checkout, with the test's Python.
QTUI_COMMAND = f"env PYTHONPATH={REPO} {sys.executable} -m qtui"


def gated_command(gate: Path, command: str = QTUI_COMMAND) -> str:
    """A `qtui_command` whose `qtui study` waits while `gate` exists (so that it surely runs
    meanwhile); its other commands (`fleet needs`, `bundle import`, `--version`) go at once."""
    return f"sh -c 'for a; do case $a in study) while [ -e {gate} ]; do sleep 0.2; done;; esac; done; exec \"$@\"' gate {command}"


def _missing() -> str | None:
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "no sshd/ssh (Debian: apt-get install openssh-server)"
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        return "no ansible-runner (pip install 'qtui[fleet]')"
    return None


def require_fleet() -> None:
    """Skip (fail under QTUI_CI_FLEET=1) when the machine cannot run the fleet tests."""
    reason = _missing()
    if reason:
        if os.environ.get("QTUI_CI_FLEET") == "1":
            pytest.fail(f"QTUI_CI_FLEET=1 but {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Device:
    """One sshd standing for one device."""

    name: str
    port: int
    config: Path
    home: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(self.config)], stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert self.proc.poll() is None, f"sshd for {self.name} exited {self.proc.returncode}"
            time.sleep(0.05)
        raise AssertionError(f"sshd for {self.name} did not listen on port {self.port}")

    def stop(self) -> None:
        """The device drops off: its sshd and every connection it carries end (the listener and
        its descendants: one sshd per connection and what runs in it); what runs detached on
        the device (Ansible's async task, reparented away from sshd) goes on."""
        if self.proc is not None and self.proc.poll() is None:
            import psutil

            children = psutil.Process(self.proc.pid).children(recursive=True)
            self.proc.kill()
            for child in children:
                with contextlib.suppress(psutil.Error):
                    child.kill()
            self.proc.wait()
        self.proc = None


@dataclass
class Fleet:
    root: Path
    devices: list[Device] = field(default_factory=list)
    key: Path = Path()
    known_hosts: Path = Path()

    def inventory(self, path: Path, extra_hosts: str = "", command: dict[str, str] | None = None) -> Path:
        """An INI inventory: group `pis` with every device (host vars: port, qtui_home and
        qtui_command, `command` overriding it per device), plus `extra_hosts` lines."""
        lines = ["[pis]"]
        for d in self.devices:
            cmd = (command or {}).get(d.name, QTUI_COMMAND)
            lines.append(f'{d.name} ansible_port={d.port} qtui_home={d.home} qtui_command="{cmd}"')
        lines.append(extra_hosts)
        lines += [
            "[all:vars]",
            "ansible_host=127.0.0.1",
            f"ansible_user={getpass.getuser()}",
            f"ansible_ssh_private_key_file={self.key}",
            f"ansible_ssh_common_args=-o UserKnownHostsFile={self.known_hosts} -o IdentitiesOnly=yes",
            f"ansible_python_interpreter={sys.executable}",
            f"ansible_remote_tmp={self.root}/remote-tmp",
            f"ansible_async_dir={self.root}/async",
        ]
        path.write_text("\n".join(lines) + "\n")
        return path


@pytest.fixture(scope="session")
def fleet_devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Three sshd "devices" (pi-a, pi-b, pi-c) for the session, stopped at its end."""
    require_fleet()
    root = tmp_path_factory.mktemp("fleet")
    keys = root / "keys"
    keys.mkdir(mode=0o700)
    for name in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    (keys / "authorized_keys").write_text((keys / "user.pub").read_text())
    (keys / "authorized_keys").chmod(0o600)
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation folder, when root
    host_key = " ".join((keys / "host.pub").read_text().split()[:2])
    fleet = Fleet(root=root, key=keys / "user", known_hosts=keys / "known_hosts")
    known = []
    for name in ("pi-a", "pi-b", "pi-c"):
        port = _free_port()
        config = root / f"sshd-{name}.conf"
        config.write_text("\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {keys / 'host'}",
            f"PidFile {root / f'sshd-{name}.pid'}", f"AuthorizedKeysFile {keys / 'authorized_keys'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", "PermitRootLogin prohibit-password", "LogLevel ERROR",
            f"Subsystem sftp {SFTP}" if SFTP else "",
        ]) + "\n")
        fleet.devices.append(Device(name, port, config, root / "homes" / name))
        known.append(f"[127.0.0.1]:{port} {host_key}")
    fleet.known_hosts.write_text("\n".join(known) + "\n")
    for d in fleet.devices:
        d.start()
    yield fleet
    for d in fleet.devices:
        d.stop()
