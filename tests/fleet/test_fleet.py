"""`qtui fleet` against sshd "devices" on 127.0.0.1 with the real Ansible engine: check (two
devices, one unreachable, one whose host key does not match) and the inventories it refuses."""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qtui import __version__
from qtui.cli import main
from tests.fleet.conftest import Fleet, _free_port

pytestmark = pytest.mark.timeout(600)


def qtui(*args: str) -> Result:
    """`qtui ARGS` in this process, at 80 columns."""
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "80"}, catch_exceptions=False)


def rows(output: str) -> dict[str, list[str]]:
    """The table's rows by their first cell (the device)."""
    out = {}
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0].startswith("pi-") and not cells[0].endswith(":"):
            out.setdefault(cells[0], cells[1:])
    return out


def test_check_names_each_device_and_why_one_is_unreachable(fleet_devices: Fleet, tmp_path: Path) -> None:
    bad_known = tmp_path / "known_hosts"
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    a, b = fleet_devices.devices[:2]
    # another name for the same sshd (its own ssh connection), whose known key is not the one it shows
    bad_known.write_text(f"[localhost]:{a.port} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    inv = fleet_devices.inventory(tmp_path / "inv.ini", extra_hosts="\n".join([
        f"pi-gone ansible_port={_free_port()}",
        f"pi-impostor ansible_host=localhost ansible_port={a.port} ansible_ssh_common_args='-o UserKnownHostsFile={bad_known} -o IdentitiesOnly=yes'",
    ]))
    for d in (a, b):
        shutil.rmtree(d.home, ignore_errors=True)
    r = qtui("fleet", "check", "-i", str(inv), "--limit", "pi-a:pi-b:pi-gone:pi-impostor")
    assert r.exit_code == 1, r.output  # a device could not be reached
    table = rows(r.output)
    assert set(table) == {"pi-a", "pi-b", "pi-gone", "pi-impostor"}, r.output
    for d in (a, b):
        # the device's qtui (its qtui_command: qtui is not on the device's PATH) answered ...
        assert table[d.name][0] == __version__ and table[d.name][-1].isdigit(), r.output
        # ... and its disk is measured where its qtui_home says
        assert d.home.is_dir()
    assert r.output.count(f"{platform.machine()}/64") == 2, r.output
    assert table["pi-gone"][:2] == ["–", "unreachable"] and table["pi-impostor"][:2] == ["–", "unreachable"]
    assert "pi-gone: unreachable: " in r.output and "Connection refused" in r.output
    # the host key is checked (Ansible's default, which ansible-runner would turn off): a key
    # that does not match the known one is refused
    assert "pi-impostor: unreachable: Host key verification failed." in r.output, r.output
    # doctor's grid, from the device: what `qtui doctor --json` says can run there
    from qtui.core.catalog import matrix

    runnable = [c for c in matrix(None) if c.available]
    assert table["pi-a"][-1] == str(len(runnable)), r.output
    grid = {line.split()[0]: line.split()[1:] for line in r.output.split("can run here")[1].splitlines()[1:] if line.split()}
    frameworks = list(dict.fromkeys(c.framework for c in matrix(None)))
    assert grid["device"] == frameworks
    short = {"fp32": "32", "fp16": "16", "int8_dynamic": "8d", "int8_static": "8s"}
    expected = " ".join(" ".join(short[c.precision] for c in runnable if c.framework == fw) or "–" for fw in frameworks)
    assert " ".join(grid["pi-a"]) == " ".join(grid["pi-b"]) == expected
    tables = [line for line in r.output.splitlines() if not line.split(" ", 1)[0].endswith(":")]  # all but the notes
    assert max(len(line) for line in tables) <= 80  # the tables fit 80 columns


def test_check_refuses_an_inventory_it_cannot_use(fleet_devices: Fleet, tmp_path: Path) -> None:
    """Bad input exits 2 with one line naming the inventory and Ansible's complaint."""
    r = qtui("fleet", "check", "-i", str(tmp_path / "nope.ini"))
    assert r.exit_code == 2 and "nope.ini: no such inventory file" in r.output
    bad = tmp_path / "bad.ini"
    bad.write_text("[pis\npi-x = = [\n")
    r = qtui("fleet", "check", "-i", str(bad))
    assert r.exit_code == 2 and "bad.ini: Ansible could not run:" in r.output and "Unable to parse" in r.output, r.output
    inv = fleet_devices.inventory(tmp_path / "inv.ini")
    r = qtui("fleet", "check", "-i", str(inv), "--limit", "pi5")
    assert r.exit_code == 2 and "Could not match supplied host pattern, ignoring: pi5" in r.output, r.output
