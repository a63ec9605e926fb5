"""Small modal dialogs: pick a saved profile, name a profile to save, confirm a replacement, and
choose where to export a table. Each returns its answer through `dismiss()`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from qtui.core.profile import ProfileError, RunProfile, load
from qtui.core.profile_store import name_note
from qtui.ui.widgets.footer import KeysFooter

PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ProfileChoice:
    """A profile picked in the list; `run` when it should run at once."""

    path: Path
    profile: RunProfile
    run: bool = False


@dataclass(frozen=True)
class LoadedProfile:
    """A profile file of the list, loaded and validated: its profile, or the error that broke it."""

    path: Path
    profile: RunProfile | None
    error: str = ""


def load_profiles(folders: list[Path]) -> list[LoadedProfile]:
    """Every profile file in the folders (`profile_store.profile_files`), loaded and validated
    (a broken one keeps its error)."""
    from qtui.core.profile_store import profile_files

    entries: list[LoadedProfile] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in profile_files(folder):
            try:
                entries.append(LoadedProfile(path, load(path)))
            except ProfileError as exc:
                entries.append(LoadedProfile(path, None, str(exc)))
    return entries


def _short(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


#: A profile-list line fits this many cells (the dialog at 80 columns, with a scrollbar): the
#: name column takes what the folder words leave, longer names end in "…".
LINE_WIDTH = 64
#: Where a folder that is neither the shipped nor the saved one is shown from its end.
WHERE_WIDTH = 24


def _where(folder: Path) -> str:
    """A short word for a profile folder: "shipped", "saved", or the end of its path."""
    from qtui.core.profile_store import saved_dir, shipped_dir

    for known, word in ((shipped_dir(), "shipped"), (saved_dir(), "saved")):
        try:
            if folder.resolve() == known.resolve():
                return word
        except OSError:
            pass
    text = _short(folder)
    return text if len(text) <= WHERE_WIDTH else "…" + text[-(WHERE_WIDTH - 1):]


def _profile_label(entry: LoadedProfile, name_width: int) -> Text:
    """One line per profile (name, where it comes from): a long saved name and its folder
    wrapped onto a second line that ran under the list's scrollbar at 80×24. The full path is
    shown below the list for the highlighted profile."""
    name = entry.path.stem
    if len(name) > name_width:
        name = name[: name_width - 1] + "…"
    label = Text.assemble((f"{name:<{name_width}}  ", "bold"), (_where(entry.path.parent), "dim"))
    if entry.profile is None:
        label.append(" (invalid)", style="red")
    elif name_note(entry.path.stem):  # `quіck` (Cyrillic і) beside the shipped `quick`
        label.append(" (non-ASCII name)", style="yellow")
    return label


class ProfilesScreen(ModalScreen[ProfileChoice | None]):
    """Saved profiles (the project's and the user's): load one, or run it at once."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("enter", "choose(False)", "Load", priority=True),
        Binding("r", "choose(True)", "Load and run"),
    ]

    def __init__(self, folders: list[Path]) -> None:
        super().__init__()
        self.folders = folders
        self.entries = load_profiles(folders)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="profiles-dialog"):
            yield Label("Saved profiles", classes="dialog-title")
            where = max((len(_where(e.path.parent)) for e in self.entries), default=0)
            width = min(LINE_WIDTH - 2 - where, max((len(e.path.stem) for e in self.entries), default=0))
            options = [Option(_profile_label(entry, width), id=str(i)) for i, entry in enumerate(self.entries)]
            yield OptionList(*options, id="profile-list")
            yield Static(id="profile-info")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        if not self.entries:
            where = ", ".join(_short(f) for f in self.folders)
            self.query_one("#profile-info", Static).update(f"no profiles found in {where}")
        else:
            self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionHighlighted)
    def _describe(self, event: OptionList.OptionHighlighted) -> None:
        entry = self.entries[int(event.option.id or 0)]
        info = self.query_one("#profile-info", Static)
        if entry.profile is None:
            info.update(Text(entry.error, style="red"))
        else:
            note = name_note(entry.path.stem)
            info.update(f"{entry.profile.title}\n{entry.path}" + (f"\n{note}" if note else ""))

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_choose(False)

    def action_choose(self, run: bool) -> None:
        index = self.query_one(OptionList).highlighted
        if index is None or not self.entries:
            return
        entry = self.entries[index]
        if entry.profile is None:
            self.notify(entry.error, title="Invalid profile", severity="error", markup=False)
            return
        self.dismiss(ProfileChoice(entry.path, entry.profile, run))


class SaveProfileScreen(ModalScreen[str | None]):
    """Ask for the name of the profile to save (the file is NAME.toml in the user's folder)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, name: str, folder: Path) -> None:
        super().__init__()
        self.initial = name if PROFILE_NAME.match(name) else "my-profile"
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="save-dialog"):
            yield Label("Save the current choices as a profile", classes="dialog-title")
            yield Input(self.initial, id="profile-name", placeholder="name (letters, digits, . _ -)")
            yield Static(f"saved as {_short(self.folder)}/NAME.toml", id="save-where")
            yield Static(id="save-error", classes="error")
        yield KeysFooter(show_command_palette=False)

    @on(Input.Changed, "#profile-name")
    def _preview(self, event: Input.Changed) -> None:
        name = event.value.strip() or "NAME"
        self.query_one("#save-where", Static).update(f"saved as {_short(self.folder)}/{name}.toml")
        self.query_one("#save-error", Static).update("")

    @on(Input.Submitted, "#profile-name")
    def _submit(self, event: Input.Submitted) -> None:
        from qtui.core.profile_store import shadowing_message

        name = event.value.strip()
        if not PROFILE_NAME.match(name):
            self.query_one("#save-error", Static).update(
                "a name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
            return
        problem = shadowing_message(name)
        if problem:
            self.query_one("#save-error", Static).update(problem)
            return
        self.dismiss(name)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; nothing happens unless the user says yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-dialog"):
            yield Static(self.question, id="question")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="warning", compact=True)
                yield Button(f"{self.no} (n)", id="no", compact=True)
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


@dataclass(frozen=True)
class ExportRequest:
    """Where and how to export: `fmt` is "markdown" or "csv"."""

    fmt: str
    path: Path


EXTENSIONS = {"markdown": ".md", "csv": ".csv"}


class ExportScreen(ModalScreen[ExportRequest | None]):
    """Choose the format and the file (default: a new file in the results folder)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, default_stem: Path, rows: int, fmt: str = "markdown") -> None:
        super().__init__()
        self.default_stem = default_stem
        self.rows = rows
        self.fmt = fmt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-dialog"):
            yield Label(f"Export {self.rows} rows", classes="dialog-title")
            with Horizontal(classes="field"):
                yield Label("Format")
                yield Select([("Markdown", "markdown"), ("CSV", "csv")], value=self.fmt, allow_blank=False, id="export-format", compact=True)
            with Horizontal(classes="field"):
                yield Label("File")
                yield Input(str(self.default_stem) + EXTENSIONS[self.fmt], id="export-path", compact=True)
            yield Static("enter: write · esc: cancel", classes="hint")
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    @on(Select.Changed, "#export-format")
    def _format(self, event: Select.Changed) -> None:
        box = self.query_one("#export-path", Input)
        path = Path(box.value)
        if path.suffix in EXTENSIONS.values():
            box.value = str(path.with_suffix(EXTENSIONS[str(event.value)]))

    @on(Input.Submitted, "#export-path")
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        fmt = str(self.query_one("#export-format", Select).value)
        self.dismiss(ExportRequest(fmt, Path(text).expanduser()))
