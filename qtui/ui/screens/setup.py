"""The setup screen: menus that build a RunProfile, what can run here, saved profiles.

Every menu is filled from the catalog. Framework × precision combinations that cannot run on this
machine stay visible, marked ✗, with the catalog's reason shown, and a run of one is refused with
that reason. Typed values go through the core's profile validation (`apply_overrides`), so a bad
number shows the same ProfileError message `qtui run --set` would, inline, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Collapsible, Header, Input, Label, Select, Static

from qtui.core import labels, model_table
from qtui.core.catalog import (
    FRAMEWORK_TITLES,
    MODEL_TITLES,
    PRECISION_TITLES,
    SCENARIO_TITLES,
    Availability,
    matrix,
)
from qtui.core.loadgen import PRESET_SETTINGS
from qtui.core.model_source import is_user_model, source_kind
from qtui.core.profile import (
    FRAMEWORKS,
    MODES,
    PRECISIONS,
    ProfileError,
    RunProfile,
    apply_overrides,
    expand_sweep,
    profile_from_dict,
    save,
    to_dict,
)
from qtui.core.text import one_line
from qtui.ui.widgets.footer import KeysFooter

WEIGHT_KINDS = (("random (seeded)", "random"), ("torchvision", "torchvision"), ("file (.pth)", "file"))
DATA_KINDS = (("synthetic (seeded)", "synthetic"), ("your data (folder or .npy/.npz)", "folder"))
PRESET_LABELS = {"quick": "quick (short)", "mlperf": "mlperf (≥ 600 s)"}

#: Number inputs: widget id -> (profile key, label). Blank optional ones take the preset's value.
NUMBER_FIELDS: dict[str, tuple[str, str]] = {
    "weights-seed": ("weights.seed", "Seed"),
    "data-count": ("dataset.count", "Images"),
    "threads": ("threads", "Threads"),
    "batch": ("batch_size", "Batch"),
    "warmup": ("warmup_queries", "Warm-up queries"),
    "perf-count": ("dataset.performance_sample_count", "Perf. samples"),
    "calib-count": ("dataset.calibration_count", "Calib. images"),
}
OVERRIDE_FIELDS: dict[str, tuple[str, str]] = {
    "min-duration": ("loadgen.min_duration_ms", "Min duration ms"),
    "max-duration": ("loadgen.max_duration_ms", "Max duration ms"),
    "min-queries": ("loadgen.min_query_count", "Min queries"),
    "max-queries": ("loadgen.max_query_count", "Max queries"),
    "exp-latency": ("loadgen.expected_latency_ms", "Expected lat. ms"),
    "exp-qps": ("loadgen.expected_qps", "Expected QPS"),
    "spq": ("loadgen.samples_per_query", "Samples/query"),
}
PATH_FIELDS = {"weights-path": "weights.source", "data-path": "dataset.source"}
_KEY_TO_WIDGET = {key: wid for wid, (key, _) in {**NUMBER_FIELDS, **OVERRIDE_FIELDS}.items()}
_KEY_TO_WIDGET.update({key: wid for wid, key in PATH_FIELDS.items()})


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def _options(titles: dict[str, str], keys: Iterable[str]) -> list[tuple[str, str]]:
    return [(titles.get(k, k), k) for k in keys]


def _model_options(model: str) -> list[tuple[str, str]]:
    """The built-in models (the model table's titles), and the profile's own model file by
    its name when it has one."""
    out = _options(MODEL_TITLES, MODEL_TITLES)
    if is_user_model(model):
        out.append((one_line(Path(model).name), model))
    return out


class SetupScreen(Screen[None]):
    """Menus → RunProfile; run it, save it, load a saved one."""

    BINDINGS = [
        Binding("ctrl+r", "run", "Run", id="setup.run"),
        Binding("ctrl+s", "save", "Save profile", id="setup.save"),
        Binding("ctrl+o", "open_profiles", "Profiles", id="setup.profiles"),
        Binding("ctrl+t", "results", "Results", id="setup.results"),
        Binding("ctrl+y", "study", "Study", id="setup.study"),
        # out of the footer (no room at 80 columns); the keys panel (f1) lists it
        Binding("ctrl+f", "fleet", "Fleet", show=False, id="setup.fleet"),
    ]
    AUTO_FOCUS = "#model"

    def __init__(self, profile: RunProfile | None = None) -> None:
        super().__init__()
        self.base = profile or RunProfile()
        #: what this machine can run; a model's kind of source may refuse more (`availability`)
        self._machine: dict[tuple[str, str], Availability] = {
            (a.framework, a.precision): a for a in matrix()
        }
        #: what this machine can run for a user model, asked of its own source (`_for_model`)
        self._by_model: dict[str, dict[tuple[str, str], Availability]] = {}
        self.profile: RunProfile | None = self.base
        self.error: str = ""

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        p = self.base
        choices: list[tuple[str, Select[str] | Input]] = [
            ("Model", _menu("model", _model_options(p.model), p.model)),
            ("Framework", _menu("framework", self._framework_options(), p.framework)),
            ("Precision", _menu("precision", self._precision_options(p.framework), p.precision)),
            ("Scenario", _menu("scenario", _options(SCENARIO_TITLES, SCENARIO_TITLES), p.scenario)),
            ("Mode", _menu("mode", [(m, m) for m in MODES], p.mode)),
            ("Preset", _menu("preset", [(v, k) for k, v in PRESET_LABELS.items()], p.loadgen.preset)),
            ("Weights", _menu("weights", WEIGHT_KINDS, _weights_kind(p))),
            ("Seed", _field("weights-seed", str(p.weights.seed))),
            ("Data", _menu("data", DATA_KINDS, _data_kind(p))),
            ("Images", _field("data-count", str(p.dataset.count), "0 = all")),
            ("Threads", _field("threads", str(p.threads), "0 = all cores")),
            ("Batch", _field("batch", str(p.batch_size))),
        ]
        yield Header()
        with VerticalScroll(id="form"):
            with Grid(id="choices"):
                for label, widget in choices:
                    yield Label(label)
                    yield widget
            with Horizontal(id="weights-path-row", classes="path-row"):
                yield Label("Weights file")
                yield _field("weights-path", _weights_path(p), "path to a torchvision-keyed .pth")
            with Horizontal(id="data-path-row", classes="path-row"):
                yield Label("Data folder")
                yield _field("data-path", _data_path(p), "pictures, class folders, ImageNet val folder, .npy/.npz")
            yield Static(id="availability")
            yield Static(id="reason")
            yield Static(id="error")
            with Collapsible(title="Advanced: warm-up, sample counts, LoadGen overrides", id="advanced"):
                with Grid(id="advanced-grid"):
                    for wid, (key, label) in {**_advanced_numbers(), **OVERRIDE_FIELDS}.items():
                        yield Label(label)
                        yield _field(wid, _value_text(p, key))
        yield KeysFooter(show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "set up a run"
        if getattr(self.app, "ssh", False):  # no blinking cursor over SSH
            for box in self.query(Input):
                box.cursor_blink = False
        self._refresh()

    # -- options from the catalog ---------------------------------------------------------------
    @property
    def availability(self) -> dict[tuple[str, str], Availability]:
        """What can run here for the chosen model: for a built-in the machine's cells; for the
        user's model what its own source needs here (a .tflite file no converter; an entry
        point's PyTorch FP32 is a TorchScript trace), less the cells its kind of source cannot
        fill (an ONNX file: ONNX Runtime and OpenVINO only), with that reason."""
        try:
            model = self._select("model")
        except NoMatches:  # before the menus exist
            model = self.base.model
        kind = source_kind(model)
        if kind in ("builtin", "unknown"):
            return self._machine
        cells = self._by_model.get(model)
        if cells is None:
            cells = self._by_model[model] = {(a.framework, a.precision): a for a in matrix(model)}
        row = model_table.source_kind(kind)
        return {
            (f, p): a if row.allows(f, p) else Availability(f, p, False, row.reason(f, p) or "")
            for (f, p), a in cells.items()
        }

    def _framework_options(self) -> list[tuple[str, str]]:
        out = []
        for f in FRAMEWORKS:
            usable = any(self.availability[(f, p)].available for p in PRECISIONS)
            out.append((FRAMEWORK_TITLES[f] + ("" if usable else " ✗"), f))
        return out

    def _precision_options(self, framework: str) -> list[tuple[str, str]]:
        return [
            (PRECISION_TITLES[p] + ("" if self.availability[(framework, p)].available else " ✗"), p)
            for p in PRECISIONS
        ]

    # -- reading the form -----------------------------------------------------------------------
    def _select(self, wid: str) -> str:
        return str(self.query_one(f"#{wid}", Select).value)

    def _text(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def build_profile(self, name: str | None = None) -> RunProfile:
        """The profile the menus describe; raises ProfileError (the message says which key)."""
        data = to_dict(self.base)
        data["loadgen"] = {"preset": self._select("preset")}
        base = profile_from_dict(data)
        sets = [f"{key}={toml_string(self._select(wid))}" for wid, key in (
            ("model", "model"), ("framework", "framework"), ("precision", "precision"),
            ("scenario", "scenario"), ("mode", "mode"),
        )]
        weights = self._select("weights")
        if weights == "file":
            path = self._text("weights-path")
            if not path:
                raise ProfileError("setup: key 'weights.source': enter the path of a .pth weights file", "weights.source")
            sets.append(f"weights.source={toml_string(path)}")
        else:
            sets.append(f"weights.source={toml_string(weights)}")
        if self._select("data") == "folder":
            path = self._text("data-path")
            if not path:
                raise ProfileError("setup: key 'dataset.source': enter a folder of pictures or a .npy/.npz file", "dataset.source")
            sets.append(f"dataset.source={toml_string(path)}")
        else:
            sets.append('dataset.source="synthetic"')
        for wid, (key, _) in NUMBER_FIELDS.items():
            sets.append(f"{key}={self._text(wid)}")
        for wid, (key, _) in OVERRIDE_FIELDS.items():
            if self._text(wid):
                sets.append(f"{key}={self._text(wid)}")
        if name is not None:
            sets.append(f"name={toml_string(name)}")
        return apply_overrides(base, sets, source="setup")

    # -- showing state --------------------------------------------------------------------------
    @on(Select.Changed)
    @on(Input.Changed)
    def _changed(self) -> None:
        self._refresh()

    @on(Select.Changed, "#model")
    def _model_changed(self) -> None:
        """Another model may fill other cells: mark the frameworks and precisions again."""
        framework = self.query_one("#framework", Select)
        precision = self.query_one("#precision", Select)
        current = (framework.value, precision.value)
        with self.prevent(Select.Changed):
            framework.set_options(self._framework_options())
            precision.set_options(self._precision_options(self._select("framework") if current[0] is Select.BLANK else str(current[0])))
            framework.value, precision.value = current
        self._refresh()

    @on(Select.Changed, "#framework")
    def _framework_changed(self) -> None:
        select = self.query_one("#precision", Select)
        current = select.value
        with self.prevent(Select.Changed):
            select.set_options(self._precision_options(self._select("framework")))
            select.value = current
        self._refresh()

    @on(Collapsible.Expanded)
    def _show_advanced(self) -> None:
        self.call_after_refresh(self.query_one("#advanced").scroll_visible, animate=False)

    def _refresh(self) -> None:
        weights, data = self._select("weights"), self._select("data")
        self.query_one("#weights-seed", Input).disabled = weights != "random"
        self.query_one("#weights-path-row").display = weights == "file"
        self.query_one("#data-path-row").display = data == "folder"
        self._show_preset_placeholders()
        framework, precision = self._select("framework"), self._select("precision")
        self.query_one("#availability", Static).update(self._availability_table(framework, precision))
        self.query_one("#reason", Static).update(self._reason_text(framework, precision))
        reason = self.query_one("#reason")
        reason.set_class(not self.availability[(framework, precision)].available, "unavailable")
        reason.remove_class("refused")
        try:
            self.profile = self.build_profile()
            self._show_error("")
        except ProfileError as exc:
            self.profile = None
            self._show_error(str(exc), exc.keys)

    def _show_error(self, message: str, keys: tuple[str, ...] = ()) -> None:
        """Show the profile error inline and mark the fields of the keys it is about (the
        error names them: `ProfileError.keys`)."""
        message = message.removeprefix("setup: ")
        self.error = message
        box = self.query_one("#error", Static)
        box.update(message)
        box.display = bool(message)
        for wid in [*NUMBER_FIELDS, *OVERRIDE_FIELDS, *PATH_FIELDS]:
            self.query_one(f"#{wid}", Input).remove_class("invalid")
        for key in keys:
            field = _KEY_TO_WIDGET.get(key)
            if field is not None:
                self.query_one(f"#{field}", Input).add_class("invalid")

    def _show_preset_placeholders(self) -> None:
        values = PRESET_SETTINGS.get(self._select("preset"), {}).get(self._select("scenario"), {})
        for wid, (key, _) in OVERRIDE_FIELDS.items():
            name = key.split(".", 1)[1]
            preset = values.get(name)
            text = f"preset: {preset}" if preset is not None else "from warm-up" if name.startswith("expected") else "preset"
            self.query_one(f"#{wid}", Input).placeholder = text

    def _availability_table(self, framework: str, precision: str) -> Table:
        table = Table(box=None, padding=(0, 1), show_edge=False, pad_edge=False, title_justify="left")
        table.add_column("Runs here?", style="bold", no_wrap=True)
        for p in PRECISIONS:
            table.add_column(labels.grid(p), justify="center", no_wrap=True)
        for f in FRAMEWORKS:
            cells = []
            for p in PRECISIONS:
                ok = self.availability[(f, p)].available
                mark = Text("✓" if ok else "✗", style="green" if ok else "red")
                if (f, p) == (framework, precision):
                    mark.stylize("reverse")
                cells.append(mark)
            table.add_row(FRAMEWORK_TITLES[f], *cells)
        return table

    def _reason_text(self, framework: str, precision: str) -> Text:
        a = self.availability[(framework, precision)]
        combo = f"{FRAMEWORK_TITLES[framework]} {PRECISION_TITLES[precision]}"
        if a.available:
            return Text.assemble(("✓ ", "green"), f"{combo}: {a.reason or 'runs here'}")
        return Text.assemble(("✗ ", "red"), f"{combo} cannot run here: {a.reason}")

    # -- loading a profile into the menus -------------------------------------------------------
    def load_profile(self, profile: RunProfile) -> None:
        """Show `profile` in the menus (it becomes the base for keys the menus don't show)."""
        self.base = profile
        p = profile
        with self.prevent(Select.Changed, Input.Changed):
            self.query_one("#model", Select).set_options(_model_options(p.model))
            self.query_one("#model", Select).value = p.model
            self.query_one("#framework", Select).set_options(self._framework_options())
            self.query_one("#framework", Select).value = p.framework
            self.query_one("#precision", Select).set_options(self._precision_options(p.framework))
            for wid, value in (
                ("model", p.model), ("precision", p.precision), ("scenario", p.scenario),
                ("mode", p.mode), ("preset", p.loadgen.preset), ("weights", _weights_kind(p)),
                ("data", _data_kind(p)),
            ):
                self.query_one(f"#{wid}", Select).value = value
            for wid, (key, _) in {**NUMBER_FIELDS, **OVERRIDE_FIELDS}.items():
                self.query_one(f"#{wid}", Input).value = _value_text(p, key)
            self.query_one("#weights-path", Input).value = _weights_path(p)
            self.query_one("#data-path", Input).value = _data_path(p)
        self._refresh()

    # -- actions --------------------------------------------------------------------------------
    def _runnable_profile(self) -> RunProfile | None:
        """The profile to run, or None after saying why not (inline and as a notification)."""
        try:
            profile = self.build_profile()
        except ProfileError as exc:
            self._show_error(str(exc), exc.keys)
            self.notify(self.error, title="Cannot run", severity="error", markup=False)
            return None
        a = self.availability[(profile.framework, profile.precision)]
        if not a.available:
            message = f"{FRAMEWORK_TITLES[profile.framework]} {PRECISION_TITLES[profile.precision]} cannot run here: {a.reason}"
            self.query_one("#reason").add_class("refused")
            self.notify(message, title="Cannot run", severity="error", markup=False)
            return None
        return profile

    def action_run(self) -> None:
        profile = self._runnable_profile()
        if profile is not None:
            self.start_run(replace(profile, sweep=None))

    def action_study(self) -> None:
        """The profile's whole `[sweep]`, `[study] repeats` times (combinations that cannot run
        here are left out and named), on the study screen; started again it measures only what
        is missing."""
        from qtui.core.catalog import unavailable_reason
        from qtui.core.study import StudyOptions, plan
        from qtui.ui.screens.study import StudyRunScreen

        try:
            profile = self.build_profile()
        except ProfileError as exc:
            self._show_error(str(exc), exc.keys)
            self.notify(self.error, title="Cannot run", severity="error", markup=False)
            return
        skip = tuple(sorted({  # per model: a built-in may need torch where an ONNX file does not
            (c.model, c.framework, c.precision) for c in plan(profile, StudyOptions())
            if unavailable_reason(c.framework, c.precision, c.model)
        }))
        if not plan(profile, StudyOptions(skip=skip)):
            self.notify("nothing in this study can run here", title="Cannot run", severity="error", markup=False)
            return
        if skip:
            from qtui.core.model_source import model_label

            several = len({c.model for c in plan(profile, StudyOptions())}) > 1
            names = ", ".join(
                (f"{model_label(m)} " if several else "") + f"{FRAMEWORK_TITLES[f]} {PRECISION_TITLES[p]}"
                for m, f, p in skip
            )
            self.notify(f"not measured here: {names}", title="Study", severity="warning", markup=False)
        self.app.push_screen(StudyRunScreen(profile, self.app.results_root, StudyOptions(skip=skip)), self._run_closed)  # type: ignore[attr-defined]

    def start_run(self, profile: RunProfile) -> None:
        from qtui.ui.screens.run import RunScreen

        self.app.push_screen(RunScreen(profile, self.app.results_root), self._run_closed)  # type: ignore[attr-defined]

    def _run_closed(self, outcome: Any) -> None:
        """A run or study screen closed: `v` there opens the results, its last run selected."""
        if outcome is not None and outcome.view_results:
            self.action_results(select=outcome.run_id)

    def action_fleet(self) -> None:
        """The fleet view: `qtui fleet status` per device, refreshed in the background, from the
        source the CLI gave the app (qtui.fleet is never imported by the UI)."""
        from qtui.ui.screens.fleet import FleetScreen

        source = getattr(self.app, "fleet_source", None)
        if source is None:
            self.notify("the fleet view needs qtui's fleet extra: pip install 'qtui[fleet]'",
                        title="Fleet", severity="warning", markup=False)
            return
        self.app.push_screen(FleetScreen(source))

    def action_results(self, select: str | None = None) -> None:
        from qtui.ui.screens.results import ResultsScreen

        self.app.push_screen(ResultsScreen(self.app.results_root, select=select))  # type: ignore[attr-defined]

    def action_open_profiles(self) -> None:
        from qtui.ui.screens.dialogs import ProfileChoice, ProfilesScreen

        def chosen(choice: ProfileChoice | None) -> None:
            if choice is None:
                return
            self.load_profile(choice.profile)
            note = ""
            if choice.profile.sweep is not None:
                runs = len(expand_sweep(choice.profile))
                from qtui.core.profile_store import ProfileNotFound, resolve

                try:
                    by_name = resolve(choice.path.stem).resolve() == choice.path.resolve()
                except ProfileNotFound:
                    by_name = False
                from qtui.core.sinks import shell_command

                name = choice.path.stem if by_name else str(choice.path)
                try:
                    headless = f" (headless: `{shell_command(['qtui', 'study', name])}`)"
                except ValueError:  # a name no terminal shows as it is: no command to copy
                    headless = ""
                note = f"\nIts [sweep] has {runs} combinations: ctrl+r runs the one shown, ctrl+y the whole study{headless}."
            self.notify(f"loaded {choice.path}{note}", title="Profile", timeout=8 if note else 3, markup=False)
            if choice.run:
                self.action_run()

        self.app.push_screen(ProfilesScreen(self.app.profile_dirs()), chosen)  # type: ignore[attr-defined]

    def action_save(self) -> None:
        from qtui.core.profile_store import is_shipped_name, suggest_name
        from qtui.ui.screens.dialogs import SaveProfileScreen

        try:
            current = self.build_profile()
        except ProfileError as exc:
            self._show_error(str(exc), exc.keys)
            self.notify(self.error, title="Cannot save", severity="error", markup=False)
            return
        # the loaded profile's own name while nothing changed (and it is not a shipped one);
        # otherwise a name that says what the choices run
        unchanged = current == self.base and not is_shipped_name(self.base.name)
        proposed = self.base.name if unchanged else suggest_name(current)
        folder: Path = self.app.user_profiles_dir  # type: ignore[attr-defined]
        self.app.push_screen(SaveProfileScreen(proposed, folder), self._save_named)

    def _save_named(self, name: str | None) -> None:
        from qtui.ui.screens.dialogs import ConfirmScreen

        if not name:
            return
        profile = self.build_profile(name=name)
        path = self.app.user_profiles_dir / f"{name}.toml"  # type: ignore[attr-defined]
        if not path.exists():
            self._write_profile(profile, path, overwrite=False)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._write_profile(profile, path, overwrite=True)
            else:
                self.notify(f"not saved: {path} already exists", title="Profile", severity="warning", markup=False)

        self.app.push_screen(ConfirmScreen(f"{path} already exists.\nReplace it with the current choices?", yes="Replace"), confirmed)

    def _write_profile(self, profile: RunProfile, path: Path, overwrite: bool) -> None:
        try:
            save(profile, path, overwrite=overwrite)
        except (OSError, FileExistsError) as exc:
            self.notify(f"could not save {path}: {exc}", title="Profile", severity="error", markup=False)
            return
        self.base = replace(self.base, name=profile.name)
        self.notify(f"saved {path}", title="Profile", markup=False)


def _menu(wid: str, options: Iterable[tuple[str, str]], value: str) -> Select[str]:
    return Select(options, id=wid, value=value, allow_blank=False, compact=True)


def _field(wid: str, value: str, placeholder: str = "") -> Input:
    return Input(value, id=wid, placeholder=placeholder, compact=True)


def _weights_kind(p: RunProfile) -> str:
    return p.weights.source if p.weights.source in ("random", "torchvision") else "file"


def _weights_path(p: RunProfile) -> str:
    return "" if _weights_kind(p) != "file" else p.weights.source


def _data_kind(p: RunProfile) -> str:
    return "synthetic" if p.dataset.source == "synthetic" else "folder"


def _data_path(p: RunProfile) -> str:
    return "" if _data_kind(p) == "synthetic" else p.dataset.source


def _advanced_numbers() -> dict[str, tuple[str, str]]:
    return {k: NUMBER_FIELDS[k] for k in ("warmup", "perf-count", "calib-count")}


def _value_text(p: RunProfile, key: str) -> str:
    obj: Any = p
    for part in key.split("."):
        obj = getattr(obj, part)
    return "" if obj is None else f"{obj:g}" if isinstance(obj, float) else str(obj)
