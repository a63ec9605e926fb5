"""The qtui terminal app: the setup screen first, run and results screens on top of it.

`QtuiApp(profile, results_dir, ansi)` is both what `qtui` runs and the tests' factory
(`async with QtuiApp(...).run_test(size=(80, 24)) as pilot`). Quitting while a benchmark runs
cancels it through the runner's stop event and waits for the worker before exiting, so the
result is saved as `cancelled` and LoadGen is never left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from qtui.core.paths import config_dir, results_dir
from qtui.core.profile import RunProfile


def over_ssh() -> bool:
    """True when the UI is drawn over SSH: nothing animates, repaint is kept minimal."""
    return bool(os.environ.get("SSH_CONNECTION"))


def project_profile_dirs() -> list[Path]:
    """Folders with ready-made profiles: the checkout's `profiles/`, the installed package's,
    and `./profiles` (each once, those that exist)."""
    import qtui

    package = Path(qtui.__file__).resolve().parent
    candidates = [package.parent / "profiles", package / "profiles", Path.cwd() / "profiles"]
    seen: list[Path] = []
    for folder in candidates:
        resolved = folder.resolve()
        if resolved.is_dir() and resolved not in seen:
            seen.append(resolved)
    return seen


class QtuiApp(App[None]):
    """Choose a run, watch it live, compare the results."""

    CSS_PATH = "qtui.tcss"
    TITLE = "qtui"
    SUB_TITLE = "quantization on this machine, measured with MLPerf LoadGen"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
    ]

    def __init__(
        self,
        profile: RunProfile | None = None,
        results_dir: str | None = None,
        ansi: bool = False,
    ) -> None:
        super().__init__(ansi_color=ansi)
        self.initial_profile = profile
        self.results_override = results_dir
        self.ansi = ansi
        self.ssh = over_ssh()
        if ansi:
            self.theme = "ansi-dark"
        if self.ssh:
            self.animation_level = "none"

    @property
    def results_root(self) -> Path:
        """Where results are saved and read (created if missing)."""
        return results_dir(self.results_override)

    @property
    def user_profiles_dir(self) -> Path:
        """Where the setup screen saves profiles."""
        return config_dir() / "profiles"

    def profile_dirs(self) -> list[Path]:
        return [*project_profile_dirs(), self.user_profiles_dir]

    def on_mount(self) -> None:
        from qtui.ui.screens.setup import SetupScreen

        self.push_screen(SetupScreen(self.initial_profile))

    async def action_quit(self) -> None:
        """Quit; a running benchmark is cancelled first and its worker waited for."""
        from qtui.ui.screens.run import RunScreen

        running = [s for s in self.screen_stack if isinstance(s, RunScreen) and s.running]
        for screen in running:
            self.notify("Cancelling the run before quitting…", timeout=5)
            await screen.cancel_and_wait()
        self.exit()
