"""The fleet view (`qtui fleet view`): per device, the same status as `qtui fleet status` —
running (step done/total, time left), finished, failed, interrupted, unreachable — refreshed
every `interval` seconds by a worker thread, so the screen never waits for the devices.

The UI never imports qtui.fleet (Ansible): the status comes from `source(inventory, cancel)`,
which `qtui fleet view` gives (`qtui.fleet.cli.status_source`) and the tests stub. It returns the
table's rows (device, study, step, left, doing) and the notes under it; an exception it raises is
shown on the status line (the last rows stay). `cancel` is the worker's cancelled event: closing
the view or quitting (`q`) cancels the worker, and the source stops its Ansible run then
(ansible-runner's cancel callback), so quitting never waits for the devices and leaves no
Ansible process behind. The inventory is `-i`, else the one used last
(kept in the config folder, `fleet-inventory`), else asked for in a dialog (`i` changes it).
Every cell and note is device text: it reaches the screen through `for_terminal`, as `Text`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from qtui.core.sinks import for_terminal
from qtui.ui.widgets.footer import KeysFooter

#: (rows, notes) of `fleet status` for an inventory path; the event, once set, stops the asking
StatusSource = Callable[[str, threading.Event], tuple[list[list[str]], list[str]]]
COLUMNS = ("device", "study", "step", "left", "doing")
#: Seconds between two refreshes (each one asks every device over ssh).
INTERVAL = 30.0
#: The file in the config folder that keeps the inventory used last.
INVENTORY_FILE = "fleet-inventory"


def remembered_inventory() -> str | None:
    """The inventory the fleet view used last, if it is still a file."""
    from qtui.core.paths import config_dir

    try:
        text = (config_dir() / INVENTORY_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text and Path(text).is_file() else None


def remember_inventory(path: str) -> None:
    from qtui.core.paths import config_dir

    try:
        (config_dir() / INVENTORY_FILE).write_text(str(Path(path).resolve()) + "\n", encoding="utf-8")
    except OSError:
        pass  # only a convenience: the view works without it


class InventoryScreen(ModalScreen[str | None]):
    """Ask for the Ansible inventory (a path) the fleet view follows."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="fleet.inventory.cancel")]

    def __init__(self, initial: str = "") -> None:
        super().__init__()
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="inventory-dialog"):
            yield Label("Ansible inventory of the fleet (INI or YAML)", classes="dialog-title")
            yield Input(self.initial, id="inventory-path", placeholder="path, e.g. ~/pis.ini")
            yield Static(id="inventory-error", classes="error")
        yield KeysFooter(show_command_palette=False)

    @on(Input.Submitted, "#inventory-path")
    def _submit(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip() or not path.is_file():
            self.query_one("#inventory-error", Static).update(Text(for_terminal(f"{event.value.strip() or '(empty)'}: no such file")))
            return
        self.dismiss(str(path))


class FleetScreen(Screen[None]):
    """Every device's fleet study, refreshed in the background."""

    DEFAULT_CSS = """
    FleetScreen #fleet-status { height: 1; }
    FleetScreen #fleet-table { height: 1fr; }
    FleetScreen #fleet-notes { height: auto; max-height: 8; }
    """
    BINDINGS = [
        Binding("r", "refresh_now", "Refresh", id="fleet.refresh"),
        Binding("i", "inventory", "Inventory", id="fleet.inventory"),
        Binding("escape,q", "close", "Close", id="fleet.close"),
    ]
    AUTO_FOCUS = "#fleet-table"

    def __init__(self, source: StatusSource, inventory: str | None = None, interval: float = INTERVAL) -> None:
        super().__init__()
        self.source = source
        self.inventory = inventory
        self.interval = interval
        self.worker: Worker[Any] | None = None
        self.refreshed: str = ""
        self.error: str = ""

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-status")
        table: DataTable[Text] = DataTable(id="fleet-table", cursor_type="row", zebra_stripes=False)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="fleet-notes")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.set_interval(self.interval, self.action_refresh_now)
        if self.inventory is None:
            self.inventory = remembered_inventory()
        if self.inventory is None:
            self._status()
            self.action_inventory()
        else:
            self.action_refresh_now()

    # -- refreshing -----------------------------------------------------------------------------
    @property
    def refreshing(self) -> bool:
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def action_refresh_now(self) -> None:
        if self.inventory is None or self.refreshing:
            return
        self.worker = self._fetch(self.inventory)
        self._status()

    @work(thread=True, exclusive=True, exit_on_error=False, group="fleet")
    def _fetch(self, inventory: str) -> tuple[str, list[list[str]], list[str]]:
        rows, notes = self.source(inventory, get_current_worker().cancelled_event)
        return inventory, rows, notes

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.worker or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        if event.state == WorkerState.SUCCESS:
            result: tuple[str, list[list[str]], list[str]] = event.worker.result  # type: ignore[assignment]
            inventory, rows, notes = result
            if inventory == self.inventory:  # not the answer for an inventory given up since
                self._show(rows, notes)
                self.refreshed = time.strftime("%H:%M:%S")
                self.error = ""
        else:
            self.error = str(event.worker.error) or type(event.worker.error).__name__
        self._status()

    def _show(self, rows: list[list[str]], notes: list[str]) -> None:
        table = self.query_one("#fleet-table", DataTable)
        table.clear()
        for row in rows:
            cells = [*row, *([""] * (len(COLUMNS) - len(row)))][: len(COLUMNS)]
            table.add_row(*(Text(for_terminal(c), no_wrap=True, overflow="ellipsis") for c in cells))
        self.query_one("#fleet-notes", Static).update(Text("\n".join(for_terminal(n) for n in notes)))

    def _status(self) -> None:
        if self.inventory is None:
            text = "no inventory: i chooses one"
        else:
            parts = [f"{Path(self.inventory).name}"]
            if self.refreshing:
                parts.append("asking the devices…")
            elif self.error:
                parts.append(f"refresh failed: {self.error}")
            if self.refreshed:
                parts.append(f"as of {self.refreshed}")
            parts.append(f"every {self.interval:g} s")
            text = " · ".join(parts)
        self.query_one("#fleet-status", Static).update(Text(for_terminal(text), no_wrap=True, overflow="ellipsis"))

    # -- the inventory --------------------------------------------------------------------------
    def action_inventory(self) -> None:
        def chosen(path: str | None) -> None:
            if path is None:
                return
            self.inventory = path
            remember_inventory(path)
            self.refreshed, self.error = "", ""
            self.query_one("#fleet-table", DataTable).clear()
            self.query_one("#fleet-notes", Static).update("")
            if self.refreshing and self.worker is not None:
                self.worker.cancel()
            self.worker = None
            self.action_refresh_now()

        self.app.push_screen(InventoryScreen(self.inventory or ""), chosen)

    def action_close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()  # a refresh under way stops its Ansible run now
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit()


class FleetApp(App[None]):
    """`qtui fleet view`: the fleet screen alone."""

    CSS_PATH = "../qtui.tcss"
    TITLE = "qtui fleet"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True, id="quit")]

    def __init__(self, source: StatusSource, inventory: str | None = None, interval: float = INTERVAL, ansi: bool = False) -> None:
        super().__init__(ansi_color=ansi)
        self.source = source
        self.inventory = inventory
        self.interval = interval
        if ansi:
            self.theme = "ansi-dark"

    def on_mount(self) -> None:
        self.push_screen(FleetScreen(self.source, self.inventory, self.interval))
