"""The footer of every screen: Textual's, with the app-wide keys (`^q Quit`, `f1 Keys`) first.

Textual lists the focused widget's keys first and the app's last, so at 80 columns an open menu's
own key ("esc Dismiss menu") pushed `^q Quit` off the right edge. Here the app's keys come first
and never move; the screen's and the focused widget's follow, as many as fit.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: the app's own keys, shown first on every screen (QtuiApp.BINDINGS' ids)
APP_KEYS = ("quit", "keys")


class KeysFooter(Footer):
    """`Footer` with the app-wide keys first (no binding groups: qtui has none)."""

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        by_action: dict[str, tuple[Binding, bool, str]] = {}
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show:
                by_action.setdefault(binding.action, (binding, enabled, tooltip))
        shown = list(by_action.values())
        shown.sort(key=lambda item: item[0].id not in APP_KEYS)  # stable: otherwise Textual's order
        self.styles.grid_size_columns = len(shown)
        for binding, enabled, tooltip in shown:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
