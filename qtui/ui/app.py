"""The qtui terminal app: the setup screen first, run and results screens on top of it.

`QtuiApp(profile, results_dir, ansi)` is both what `qtui` runs and the tests' factory
(`async with QtuiApp(...).run_test(size=(80, 24)) as pilot`). Quitting while a benchmark runs
cancels it through the runner's stop event and waits for the worker before exiting, so the
result is saved as `cancelled` and LoadGen is never left behind; the terminal then says so, with
the saved file (`exit_messages`). `f1` (or `?` outside a text field) shows the keys of the screen
it is pressed on. `run()` ends the process with a non-zero status when the app stopped on an
unhandled exception (Textual has printed it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding

from qtui.core.paths import results_dir
from qtui.core.profile import RunProfile


def over_ssh() -> bool:
    """True when the UI is drawn over SSH: nothing animates, repaint is kept minimal."""
    return bool(os.environ.get("SSH_CONNECTION"))


def project_profile_dirs() -> list[Path]:
    """Folders with ready-made profiles (shipped with the package, a checkout's `profiles/`,
    `./profiles`), each once: `qtui.core.profile_store` decides, as it does for the CLI."""
    from qtui.core.profile_store import profile_dirs

    return [folder for folder, origin in profile_dirs() if origin != "saved"]


class QtuiApp(App[None]):
    """Choose a run, watch it live, compare the results."""

    CSS_PATH = "qtui.tcss"
    TITLE = "qtui"
    SUB_TITLE = "quantization on this machine, measured with MLPerf LoadGen"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
        Binding("f1", "keys", "Keys", id="keys"),
        Binding("question_mark", "keys", "Keys", show=False, id="keys.question"),
    ]

    def __init__(
        self,
        profile: RunProfile | None = None,
        results_dir: str | None = None,
        ansi: bool = False,
        fleet_source: Callable[[str, Any], tuple[list[list[str]], list[str]]] | None = None,
    ) -> None:
        super().__init__(ansi_color=ansi)
        self.initial_profile = profile
        #: where the fleet view (ctrl+f) gets `fleet status` from: given by the CLI, which may
        #: import qtui.fleet (the UI never does); None: the view says how to get it
        self.fleet_source = fleet_source
        self.results_override = results_dir
        self.ansi = ansi
        self.ssh = over_ssh()
        if ansi:
            self.theme = "ansi-dark"
        if self.ssh:
            self.animation_level = "none"
        #: what the terminal shows once the app has gone (a run cancelled by quitting)
        self.exit_messages: list[str] = []

    @property
    def results_root(self) -> Path:
        """Where results are saved and read (created if missing)."""
        return results_dir(self.results_override)

    @property
    def user_profiles_dir(self) -> Path:
        """Where the setup screen saves profiles."""
        from qtui.core.profile_store import saved_dir

        return saved_dir()

    def profile_dirs(self) -> list[Path]:
        return [*project_profile_dirs(), self.user_profiles_dir]

    def run(self, *args: Any, **kwargs: Any) -> None:
        """Textual's `App.run`; raises SystemExit(return code) when the app crashed, so a crashed
        UI never exits 0 (Textual itself only records the code in `return_code`)."""
        super().run(*args, **kwargs)
        if self.return_code:
            raise SystemExit(self.return_code)

    def on_mount(self) -> None:
        from qtui.ui.screens.setup import SetupScreen

        self.push_screen(SetupScreen(self.initial_profile))

    def action_keys(self) -> None:
        """Show (or hide again) the keys of the current screen, beside it."""
        from qtui.ui.widgets.keys import KeysPanel

        if self.screen.query(KeysPanel):
            self.screen.query(KeysPanel).remove()
        else:
            self.screen.mount(KeysPanel())

    async def action_quit(self) -> None:
        """Quit; a running benchmark is cancelled first and its worker waited for, and the
        terminal says that its result was saved as cancelled, and where."""
        from qtui.ui.screens.run import RunScreen

        running = [s for s in self.screen_stack if isinstance(s, RunScreen) and s.running]
        for screen in running:
            self.notify("Cancelling the run before quitting…", timeout=5)
            await screen.cancel_and_wait()
            self.exit_messages.append(screen.quit_message())
        if self.exit_messages:
            from rich.text import Text

            self.exit(message=Text("\n".join(self.exit_messages)))
        else:
            self.exit()
