"""The keys panel (`f1`, or `?` outside a text field): the keys of the screen it is opened on.

Beside the screen, not over it (the screen keeps its keys: Esc or Ctrl-C still cancel a run
while it is open): each key of the screen and of the app with what it does — those the footer
has no room for too (e.g. Ctrl-C, `f5` reload) — and none of the focused widget's scrolling and
editing keys (Textual's own help panel lists those first, and the screen's below them). It
follows the screen's bindings as they change (a run's `esc` is "Cancel run", then "Back").
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

#: Textual's own keys on every screen, not qtui's to explain: moving the focus, copying selected
#: text, the command palette (qtui shows none)
TEXTUAL_ACTIONS = frozenset(("app.focus_next", "app.focus_previous", "screen.copy_text", "command_palette", "app.command_palette"))


def screen_keys(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key as shown, what it does) for the screen's and the app's active keys with a
    description, each action once, keys of the same action joined ("esc, ^c")."""
    app = screen.app
    by_action: dict[tuple[int, str], tuple[list[str], str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if active.node is not screen and active.node is not app:
            continue  # the focused widget's own (scrolling, editing)
        if binding.system or not binding.description or binding.action in TEXTUAL_ACTIONS:
            continue
        shown = app.get_key_display(binding) if binding.key == key else key
        keys, _ = by_action.setdefault((id(active.node), binding.action), ([], binding.description))
        if shown not in keys:
            keys.append(shown)
    return [(", ".join(keys), description) for keys, description in by_action.values()]


class KeysPanel(Static):
    """The keys of the screen it is mounted on (QtuiApp.action_keys mounts and removes it)."""

    DEFAULT_CSS = """
    KeysPanel {
        split: right;
        width: 32;
        height: 100%;
        border-left: vkey $foreground 30%;
        padding: 0 1;
        &:ansi { border-left: vkey ansi_black; }
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self._show())
        self._show()

    def _show(self) -> None:
        table = Table(box=None, show_header=False, padding=(0, 1, 0, 0), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(ratio=1)
        for key, description in screen_keys(self.screen):
            table.add_row(key, description)
        heading = Text("Keys on this screen", style="bold")
        footnote = Text("f1 or ? closes this", style="dim")
        from rich.console import Group

        self.update(Group(heading, Text(""), table, Text(""), footnote))
