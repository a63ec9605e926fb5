"""The fleet view (`qtui fleet view`) against a stubbed status source (no ssh): it asks in a
worker thread without blocking the screen, shows what `fleet status` shows, takes its inventory
from a dialog (remembered in the config folder) and cleans device text."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from qtui.fleet.cli import status_rows
from qtui.fleet.engine import HostOutcome
from qtui.ui.screens.fleet import FleetApp, InventoryScreen, remembered_inventory
from tests.ui.conftest import wait_for, wait_for_text


class Source:
    """`fleet status`'s rows for a made-up fleet, each answer held until `go` is set."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.asked: list[str] = []

    def __call__(self, inventory: str, cancel: threading.Event | None = None) -> tuple[list[list[str]], list[str]]:
        self.asked.append(inventory)
        assert self.go.wait(60)
        log = "hash 01\nversion qtui, version 0.1.0\nstate running\nstep [3/8] measuring ORT FP32 SingleStream, ~2m 5s left\n--- log\n"
        bad = "hash 01\nversion qtui, version 0.1.0\nstate rc 1\nstep [1/2] measuring x\n--- log\n\x1b]0;owned\x07qtui: error: \x1b[31mdisk full\x1b[0m\n"
        rows, notes, _ = status_rows({
            "pi-a": HostOutcome("pi-a", results={"status": {"stdout": log}}),
            "pi-b": HostOutcome("pi-b", results={"status": {"stdout": bad}}),
            "pi-c": HostOutcome("pi-c", unreachable="ssh: connect to host pi-c port 22: No route to host"),
        })
        return rows, notes


async def test_the_fleet_view_refreshes_without_blocking_and_asks_for_its_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "pis.ini"
    inventory.write_text("[pis]\npi-a\n")
    source = Source()
    app = FleetApp(source, None, interval=3600)
    async with app.run_test(size=(80, 24)) as pilot:
        # no inventory given, none remembered: a dialog asks; a path that is no file is refused
        await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen))
        await pilot.press(*"nope.ini", "enter")
        await wait_for_text(pilot, app, "nope.ini: no such file")
        app.screen.query_one("#inventory-path").value = str(inventory)  # type: ignore[attr-defined]
        await pilot.press("enter")
        # the devices are being asked (the source waits): the screen still answers keys
        await wait_for(pilot, lambda: source.asked == [str(inventory)])
        await wait_for_text(pilot, app, "pis.ini · asking the devices…")
        await pilot.press("r")  # a refresh while one runs starts no second one
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen))
        await pilot.press("escape")
        source.go.set()
        text = await wait_for_text(pilot, app, "pi-c")
        assert source.asked == [str(inventory)]
        rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split() and line.split()[0] in ("pi-a", "pi-b", "pi-c")}
        assert rows["pi-a"][:3] == ["running", "3/8", "2m"], text
        assert rows["pi-b"][:4] == ["failed", "(exit", "1)", "1/2"] and rows["pi-c"][0] == "unreachable", text
        # the notes: the failed device's log tail and the unreachable one's reason, cleaned
        assert "qtui: error: disk full" in text and "No route to host" in text
        assert "owned" not in text and "\x1b" not in text
        assert "· as of " in text
        # r asks again
        await pilot.press("r")
        await wait_for(pilot, lambda: len(source.asked) == 2)
    assert remembered_inventory() == str(inventory.resolve())


async def test_ctrl_f_opens_the_fleet_view_from_the_main_tui_and_back(tmp_path: Path, monkeypatch: Any) -> None:
    """The main TUI opens the same view (ctrl+f, listed by f1), with the status source the CLI
    gives it; esc returns to the setup screen. Without the fleet extra it says how to get it."""
    from qtui import cli
    from qtui.ui.app import QtuiApp
    from qtui.ui.screens.fleet import FleetScreen, remember_inventory
    from qtui.ui.screens.setup import SetupScreen
    from tests.conftest import small_profile
    from tests.ui.conftest import screen_text

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    inventory = tmp_path / "pis.ini"
    inventory.write_text("[pis]\npi-a\n")
    remember_inventory(str(inventory))
    source = Source()
    source.go.set()
    app = QtuiApp(profile=small_profile(), fleet_source=source)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
        await pilot.press("f1")
        await wait_for_text(pilot, app, "Fleet")
        await pilot.press("f1")
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen), timeout=60)
        text = await wait_for_text(pilot, app, "pi-c")
        assert source.asked == [str(inventory)] and "unreachable" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
    bare = QtuiApp(profile=small_profile(), fleet_source=None)
    async with bare.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(bare.screen, SetupScreen))
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(bare.screen, SetupScreen)
        assert any("pip install 'qtui[fleet]'" in str(n.message) for n in bare._notifications), screen_text(bare)
    # the CLI gives the TUI qtui.fleet's source where the fleet extra is installed
    assert callable(cli._fleet_source())
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "ansible_runner" else object())
    assert cli._fleet_source() is None


class SlowSource:
    """A refresh that lasts as long as slow devices make it (here: until it is told to stop, or
    30 s), writing down what happened in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.asking = threading.Event()

    def __call__(self, inventory: str, cancel: threading.Event | None = None) -> tuple[list[list[str]], list[str]]:
        self.events.append("asking")
        self.asking.set()
        stopped = (cancel or threading.Event()).wait(30)
        self.events.append("stopped" if stopped else "finished on its own")
        return [], []


def test_q_during_a_refresh_stops_it_and_quits_at_once(tmp_path: Path) -> None:
    """`q` while the devices are asked: the refresh is told to stop (the real source stops its
    Ansible run: tests/fleet/test_cancel.py) and the app ends as soon as it has, never waiting
    for the devices. The app runs as `qtui fleet view` runs it (App.run, whose end waits for
    its worker threads)."""
    inventory = tmp_path / "pis.ini"
    inventory.write_text("[pis]\npi-a\n")
    source = SlowSource()

    async def press_q(pilot: Any) -> None:
        await wait_for(pilot, source.asking.is_set)
        source.events.append("q")
        await pilot.press("q")

    FleetApp(source, str(inventory), interval=3600).run(headless=True, size=(80, 24), auto_pilot=press_q)
    source.events.append("exited")
    assert source.events == ["asking", "q", "stopped", "exited"]
