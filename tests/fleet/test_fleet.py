"""`qtui fleet` against three sshd "devices" on 127.0.0.1 with the real Ansible engine: check
(with an unreachable device and one whose host key does not match), then one study on the three
devices followed to the end through a dropped connection and a reboot, continued, pulled and
merged."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qtui import __version__
from qtui.cli import main
from qtui.core.profile import StudySpec, dumps
from tests.conftest import small_profile
from tests.fleet.conftest import Fleet, _free_port, gated_command

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


def wait_for(path: Path, seconds: float = 400) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.5)
    time.sleep(0.2)
    return path.read_text().strip()


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


@pytest.fixture()
def seeded_homes(fleet_devices: Fleet, session_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The tiny profile, prepared here in the session's cache (shared with other tests); each
    device's cache starts as a hard-linked copy of it (the test is about the fleet, not about
    preparing three times). The controller's own cache: a short path, so that ssh's control
    sockets fit (a long one works too, one connection per task: slower)."""
    profile = tmp_path / "tiny.toml"
    # speed only (no accuracy pass): one run per device
    profile.write_text(dumps(small_profile(name="fleet-tiny", study=StudySpec(quality=False))))
    seed = session_cache
    r = qtui("prepare", str(profile))
    assert r.exit_code == 0, r.output
    for d in fleet_devices.devices:
        shutil.rmtree(d.home, ignore_errors=True)
        d.home.mkdir(parents=True)
        shutil.copytree(seed, d.home / "cache", copy_function=os.link)
    controller = Path(tempfile.mkdtemp(prefix="qtui-fleet-"))
    monkeypatch.setenv("QTUI_CACHE_DIR", str(controller))
    yield profile
    shutil.rmtree(controller, ignore_errors=True)


def test_study_on_three_devices_survives_a_dropped_device_and_merges(fleet_devices: Fleet, seeded_homes: Path, tmp_path: Path) -> None:
    import psutil

    a, b, c = fleet_devices.devices
    # pi-a's and pi-c's studies wait for their gate to go: they are surely running meanwhile
    gates = {d.name: tmp_path / f"gate-{d.name}" for d in (a, c)}
    for gate in gates.values():
        gate.write_text("")
    gated = {name: gated_command(gate) for name, gate in gates.items()}
    inv = fleet_devices.inventory(tmp_path / "inv.ini", command=gated)
    r = qtui("fleet", "study", str(seeded_homes), "-i", str(inv))
    assert r.exit_code == 0, r.output
    assert {k: v[0] for k, v in rows(r.output).items()} == {"pi-a": "started", "pi-b": "started", "pi-c": "started"}
    # each device said it has the study's artifact (by its spec's hash): nothing is pushed
    assert all(f"{d.name}: nothing pushed, has 1\n" in r.output for d in (a, b, c)), r.output
    state = [next((d.home / "fleet").glob("*/profile.toml")).parent for d in (a, b, c)]
    assert wait_for(state[1] / "rc") == "0"
    r = qtui("fleet", "status", "-i", str(inv))
    assert {k: v[:2] for k, v in rows(r.output).items()} == {"pi-a": ["running", "–"], "pi-b": ["finished", "1/1"], "pi-c": ["running", "–"]}, r.output

    # pi-a drops off the network mid-study, pi-c reboots (its study is killed): named
    # unreachable and interrupted, pi-b unaffected
    a.stop()
    study_c = psutil.Process(int(wait_for(state[2] / "pid")))
    for proc in [study_c, *study_c.children(recursive=True)]:  # the shell first: it writes no rc
        proc.kill()
    r = qtui("fleet", "status", "-i", str(inv))
    assert r.exit_code == 1 and {k: v[0] for k, v in rows(r.output).items()} == {"pi-a": "unreachable", "pi-b": "finished", "pi-c": "interrupted"}, r.output
    # ssh's own reason, or Ansible's when its write of the (pipelined) module to ssh lost the
    # race against ssh exiting (ansible's ssh plugin waits 1 ms for ssh's exit status)
    reason = next(line for line in r.output.splitlines() if line.startswith("pi-a: "))
    assert "Connection refused" in reason or "Data could not be sent to remote host" in reason, r.output
    # pi-a comes back: its study went on without a connection and finishes
    a.start()
    for gate in gates.values():
        gate.unlink()
    assert wait_for(state[0] / "rc") == "0", (state[0] / "log").read_text()

    # the same command again continues: pi-c's study starts again, the finished ones are left alone
    runs = [sorted((d.home / "results").glob("*/result.json")) for d in (a, b)]
    assert [len(x) for x in runs] == [1, 1]
    started = [((s / "pid").read_text(), (s / "rc").stat().st_mtime_ns) for s in state[:2]]
    r = qtui("fleet", "study", str(seeded_homes), "-i", str(inv))
    assert r.exit_code == 0 and {k: v[0] for k, v in rows(r.output).items()} == {"pi-a": "finished", "pi-b": "finished", "pi-c": "started"}, r.output
    assert wait_for(state[2] / "rc") == "0", (state[2] / "log").read_text()
    # pi-c's study ran another qtui (its own record of the version it started): flagged
    assert (state[2] / "version").read_text().split()[-1] == __version__
    (state[2] / "version").write_text("qtui, version 0.0.9\n")
    r = qtui("fleet", "status", "-i", str(inv))
    assert r.exit_code == 0 and {k: v[:2] for k, v in rows(r.output).items()} == {"pi-a": ["finished", "1/1"], "pi-b": ["finished", "1/1"], "pi-c": ["⚑", "finished"]}, r.output
    assert f"⚑ pi-c: qtui 0.0.9 (the others: {__version__})" in r.output
    assert [sorted((d.home / "results").glob("*/result.json")) for d in (a, b)] == runs

    # pull: one folder per device, and the report puts the three side by side by their names;
    # pi-b's run records other weights than the others': flagged
    record = next((b.home / "results").glob("*/result.json"))
    data = json.loads(record.read_text())
    data["provenance"]["weights_digest"] = "f" * 64
    record.write_text(json.dumps(data))
    dest = tmp_path / "pulled"
    r = qtui("fleet", "pull", "-i", str(inv), "--dest", str(dest))
    assert r.exit_code == 0, r.output
    assert {k: v[:4] for k, v in rows(r.output).items()} == {"pi-a": ["pulled", "1", "new", "1"], "pi-b": ["⚑", "pulled", "1", "new"], "pi-c": ["pulled", "1", "new", "1"]}, r.output
    assert "⚑ pi-b: mobilenet_v2 weights ffffffffffff (the others: " in r.output
    for d in (a, b, c):
        pulled = sorted(p.relative_to(dest / d.name) for p in (dest / d.name).rglob("*") if p.is_file())
        there = sorted(p.relative_to(d.home / "results") for p in (d.home / "results").rglob("*") if p.is_file() and p.parent != d.home / "results")
        assert pulled == there
    # each device packed its runs into one archive, fetched and removed there
    assert not list(dest.glob(".*")) and not list(a.home.glob("fleet/*.tar.gz"))
    # pulled again: nothing new is sent
    r = qtui("fleet", "pull", "-i", str(inv), "--dest", str(dest), "--limit", "pi-a")
    assert r.exit_code == 0 and rows(r.output)["pi-a"][:4] == ["pulled", "0", "new", "1"], r.output
    dirs = [a for d in (a, b, c) for a in ("--results-dir", str(dest / d.name))]
    from qtui.core.identity import device_label
    from qtui.core.results import load_results_dirs

    assert sorted(device_label(x) for x in load_results_dirs([dest / d.name for d in (a, b, c)])) == ["pi-a", "pi-b", "pi-c"]
    r = qtui("report", *dirs, "--format", "study", "--markdown")
    assert r.exit_code == 0, r.output
    # side by side: one row per device, labelled with its inventory name
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in r.output.splitlines() if line.startswith("| ")]
    column = cells[0].index("device")
    assert sorted(row[column] for row in cells[1:]) == ["pi-a", "pi-b ⚑", "pi-c"], r.output
    r = CliRunner().invoke(main, ["recommend", *dirs, "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert sorted(rec["device"] for rec in json.loads(r.stdout)) == ["pi-a", "pi-b", "pi-c"], r.output
    assert "⚑ pi-b: mobilenet_v2 weights" in r.stderr
    # long after the second `fleet study`: the finished devices' studies were not started again
    assert [((s / "pid").read_text(), (s / "rc").stat().st_mtime_ns) for s in state[:2]] == started
