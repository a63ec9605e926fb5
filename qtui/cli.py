"""The `qtui` command line: the TUI (default), headless `run`, `report`, `prepare` and `doctor`.

Heavy imports (torch, frameworks, Textual) happen inside the commands that need them, so
`qtui --help` and `qtui doctor` stay fast and framework-free.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from qtui import __version__
from qtui.core import labels
from qtui.core.profile import FRAMEWORKS, MODELS, PRECISIONS, SCENARIOS
from qtui.core.sinks import for_terminal
from qtui.core.text import json_text

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _fail_input(message: str) -> None:
    click.echo(f"qtui: {for_terminal(message, multiline=True)}", err=True)
    sys.exit(EXIT_BAD_INPUT)


class FilterValue(click.ParamType):
    """A `--model/--framework/--precision/--scenario` value, read by the one filter parser
    (`catalog.filter_value`: ids, titles or table labels, any case) for every command; anything
    else exits 2 naming the allowed values."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = kind

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:  # type: ignore[override]
        from qtui.core.catalog import FILTER_CHOICES

        return "[" + "|".join(FILTER_CHOICES[self.kind]) + "]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from qtui.core.catalog import FILTER_CHOICES, filter_value

        found = filter_value(self.kind, str(value))
        if found is None:
            allowed = ", ".join(repr(v) for v in FILTER_CHOICES[self.kind])
            self.fail(f"{str(value)!r} is not one of {allowed} (ids, titles or table labels, in any case).", param, ctx)
        return found


class ModelValue(FilterValue):
    """A model to prepare or run (`prepare --model`): a built-in, read like every filter, or the
    path of the user's own model file, passed on as it is (the profile checks it)."""

    def __init__(self) -> None:
        super().__init__("model")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from qtui.core.model_source import source_kind

        if source_kind(str(value)) not in ("builtin", "unknown"):
            return str(value)
        return super().convert(value, param, ctx)


MODEL_FILTER, FRAMEWORK_FILTER = ModelValue(), FilterValue("framework")  # a user model: its file
PRECISION_FILTER, SCENARIO_FILTER = FilterValue("precision"), FilterValue("scenario")


def resolve_profile_path(path: str) -> str:
    """The file a PROFILE argument names: a path, a shipped profile's name (`quick`) or a profile
    saved from the TUI (see `qtui.core.profile_store`); exits 2 when there is none."""
    from qtui.core.profile_store import ProfileNotFound, resolve

    try:
        return str(resolve(path))
    except ProfileNotFound as exc:
        _fail_input(str(exc))
        raise  # unreachable: _fail_input exits


def _load_profile(path: str, assignments: tuple[str, ...]) -> Any:
    from qtui.core.profile import ProfileError, apply_overrides, load_with_note
    from qtui.core.text import one_line

    try:
        profile, note = load_with_note(resolve_profile_path(path))
        if note:
            _echo_err(f"qtui: warning: {one_line(note)}")
        if assignments:
            profile = apply_overrides(profile, list(assignments))
    except ProfileError as exc:
        _fail_input(str(exc))
    return profile


def _check_sources(profiles: list[Any]) -> None:
    """Exit 2 before any work when a profile's data folder or weights file is not there
    (`profile.check_sources`), instead of a run that fails and leaves a failed result."""
    from qtui.core.profile import ProfileError, check_sources

    try:
        for one in profiles:
            check_sources(one)
    except ProfileError as exc:
        _fail_input(str(exc))


class _ProgressPrinter:
    """Prints run events. On a TTY: one rewritten line (≤ 4 Hz). Otherwise (a CI log, `| tee`):
    one line per change of stage, and for long stages and the measurement a line every
    `period_s` with the percentage and the time left — never the same line again and again.

    Writing never fails the run: when the stream is gone (the SSH connection dropped, a closed
    pipe) the printer falls silent."""

    #: seconds between two lines of the same stage when the output is not a terminal
    period_s = 10.0
    clock = staticmethod(time.monotonic)

    def __init__(self, stream: Any, quiet: bool = False) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.quiet = quiet
        self.min_interval = 0.25 if self.tty else self.period_s
        self._last = 0.0
        self._last_step = ""
        #: the stage being printed: its step, the highest fraction seen, the last one printed
        self._stage: dict[str, Any] = {}

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        try:
            self._print(event)
        except (OSError, ValueError):  # terminal hung up, pipe closed, stream closed
            self.quiet = True

    def _print(self, event: Any) -> None:
        from qtui.core import events as ev
        from qtui.core.text import format_duration

        now = self.clock()
        if isinstance(event, (ev.Started, ev.Finished, ev.Failed)) or (
            isinstance(event, ev.Preparing) and event.step != self._last_step
        ):
            self._end_stage()
        if isinstance(event, ev.Preparing):
            frac = f" {event.fraction * 100:3.0f}%" if event.fraction is not None else ""
            if event.step != self._last_step:
                # a log line names a new stage without its 0 %: a percentage only as news
                done = event.fraction is not None and event.fraction >= 0.999
                self._line(f"{event.step}{frac if self.tty or done else ''}", now, force=True)
                self._last_step = event.step
                self._stage = {"step": event.step, "best": event.fraction or 0.0, "shown": None}
            elif self.tty or event.fraction is not None:  # a log repeats a stage only with news
                self._stage["best"] = max(self._stage.get("best", 0.0), event.fraction or 0.0)
                if self._line(f"{event.step}{frac}", now):
                    self._stage["shown"] = event.fraction
        elif isinstance(event, ev.Started):
            self._last_step = "LoadGen"
            self._line(f"LoadGen {event.scenario} {event.mode} started", now, force=True)
        elif isinstance(event, ev.Progress):
            pct = event.percentiles_ms
            exp = f"/{event.expected_samples}" if event.expected_samples else ""
            share = ""
            if event.left_s is not None and event.elapsed_s + event.left_s > 0:
                share = f"{100 * event.elapsed_s / (event.elapsed_s + event.left_s):3.0f}%  "
            left = f", ~{format_duration(event.left_s, 0)} left" if event.left_s else ""
            self._line(
                f"LoadGen {share}{event.completed_samples}{exp} samples  "
                f"{format_duration(event.elapsed_s)} elapsed{left}  "
                f"p90 {pct.get('p90', 0):.2f} ms  {event.samples_per_s:.1f} samples/s",
                now,
            )
        elif isinstance(event, ev.Log):
            self._newline()
            self.stream.write(f"{for_terminal(event.level)}: {for_terminal(event.text)}\n")
        elif isinstance(event, (ev.Finished, ev.Failed)):
            self._newline()
        self.stream.flush()

    def _end_stage(self) -> None:
        """On a log (not a TTY): a stage whose percentage was printed part-way and that then
        reached 100 % says so in a last line, so a log never ends a stage at "0%" or "40%"."""
        stage, self._stage = self._stage, {}
        if self.tty or not stage or stage.get("shown") is None:
            return
        if stage["best"] >= 0.999 and stage["shown"] < 0.999:
            self.stream.write(f"{stage['step']} 100%\n")

    def _line(self, text: str, now: float, force: bool = False) -> bool:
        if not force and now - self._last < self.min_interval:
            return False
        self._last = now
        text = for_terminal(text)
        if self.tty:
            self.stream.write("\r\x1b[2K" + text[:200])
            self._dirty = True
        else:
            self.stream.write(text + "\n")
        return True

    def _newline(self) -> None:
        if self.tty and getattr(self, "_dirty", False):
            self.stream.write("\n")
            self._dirty = False


#: Signals that cancel a run like Ctrl-C: SIGTERM (kill, systemd, a container stopping) and
#: SIGHUP (the terminal or SSH connection went away).
CANCEL_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


#: The command's own stdout/stderr, pinned when it starts: a preparation cancelled while its
#: converter's output is captured (`prepare.quiet_python` swaps sys.stdout/sys.stderr for the
#: whole process) can still hold them swapped when the result is printed.
_STREAMS: dict[str, Any] = {}


def _pin_streams() -> None:
    _STREAMS.update(out=sys.stdout, err=sys.stderr)


def _out() -> Any:
    return _STREAMS.get("out") or sys.stdout


def _err() -> Any:
    return _STREAMS.get("err") or sys.stderr


def _echo_err(text: str) -> None:
    """A message on stderr that never raises (stderr may be a terminal that hung up)."""
    try:
        click.echo(for_terminal(text, multiline=True), file=_err())
    except (OSError, ValueError):
        pass


class _CancelSignals:
    """While active (main thread only), SIGINT, SIGTERM and SIGHUP set `stop` and call
    `on_first` once; a second SIGINT or SIGTERM ends the process at once (exit 130). A repeated
    SIGHUP counts once: a hang-up can deliver it twice (the kernel, then the shell)."""

    def __init__(self, stop: threading.Event, on_first: Any = None) -> None:
        self.stop = stop
        self.on_first = on_first
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received:
            if signum == getattr(signal, "SIGHUP", None):
                return
            try:
                os.write(2, b"\nqtui: interrupted twice, exiting now\n")
            except OSError:
                pass
            os._exit(EXIT_INTERRUPTED)
        self.received.append(signum)
        self.stop.set()
        if self.on_first is not None:
            self.on_first(signum)

    def __enter__(self) -> _CancelSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in CANCEL_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


def _exit_interrupted() -> None:
    """End an interrupted process once its results are saved and printed: flush, remove this
    process's staging folders when a cancelled preparation still works in the background, and
    `os._exit(130)`. A normal interpreter exit would finalize while that preparation is inside
    a C++ runtime, which aborts the process (`terminate called without an active exception`)."""
    from qtui.core.runner import pending_preparations

    if pending_preparations():
        from qtui.core.prepare import discard_own_staging

        try:
            discard_own_staging()
        except OSError:
            pass
    for stream in {id(s): s for s in (_out(), _err(), sys.stdout, sys.stderr)}.values():
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(EXIT_INTERRUPTED)


def _run_with_interrupt(
    profile: Any, results_dir: str | None, printer: _ProgressPrinter, signals: _CancelSignals | None = None
) -> tuple[Any, bool]:
    """Run in a worker thread so that Ctrl-C, SIGTERM or SIGHUP in the main thread can cancel
    through the drain: the result is saved as cancelled. Returns (result, interrupted).
    `signals`: handlers the caller keeps installed (across a sweep and its printing); by default
    they are installed for this run only."""
    from qtui.core.runner import RunOptions, run

    own = signals is None
    signals = signals or _CancelSignals(threading.Event())
    options = RunOptions(results_root=Path(results_dir) if results_dir else None)
    with signals if own else contextlib.nullcontext(signals):
        result = _interruptible(lambda: run(profile, printer, signals.stop, options), signals)
    return result, signals.stop.is_set()


def _refuse_threads_over_cores(profiles: list[Any]) -> None:
    """Exit 2 before any work when `threads` is above this machine's cores without
    `threads_over_cores = true` (the runner refuses it too)."""
    from qtui.core.profile import threads_refusal

    for one in profiles:
        refusal = threads_refusal(one, os.cpu_count())
        if refusal:
            _fail_input(refusal)


def _refuse_bad_data(profiles: list[Any]) -> None:
    """Exit 2 before any work when a profile's data cannot be used: a folder with no pictures,
    pictures that do not decode, tensors of the wrong shape, an ambiguous layout (the message
    names the file and what to do). Each distinct data set is opened (and checked) once."""
    from qtui.core.data import DatasetError
    from qtui.core.model_source import is_user_model
    from qtui.core.profile_data import open_profile_dataset

    seen = set()
    for one in profiles:
        key = (
            one.dataset.source, one.dataset.kind, one.dataset.classes, one.dataset.count, one.dataset.seed, one.input,
            one.model if is_user_model(one.model) else "",  # a user model's input decides its data
        )
        if key in seen:
            continue
        seen.add(key)
        try:
            open_profile_dataset(one)
        except DatasetError as exc:
            _fail_input(str(exc))


def _refuse_unavailable(profiles: list[Any]) -> None:
    """Exit 2 before any work when a combination cannot run here (framework not installed,
    precision not supported), with the reason `qtui doctor` and the UI give."""
    from qtui.core.catalog import unavailable_reason

    _refuse_bad_model_files(profiles)
    problems = {}
    for one in profiles:
        reason = unavailable_reason(one.framework, one.precision, one.model)
        if reason:
            problems[(one.framework, one.precision)] = reason
    if not problems:
        return
    lines = [f"{fw} {pr}: {reason}" for (fw, pr), reason in problems.items()]
    hint = ""
    if len(profiles) > 1:
        hint = "\n  run the others by narrowing the sweep, e.g. --set sweep.frameworks=[...]"
    _fail_input("cannot run here:\n  " + "\n  ".join(lines) + hint)


def _refuse_bad_model_files(profiles: list[Any]) -> None:
    """Exit 2 before any work when a profile's model file cannot be used: not a model, cut
    short, external data missing, open dimensions besides the batch, an operator ONNX does not
    know, or one the framework that would prepare it refuses (named)."""
    from qtui.core.model_source import ModelSourceError, inspect_cached, is_user_model, source_kind

    checked = set()
    for one in profiles:
        if not is_user_model(one.model):
            continue
        if source_kind(one.model) == "entry":  # imports it and builds the model: the user's own code
            from qtui.core.data import preprocess_from_spec
            from qtui.core.model_input import for_profile as entry_input
            from qtui.core.model_source_entry import load_entry
            from qtui.core.prepare import torch_missing_reason

            if torch_missing_reason(one.model):  # its code imports torch: say what to install
                _fail_input(torch_missing_reason(one.model) or "")
            shape = preprocess_from_spec(one.input).sample_shape
            if (one.model, one.weights, shape, one.input) not in checked:
                checked.add((one.model, one.weights, shape, one.input))
                try:  # the inputs the profile gives it (input.shape/input.shapes/input.dtype), if any
                    load_entry(one.model, one.weights.source, one.weights.seed, shape, entry_input(one))
                except ModelSourceError as exc:
                    _fail_input(str(exc))
            continue
        try:
            found = inspect_cached(one.model)
            from qtui.core.model_input import for_profile

            for_profile(one)  # an ONNX file's dimensions it leaves open, set by the profile
        except ModelSourceError as exc:
            _fail_input(str(exc))
            return
        from qtui.core.model_source_tflite import TfliteModel, profile_problem

        if isinstance(found, TfliteModel):
            problem = profile_problem(found, one)
            if problem:
                _fail_input(problem)
            if one.precision == "int8_static" and found.signature is None and one.framework == "tflite":
                _fail_input(
                    f"model {found.name} has no signature, which ai-edge-quantizer's INT8 static "
                    "calibration needs; convert it again with a signature, or run the other precisions"
                )
            continue
        if one.framework == "onnxruntime":
            from qtui.core.prepare.onnxruntime import runtime_refusal

            refused = runtime_refusal(found.path)
            if refused:
                _fail_input(f"ONNX Runtime cannot run model {found.name}: {refused}")
        elif one.framework == "openvino":
            from qtui.core.prepare.openvino import runtime_refusal as openvino_refusal

            refused = openvino_refusal(found.path)
            if refused:
                _fail_input(f"OpenVINO cannot convert model {found.name}: {refused}")


class _DefaultToTui(click.Group):
    """`qtui`, `qtui PROFILE` and `qtui --ansi [PROFILE]` open the TUI; subcommands otherwise."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        i = 0
        while i < len(args) and args[i].startswith("-"):
            i += 2 if args[i] == "--results-dir" else 1  # the only top-level option with a value
        if i < len(args) and args[i] not in self.commands:
            _refuse_mistyped_command(args[i], list(self.commands))
            args = [*args[:i], "tui", *args[i:]]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Every command: Ctrl-C where no command handles it (reading a profile, importing a
        bundle) ends with one line and exit 130, not click's "Aborted!" and exit 1. Each command
        starts with no pinned streams: a previous invocation in the same process (the tests'
        CliRunner) must not leave its stdout/stderr behind."""
        _STREAMS.clear()
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.exceptions.Abort):
            _echo_err("\nqtui: interrupted")
            sys.exit(EXIT_INTERRUPTED)


def _refuse_mistyped_command(word: str, commands: list[str]) -> None:
    """`qtui reprot`: a word that names no profile but is close to a command is a typo, not a
    profile for the TUI: exit 2 with "did you mean report?"."""
    import difflib

    from qtui.core.profile_store import ProfileNotFound, resolve

    close = difflib.get_close_matches(word, [c for c in commands if c != "tui"], n=1, cutoff=0.6)
    if not close:
        return
    try:
        resolve(word)
    except ProfileNotFound:
        from qtui.core.text import one_line

        _fail_input(one_line(f"no command or profile '{word}': did you mean `qtui {close[0]}`? (qtui --help lists the commands)"))


@click.group(cls=_DefaultToTui, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qtui")
@click.option("--results-dir", type=click.Path(file_okay=False), default=None, help="Where results are saved and read, for every command (default: user data dir, or $QTUI_RESULTS_DIR).")
@click.option("--ansi", is_flag=True, help="Terminal UI: use the terminal's own ANSI colours (plain terminals).")
@click.pass_context
def main(ctx: click.Context, results_dir: str | None, ansi: bool) -> None:
    """qtui — what quantization does to DNN inference on this machine, measured with MLPerf LoadGen.

    Run `qtui` (or `qtui PROFILE`) for the terminal UI, `qtui run PROFILE` for a headless run.
    """
    if ansi and ctx.invoked_subcommand not in (None, "tui"):
        _fail_input(f"--ansi is an option of the terminal UI, not of `qtui {ctx.invoked_subcommand}`")
    if results_dir:
        # every command reads it (a command's own --results-dir still wins)
        os.environ["QTUI_RESULTS_DIR"] = results_dir
    ctx.default_map = {**(ctx.default_map or {}), "tui": {"ansi": ansi, "results_dir": results_dir}}
    if ctx.invoked_subcommand is None:
        ctx.invoke(tui, profile=None, results_dir=results_dir, ansi=ansi)


def _fleet_source() -> Any:
    """What the TUI's fleet view (ctrl+f) asks for `fleet status`: qtui.fleet's, imported only
    when the view refreshes; None where the fleet extra (ansible-runner) is not installed."""
    import importlib.util

    if importlib.util.find_spec("ansible_runner") is None:
        return None

    def source(inventory: str, cancel: Any = None) -> tuple[list[list[str]], list[str]]:
        from qtui.fleet.cli import status_source

        return status_source(inventory, cancel)

    return source


@main.command()
@click.argument("profile", required=False, type=click.Path(dir_okay=False))
@click.option("--results-dir", type=click.Path(file_okay=False), default=None, help="Where results are saved and read.")
@click.option("--ansi", is_flag=True, help="Use the terminal's own ANSI colours (plain terminals).")
def tui(profile: str | None, results_dir: str | None, ansi: bool) -> None:
    """Open the terminal UI, optionally with PROFILE loaded."""
    try:
        from qtui.ui.app import QtuiApp
    except ImportError:
        _fail_input("the terminal UI is not part of this qtui version yet: use `qtui run PROFILE`")
        return
    loaded = _load_profile(profile, ()) if profile else None
    _refuse_unusable_dirs(results_dir)
    from qtui.ui.screens.run import RunScreen

    app = QtuiApp(profile=loaded, results_dir=results_dir, ansi=ansi, fleet_source=_fleet_source())
    with _CancelSignals(threading.Event(), on_first=lambda signum: _tui_quit(app, RunScreen)) as signals:
        app.run()
    # app.run() returns after every run has ended (asyncio.run waits for the worker threads),
    # so every result is saved by now.
    from qtui.core.runner import pending_preparations

    if signals.received:
        _exit_interrupted()
    if pending_preparations():  # a cancelled preparation still inside C++: see _exit_interrupted
        from qtui.core.prepare import discard_own_staging

        discard_own_staging()
        sys.stdout.flush()
        os._exit(0)


def _tui_quit(app: Any, run_screen: type) -> None:
    """On SIGTERM/SIGHUP (in the signal handler, on the app's thread): cancel every running run
    at once (the runner saves it as cancelled), then quit through the app's own quit action,
    which waits for the run workers. Before or after the app runs there is nothing to save."""
    import asyncio

    screens = [screen for screen in app.screen_stack if isinstance(screen, run_screen)]
    for screen in screens:
        screen.stop.set()  # type: ignore[attr-defined]  # a RunScreen (passed in: no UI import here)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _exit_interrupted()
        return
    # A terminal that hung up can block the app's loop for good (Textual's writer thread dies on
    # the first failed write, then its bounded queue fills and the next paint waits forever),
    # before the quit below has ended: a watchdog that needs no loop ends the process once the
    # runs are saved and the app has had TUI_EXIT_GRACE_S to end by itself.
    threading.Thread(target=_exit_once_saved, args=(screens, TUI_EXIT_GRACE_S), name="qtui-exit", daemon=True).start()

    async def quit_app() -> None:
        await app.run_action("quit")  # returns once every running run has ended (saved)

    # never touch the app from inside the handler: schedule on its loop (thread-safe wake-up)
    loop.call_soon_threadsafe(lambda: _QUITTING.append(loop.create_task(quit_app())))


#: Keeps the quit task of `_tui_quit` referenced until the process ends.
_QUITTING: list[Any] = []
#: How long the TUI may take to end by itself (restore the terminal) once its runs are saved
#: after a signal, before the process ends anyway.
TUI_EXIT_GRACE_S = 5.0


def _exit_once_saved(screens: list[Any], grace_s: float) -> None:
    """Wait (without the app's loop) until no run of `screens` is in progress, give the app
    `grace_s`, and end the process with 130. A run whose worker only began during the grace
    (it sees the stop at once and saves) is waited for too."""
    while True:
        for screen in screens:
            screen.wait_idle()
        time.sleep(grace_s)
        if not any(screen.busy.locked() for screen in screens):
            break
    _exit_interrupted()


@main.command("run")
@click.argument("profile", type=click.Path(dir_okay=False))
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override a profile key (dotted for tables), e.g. --set precision=fp32 --set loadgen.min_query_count=128.")
@click.option("--results-dir", type=click.Path(file_okay=False), default=None, help="Where results are saved (default: user data dir, or $QTUI_RESULTS_DIR).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def run_cmd(profile: str, assignments: tuple[str, ...], results_dir: str | None, as_json: bool, quiet: bool) -> None:
    """Run PROFILE headless and print the result table (every [sweep] combination in turn)."""
    from qtui.core.profile import expand_sweep

    prof = _load_profile(profile, assignments)
    _check_sources(expand_sweep(prof))
    _refuse_unavailable(expand_sweep(prof))
    _refuse_threads_over_cores([prof])
    _refuse_unusable_dirs(results_dir)
    _refuse_bad_data(expand_sweep(prof))
    _pin_streams()
    printer = _ProgressPrinter(_err(), quiet=quiet)
    if len(expand_sweep(prof)) > 1 and not quiet:
        _echo_err(_sweep_announcement(prof, results_dir))
    results = []
    interrupted = False
    # The handlers stay installed until the end: a signal between two runs of a sweep or while
    # the results are printed is handled the same way (a repeated SIGHUP still counts once).
    with _CancelSignals(threading.Event()) as signals:
        for one in expand_sweep(prof):
            result, interrupted = _run_with_interrupt(one, results_dir, printer, signals)
            results.append(result)
            if interrupted:
                break
        unsaved = [r for r in results if not _saved(r, results_dir)]
        # The figures go out even when a result could not be written: they exist nowhere else.
        try:
            if as_json:
                payload = [r.to_dict() for r in results]
                click.echo(json_text(payload[0] if len(payload) == 1 else payload), file=_out())
            else:
                with contextlib.redirect_stdout(_out()):
                    _print_table(results)
                from qtui.core.ops import efficiency_text

                for r in results:
                    if r.message:
                        click.echo(f"{for_terminal(r.run_id)}: {for_terminal(r.message)}", file=_err())
                    compute = efficiency_text(r.efficiency)
                    if compute:
                        click.echo(f"{for_terminal(r.run_id)}: compute {for_terminal(compute)}", file=_err())
                    if r not in unsaved and r.loadgen.get("log_dir"):
                        click.echo(f"saved: {for_terminal(Path(r.loadgen['log_dir']))}", file=_err())
        except OSError:  # stdout gone (the terminal hung up): the saved results remain
            pass
        for r in unsaved:
            _echo_err(f"qtui: error: result {for_terminal(r.run_id)} NOT saved (its message says why): what is printed above is its only copy")
        if interrupted or signals.received:
            _exit_interrupted()
    if unsaved or any(r.status == "failed" for r in results):
        sys.exit(EXIT_FAILED)


def _sweep_announcement(prof: Any, results_dir: str | None) -> str:
    """"run paper-matrix: 48 combinations, one run each; about 25m from earlier runs here" —
    said before a `[sweep]` starts, as `qtui study` says what it will do."""
    from qtui.core.environment import capture_environment
    from qtui.core.identity import machine_identity
    from qtui.core.paths import results_dir as resolve
    from qtui.core.profile import expand_sweep
    from qtui.core.results import load_results
    from qtui.core.study import earlier_run_seconds
    from qtui.core.text import format_duration, one_line, plural

    combos = expand_sweep(prof)
    head = f"run {one_line(prof.name)}: {plural(len(combos), 'combination')}, one run each"
    try:
        pool = load_results(resolve(results_dir), warn=lambda message: None)
    except OSError:
        pool = []
    seconds, unknown = earlier_run_seconds(combos, pool, machine_identity(capture_environment(), prof.device))
    if unknown == len(combos):
        return f"{head}; how long is not known until they have run here once (`qtui study` shows the time left as it measures)"
    rest = f" and {plural(unknown, 'combination')} not run here before" if unknown else ""
    return f"{head}; about {format_duration(seconds, 0)} from earlier runs of the same settings here{rest}"


def _refuse_unusable_dirs(results_override: str | None, results: bool = True) -> None:
    """Exit 2 before any work when the cache folder (or the results folder) cannot be written:
    a file where the folder should be, a read-only or full file system."""
    from qtui.core.paths import unusable_dirs

    problems = unusable_dirs(results_override, results=results)
    if problems:
        _fail_input("\n  ".join(problems))


def _saved(result: Any, results_override: str | None) -> bool:
    """True when `result` is on disk (a full disk or a folder made read-only during the run
    leaves it unsaved: the runner then says so in its message)."""
    from qtui.core.paths import results_dir

    try:
        return (results_dir(results_override) / result.run_id / "result.json").is_file()
    except OSError:
        return False


#: Labels of the run table, richest first: the first set whose table fits the terminal is used.
#: The words come from the one table of names (`qtui.core.labels`); the mode has its own.
_LABELLED = (*MODELS, *FRAMEWORKS, *PRECISIONS, *SCENARIOS)
FULL = {v: labels.title(v) for v in _LABELLED} | {"performance": "perf", "accuracy": "acc"}
SHORT = FULL | {v: labels.short(v) for v in _LABELLED}
NARROW = SHORT | {v: labels.narrow(v) for v in _LABELLED}


def _print_table(results: list[Any], pool: list[Any] | None = None) -> None:
    """A compact Rich table that fits the terminal (full detail: --json or `report --format`):
    full names where they fit, else short ones, and at 80 columns the narrow ones without p50;
    a mode column when accuracy-mode runs are listed; a device column when the results come
    from several devices. Under it, each kind of warning once with the runs it applies to.
    Cells are `Text`, never markup: text from result files is shown as it is."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from qtui.core.run_table import fidelity_short, table_rows

    rows = table_rows(results, pool)
    by_id = {r.run_id: r for r in results}
    console = Console()
    spec = [
        ("model", "model", "left"), ("framework", "fw", "left"), ("precision", "prec", "left"),
        ("scenario", "scen", "left"), ("mode", "mode", "left"), ("status", "status", "left"),
        ("p50_ms", "p50 ms", "right"), ("p90_ms", "p90 ms", "right"), ("p99_ms", "p99 ms", "right"),
        ("samples_per_s", "/s", "right"), ("speedup_vs_fp32", "×FP32", "right"), ("size_mb", "MB", "right"),
        ("accuracy", "accuracy / fidelity", "left"),
    ]
    if len({row["device"] for row in rows}) > 1:
        spec.insert(0, ("device", "device", "left"))
    if all(row["mode"] == "performance" for row in rows):
        spec = [c for c in spec if c[0] != "mode"]

    def cells_for(names: dict[str, str], columns: list[tuple[str, str, str]]) -> list[list[str]]:
        out = []
        for row in rows:
            line = []
            for k, _, _ in columns:
                value = row[k]
                if k == "accuracy" and names is NARROW and row["run_id"] in by_id:
                    value = fidelity_short(by_id[row["run_id"]])  # "SQNR 28 dB", "top-1 71.2%"
                if k == "scenario" and names is NARROW and row["mode"] == "accuracy":
                    value = "accuracy"  # the mode, in the scenario's place (accuracy ignores it)
                line.append(names.get(str(value), _cell(value)) if value not in (None, "") else "–")
            if row["warnings"]:
                line[[k for k, _, _ in columns].index("status")] += " ⚠"  # the note below says how
            out.append(line)
        return out

    def build(columns: list[tuple[str, str, str]], cells: list[list[str]]) -> Any:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
        for _, header, justify in columns:
            table.add_column(header, justify=justify, no_wrap=True, overflow="ellipsis")  # type: ignore[arg-type]
        for r in cells:
            table.add_row(*(Text(c) for c in r))
        return table

    # 80 columns: no p50, no MB (both stay in --json and the exports), the mode in the scenario
    # column ("acc"), the short fidelity
    narrow_spec = [c for c in spec if c[0] not in ("p50_ms", "size_mb", "mode")]
    narrow_spec[-1] = ("accuracy", "acc/fid", "left")
    for names, columns in ((FULL, spec), (SHORT, spec), (NARROW, narrow_spec)):
        cells = cells_for(names, columns)
        table = build(columns, cells)
        if console.measure(table, options=console.options.update_width(10**6)).maximum <= console.width:
            break
    console.print(table)
    for line in _warning_lines(results):
        console.print(Text(for_terminal(line)), soft_wrap=False)


def _stdout_is_terminal() -> bool:
    try:
        return bool(_out().isatty())
    except (OSError, ValueError):
        return False


def _saved_profiles(results_dirs: tuple[str, ...]) -> list[Any]:
    """The per-layer profiles saved in the results folders' explain/ (`explain.offline`): read
    without any runtime; damaged ones skipped with a warning on stderr."""
    from qtui.core.explain import offline
    from qtui.core.paths import results_dir

    try:
        roots = [Path(d) for d in results_dirs] or [results_dir()]
    except OSError:
        return []
    return offline.saved_profiles(roots, warn=lambda msg: click.echo(for_terminal(msg), err=True))


def _print_study_tables(tables: list[Any], pool: list[Any] | None = None, saved: list[Any] | None = None) -> None:
    """The study tables (`study_tables.study_tables`) for a terminal: a title and an aligned table
    per model × scenario, a cell's lines one under the other (with what a quantized cell's
    artifact executed, where `qtui explain` saved its summary: `explain.cite`), then the legend
    — the Markdown form (`study_markdown`, with `<br>` in cells) is for files and pipes."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from qtui.core.explain import cite, offline
    from qtui.core.study_tables import study_notes

    by_id = {r.run_id: r for r in pool or []}
    summaries = offline.summaries(saved or [])
    console = Console(file=_out())
    for table in tables:
        console.print(Text(for_terminal(table.title), style="bold"))
        grid = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_edge=False)
        for i, header in enumerate(table.header):
            grid.add_column(for_terminal(header), justify="left" if i < table.label_columns else "right", overflow="fold")
        for row in cite.cited_text_rows(table, by_id, summaries):
            grid.add_row(*(Text("\n".join(for_terminal(line) for line in cell)) for cell in row))
        console.print(grid)
        console.print()
    for note in [*study_notes(tables), *cite.cited_notes(tables, by_id, summaries)]:
        console.print(Text(for_terminal(note)))


def _warning_lines(results: list[Any]) -> list[str]:
    """Each kind of warning once, with the runs it applies to: the warning itself when one run
    (or every run) recorded the same text, else the kind and where each run's figure is."""
    from qtui.core.results import WARNING_KINDS, measurement_warnings, warning_kind
    from qtui.core.run_table import runs_text
    from qtui.core.text import one_line

    rows = results
    by_kind: dict[str, list[tuple[str, str]]] = {}
    for result in results:
        for text in measurement_warnings(result):
            by_kind.setdefault(warning_kind(text), []).append((one_line(result.run_id), text))
    lines = []
    for kind in WARNING_KINDS:
        found = by_kind.get(kind)
        if not found:
            continue
        ids = [run_id for run_id, _ in found]
        texts = {text for _, text in found}
        if len(rows) == 1:
            lines += [f"⚠ {text}" for text in dict.fromkeys(t for _, t in found)]
        elif len(texts) == 1:
            lines.append(f"⚠ {ids[0] if len(ids) == 1 else runs_text(ids)}: {found[0][1]}")
        else:
            lines.append(f"⚠ {WARNING_KINDS[kind]}: {runs_text(ids)} (each run's figures: --format csv or --json)")
    return lines


def _cell(value: Any) -> str:
    """A table cell: a figure to about three digits, any other value as one line of plain text."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return for_terminal(value)


_RESULTS_DIRS_HELP = (
    "A results folder to read; give it several times (e.g. a laptop's and a Pi's, copied here) "
    "to put devices side by side. Default: the results folder."
)
_DEVICE_FILTER_HELP = "Only results from this device: its label (--device of the run), host name, board or CPU model."


def _load_pool(results_dirs: tuple[str, ...]) -> list[Any]:
    """Every result in the given folders (or the results folder), a run copied into several
    folders once; damaged files are skipped with a warning on stderr. Exits 2 when the default
    folder cannot be used."""
    from qtui.core.paths import results_dir as resolve
    from qtui.core.results import load_results_dirs

    roots = [Path(d) for d in results_dirs]
    if not roots:
        try:
            roots = [resolve(None)]
        except OSError as exc:
            _fail_input(for_terminal(f"results folder: {exc.strerror or exc}"))
    return load_results_dirs(roots, warn=lambda msg: click.echo(for_terminal(msg), err=True))


def _device_filter(results: list[Any], device: str | None) -> list[Any]:
    """`results` from `device` (see `identity.device_matches`); exits 2 naming the devices there
    are when none matches."""
    from qtui.core.identity import device_label, device_matches

    if device is None:
        return results
    chosen = [r for r in results if device_matches(r, device)]
    if not chosen:
        known = sorted({device_label(r) for r in results}, key=str.casefold)
        _fail_input(for_terminal(f"--device {device}: no results from that device; devices: {', '.join(known) or 'none'}"))
    return chosen


@main.command()
@click.option("--results-dir", "results_dirs", multiple=True, type=click.Path(exists=True, file_okay=False), help=_RESULTS_DIRS_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json", "study", "html", "percentiles", "latencies"]), default="table", help="study: the paper's layout, framework × precision per model and scenario, devices side by side (Markdown). html: one self-contained file with the study tables, the recommendation and charts (use -o). percentiles: CSV of each run's p50 … p99.9, max, mean and std in µs. latencies: CSV of every saved per-query latency (run_id, query, latency_us).")
@click.option("--model", type=MODEL_FILTER, default=None)
@click.option("--framework", type=FRAMEWORK_FILTER, default=None)
@click.option("--precision", type=PRECISION_FILTER, default=None)
@click.option("--scenario", type=SCENARIO_FILTER, default=None)
@click.option("--device", default=None, help=_DEVICE_FILTER_HELP)
@click.option("--executed", is_flag=True, help="study: add each cell's executed precision (what the runtime reported).")
@click.option("--delta", is_flag=True, help="study: add each cell's accuracy or fidelity change versus FP32.")
@click.option("--efficiency", is_flag=True, help="study: add each cell's GOP/s achieved and its share of the CPU's nominal peak for the precision that executed.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to a file instead of stdout.")
@click.option("--markdown", is_flag=True, help="study: Markdown even on a terminal (it is the form for files and pipes; a terminal gets aligned text).")
@click.option("--compare-to", "compare_to", default=None, metavar="A", help="html: add the comparison of the report's results (less A's runs) as B against A, a results folder, device, run id or study (as `qtui compare` takes it).")
def report(results_dirs: tuple[str, ...], fmt: str, model: str | None, framework: str | None, precision: str | None, scenario: str | None, device: str | None, executed: bool, delta: bool, efficiency: bool, output: str | None, markdown: bool, compare_to: str | None) -> None:
    """Tabulate saved results (with speed-up over the matching FP32 run), from one results
    folder or several (devices side by side). Damaged result files are skipped with a warning on
    stderr."""
    from qtui.core.model_source import model_matches
    from qtui.core.run_table import table_rows, to_csv, to_markdown
    from qtui.core.study_tables import study_markdown
    from qtui.core.text import plural

    if compare_to is not None and fmt != "html":
        _fail_input(f"--compare-to: only with --format html (not {fmt}); `qtui compare` prints the comparison alone")
    pool = _load_pool(results_dirs)
    chosen = _device_filter([
        r for r in pool
        if (model is None or model_matches(r.profile.model, model))
        and (framework is None or r.profile.framework == framework)
        and (precision is None or r.profile.precision == precision)
        and (scenario is None or r.profile.scenario == scenario)
    ], device)
    filters = [f"--{k} {v}" for k, v in (("model", model), ("framework", framework), ("precision", precision), ("scenario", scenario), ("device", device)) if v]
    chosen, pool, flag_lines = _flag_devices(chosen, pool, relabel=fmt in ("table", "study", "markdown"))
    if not chosen:
        from qtui.core.paths import results_dir

        where = ", ".join(for_terminal(d) for d in results_dirs) or for_terminal(results_dir())
        what = f"match {' '.join(filters)}" if filters and pool else "are saved"
        click.echo(f"qtui: no results {for_terminal(what)} ({plural(len(pool), 'result')} in {where})", err=True)
        if fmt == "table" and output is None:
            return
    if fmt == "table" and output is None:
        _print_table(chosen, pool)
        _echo_lines(flag_lines)
        return
    rows = table_rows(chosen, pool)
    written = plural(len(rows), "row")
    if fmt == "study" and output is None and not markdown and _stdout_is_terminal():
        from qtui.core.study_tables import study_tables

        _print_study_tables(study_tables(chosen, pool, executed=executed, delta=delta, efficiency=efficiency), pool, _saved_profiles(results_dirs))
        _echo_lines(flag_lines)
        return
    if fmt == "study":
        from qtui.core.explain import offline

        saved = offline.summaries(_saved_profiles(results_dirs))
        text = study_markdown(chosen, pool, executed=executed, delta=delta, efficiency=efficiency, saved=saved)
    elif fmt == "html":
        from qtui.compare_cmd import report_comparison
        from qtui.core.report_html import CHARTS_HINT, charts_available, render_html

        comparison = None if compare_to is None else report_comparison(compare_to, chosen, results_dirs)
        text = render_html(chosen, pool, comparison=comparison, explained=_saved_profiles(results_dirs))
        written = f"the HTML report of {plural(len(rows), 'result')}"
        if not charts_available():
            click.echo(f"qtui: no charts in the HTML report. {CHARTS_HINT}", err=True)
    elif fmt == "csv":
        text = to_csv(rows)
    elif fmt in ("percentiles", "latencies"):
        text = _latency_export(fmt, chosen, results_dirs)
        written = "the latencies" if fmt == "latencies" else written
    elif fmt == "json":
        text = json_text([r.to_dict() for r in chosen])
    else:  # markdown, and table written to a file
        text = to_markdown(rows)
    if flag_lines and fmt in ("table", "study", "markdown"):
        text += "\n" + "\n\n".join(flag_lines) + "\n"
    elif flag_lines:  # a format read by programs: the flags on stderr
        _echo_lines(flag_lines, err=True)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail_input(for_terminal(f"--output {output}: {exc.strerror or exc}"))
        click.echo(f"wrote {written} to {for_terminal(output)}", err=True)
    else:
        click.echo(for_terminal(text, multiline=True), nl=False)


def _flag_devices(chosen: list[Any], pool: list[Any], relabel: bool) -> tuple[list[Any], list[Any], list[str]]:
    """The devices among `chosen` whose runs disagree with the others' (`qtui.core.device_flags`):
    (chosen, pool) with their label marked when `relabel` (the tables), and the notes saying why."""
    from qtui.core.device_flags import flag_devices, flag_notes, mark

    flags = flag_devices(chosen)
    if flags and relabel:
        copies = mark(pool + chosen, flags)
        chosen, pool = [copies.get(id(r), r) for r in chosen], [copies.get(id(r), r) for r in pool]
    return chosen, pool, flag_notes(flags)


def _echo_lines(lines: list[str], err: bool = False) -> None:
    for line in lines:
        click.echo(for_terminal(line), err=err)


def _latency_export(fmt: str, chosen: list[Any], results_dirs: tuple[str, ...]) -> str:
    """`report --format percentiles|latencies` (`qtui.core.raw_latencies`)."""
    from qtui.core import raw_latencies as raw
    from qtui.core.identity import device_label
    from qtui.core.paths import results_dir

    if fmt == "percentiles":
        return raw.to_csv_text(raw.PERCENTILE_COLUMNS, raw.percentile_rows(chosen, device_label))
    roots = [Path(d) for d in results_dirs] or [results_dir()]
    rows = raw.latency_rows(chosen, roots, lambda msg: click.echo(for_terminal(f"qtui: {msg}"), err=True))
    return raw.to_csv_text(("run_id", "query", "latency_us"), rows)


class _Percent(click.FloatRange):
    """A percentage 0-1000 that is a finite number (FloatRange lets NaN through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


@main.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--results-dir", "results_dirs", multiple=True, type=click.Path(exists=True, file_okay=False), help="Where to look up run ids, devices and studies (A/B that are not folders); several allowed. Default: the results folder.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json", "html"]), default="table", help="html: one self-contained page (use -o).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to a file instead of stdout (not with the table).")
@click.option("--fail-on-regression", "fail_pct", type=_Percent(0, 1000), default=None, metavar="PCT", help="Exit 1 when any cell of B is slower than A by more than PCT % with 95 % confidence (a CI guard).")
def compare_cmd(a: str, b: str, results_dirs: tuple[str, ...], fmt: str, output: str | None, fail_pct: float | None) -> None:
    """Did it get faster? Compare B against A per model × framework × precision × scenario: the
    time ratio B/A with a 95 % interval and a verdict (faster, slower, no difference), what
    differs between them, and the geometric mean. A and B are each a results folder, a run id,
    a device label or a study's name (looked up in --results-dir)."""
    from qtui.compare_cmd import run_compare

    run_compare(a, b, results_dirs, fmt, fail_pct, output)


class Budget(click.FloatRange):
    """A quality budget: a finite number within its range (click's FloatRange lets NaN through:
    every comparison with NaN is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number in the range {self.min:g}-{self.max:g}.", param, ctx)
        return number


#: `qtui recommend`'s default budgets, the same as qtui.core.recommend's DEFAULT_* (tested):
#: written here so that `qtui --help` imports nothing heavy.
BUDGET_DEFAULTS = {"top1_drop": 1.0, "sqnr_db": 20.0, "agreement_pct": 70.0}


@main.command("recommend")
@click.option("--results-dir", "results_dirs", multiple=True, type=click.Path(exists=True, file_okay=False), help=_RESULTS_DIRS_HELP)
@click.option("--model", type=MODEL_FILTER, default=None, help="Only this model (default: every model measured).")
@click.option("--scenario", type=SCENARIO_FILTER, default=None, help="Only this scenario (default: every scenario measured).")
@click.option("--device", default=None, help=_DEVICE_FILTER_HELP)
@click.option("--budget-top1-drop", "top1_drop", type=Budget(0, 100), default=BUDGET_DEFAULTS["top1_drop"], show_default=True, metavar="PCT", help="Largest top-1 drop versus FP32, in points (with labelled data; 0-100).")
@click.option("--budget-sqnr-db", "sqnr_db", type=Budget(0, 200), default=BUDGET_DEFAULTS["sqnr_db"], show_default=True, metavar="DB", help="Smallest SQNR of the logits versus FP32 (fidelity evidence; 0-200 dB: below 0 the noise would outweigh the signal).")
@click.option("--budget-agreement", "agreement", type=Budget(0, 100), default=BUDGET_DEFAULTS["agreement_pct"], show_default=True, metavar="PCT", help="Smallest centred top-1 agreement with FP32, in % (fidelity evidence; 0-100).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def recommend_cmd(results_dirs: tuple[str, ...], model: str | None, scenario: str | None, device: str | None, top1_drop: float, sqnr_db: float, agreement: float, as_json: bool) -> None:
    """The fastest framework × precision per model and scenario (and device) whose quality stays
    within budget: top-1 drop versus FP32 with labelled data, else fidelity (SQNR, centred
    agreement) from accuracy-mode runs; FP32 needs none. Says which evidence it rests on, the
    runner-up, the speed-up with its 95 % interval, and what was not measured."""
    from qtui.core.model_source import model_matches
    from qtui.core.recommend import Budgets, recommend, recommendations_text

    pool = _load_pool(results_dirs)
    chosen = _device_filter([
        r for r in pool
        if (model is None or model_matches(r.profile.model, model)) and (scenario is None or r.profile.scenario == scenario)
    ], device)
    recs = recommend(chosen, pool, Budgets(top1_drop, sqnr_db, agreement / 100))
    if not recs:
        where = ", ".join(results_dirs) or "the results folder"
        click.echo(for_terminal(f"qtui: no ok or INVALID performance runs to recommend from in {where}: run a study first"), err=True)
        sys.exit(EXIT_FAILED)
    flag_lines = _flag_devices(chosen, pool, relabel=False)[2]
    if as_json:
        click.echo(json_text([r.to_dict() for r in recs]))
        _echo_lines(flag_lines, err=True)
    else:
        click.echo(for_terminal(recommendations_text(recs), multiline=True), nl=False)
        _echo_lines(flag_lines)


def _profile_from_args(profile: str | None, assignments: tuple[str, ...], model: str | None, framework: str | None, precision: str | None) -> Any:
    from qtui.core.profile import ProfileError, RunProfile, apply_overrides

    extra = [f"{k}={v}" for k, v in (("model", model), ("framework", framework), ("precision", precision)) if v]
    if profile:
        return _load_profile(profile, (*assignments, *extra))
    try:
        return apply_overrides(RunProfile(), [*assignments, *extra])
    except ProfileError as exc:
        _fail_input(str(exc))


@main.command()
@click.argument("profile", required=False, type=click.Path(dir_okay=False))
@click.option("--model", type=ModelValue(), default=None, help=" | ".join(MODELS) + " | a model file (.onnx, .tflite) | module:factory")
@click.option("--framework", type=FRAMEWORK_FILTER, default=None, help="onnxruntime | openvino | tflite | torch")
@click.option("--precision", type=PRECISION_FILTER, default=None, help="fp32 | fp16 | int8_dynamic | int8_static")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE")
def prepare(profile: str | None, model: str | None, framework: str | None, precision: str | None, assignments: tuple[str, ...]) -> None:
    """Prepare (export/quantize) an artifact without running it: from PROFILE (every [sweep]
    combination) or from --model/--framework/--precision on the default profile."""
    from qtui.core.model_source import model_label
    from qtui.core.prepare.for_profile import prepare_only
    from qtui.core.profile import expand_sweep

    base = _profile_from_args(profile, assignments, model, framework, precision)
    _check_sources(expand_sweep(base))
    _refuse_unusable_dirs(None, results=False)
    _refuse_bad_data([p for p in expand_sweep(base) if p.precision == "int8_static"])
    printer = _ProgressPrinter(sys.stderr)
    failed = False
    # Preparation runs in this (the main) thread: SIGTERM and SIGHUP interrupt it like Ctrl-C,
    # so its staging folder is removed on the way out instead of left in the cache.
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in CANCEL_SIGNALS if sig != signal.SIGINT}
    try:
        for prof in expand_sweep(base):
            try:
                artifact, hit = prepare_only(prof, printer)
            except Exception as exc:  # user-facing failure
                click.echo(f"qtui: {for_terminal(model_label(prof.model))} {prof.framework} {prof.precision}: {for_terminal(exc)}", err=True)
                failed = True
                continue
            click.echo(f"{'cached' if hit else 'prepared'}: {for_terminal(model_label(prof.model))} {prof.framework} {prof.precision} → {for_terminal(artifact.path)} ({artifact.size_bytes / 1e6:.1f} MB)")
    except KeyboardInterrupt:
        _echo_err("\nqtui: interrupted: nothing of the unfinished preparation is kept")
        sys.exit(EXIT_INTERRUPTED)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        sys.exit(EXIT_FAILED)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _StudyPrinter(_ProgressPrinter):
    """A run's events as `qtui run` prints them, plus one line per study step: what is done,
    what is left, and the time left once a run has been timed."""

    def _print(self, event: Any) -> None:
        from qtui.core import events as ev
        from qtui.core.text import format_duration

        if not isinstance(event, ev.StudyStep):
            super()._print(event)
            return
        if event.phase == "done":
            return
        self._newline()
        eta = f", ~{format_duration(event.eta_s, 0)} left" if event.eta_s else ""
        self.stream.write(f"[{event.index}/{event.total}] {event.phase} {for_terminal(event.label)}{eta}\n")
        self.stream.flush()


@main.command()
@click.argument("profile", type=click.Path(dir_okay=False))
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override a profile key, as for `qtui run`.")
@click.option("--model", "models", multiple=True, type=MODEL_FILTER, help="Only these models (repeatable).")
@click.option("--framework", "frameworks", multiple=True, type=FRAMEWORK_FILTER, help="Only these frameworks (repeatable).")
@click.option("--precision", "precisions", multiple=True, type=PRECISION_FILTER, help="Only these precisions (repeatable).")
@click.option("--scenario", "scenarios", multiple=True, type=SCENARIO_FILTER, help="Only these scenarios (repeatable).")
@click.option("--repeats", type=click.IntRange(1, 100), default=None, help="Runs per combination (default: the profile's [study] repeats, else 1).")
@click.option("--force", is_flag=True, help="Measure every combination again, even those already measured here.")
@click.option("--device", default=None, help="A label for this machine in results and side-by-side tables (default: the profile's device).")
@click.option("--cooldown", "cooldown_c", type=click.FloatRange(0, 120), default=None, help="Before each run wait until the CPU is below this many °C (0: never; default: 60 on a Raspberry Pi).")
@click.option("--results-dir", type=click.Path(file_okay=False), default=None, help="Where results are saved and read.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--markdown", is_flag=True, help="End with the study tables in Markdown even on a terminal.")
def study(profile: str, assignments: tuple[str, ...], models: tuple[str, ...], frameworks: tuple[str, ...], precisions: tuple[str, ...], scenarios: tuple[str, ...], repeats: int | None, force: bool, device: str | None, cooldown_c: float | None, results_dir: str | None, quiet: bool, markdown: bool) -> None:
    """Run a study: PROFILE's models × frameworks × precisions × scenarios (its [sweep], any
    subset by the filters), each `repeats` times. Every artifact is prepared first, then the
    combinations are measured; run it again after an interruption and it measures only what is
    missing. Ends with the study table and the time spent preparing and measuring."""
    from dataclasses import replace

    from qtui.core.catalog import unavailable_reason
    from qtui.core.study import StudyLockError, StudyOptions, plan, run_study, study_summary
    from qtui.core.study_tables import study_markdown
    from qtui.core.text import plural

    prof = _load_profile(profile, assignments)
    _check_sources([prof])
    if device is not None:
        from qtui.core.profile import check_device

        problem = check_device(device, "--device")
        if problem:
            _fail_input(problem)
    options = StudyOptions(
        repeats=repeats, force=force, models=models, frameworks=frameworks, precisions=precisions,
        scenarios=scenarios, results_root=Path(results_dir) if results_dir else None, device=device,
        cooldown_below_c=cooldown_c,
    )
    cells = plan(prof, options)
    if not cells:
        _fail_input("no combination of the profile matches the filters")
    # per model: a built-in's cell may need torch where a user's ONNX file's does not
    unavailable = {(c.model, c.framework, c.precision): unavailable_reason(c.framework, c.precision, c.model) for c in cells}
    skipped = {k: v for k, v in unavailable.items() if v}
    from qtui.core.model_source import model_label

    several = len({c.model for c in cells}) > 1

    def cell_name(model: str, fw: str, pr: str) -> str:
        return f"{for_terminal(model_label(model))} {fw} {pr}" if several else f"{fw} {pr}"

    if len(skipped) == len(unavailable):
        _fail_input("nothing in this study can run here:\n  " + "\n  ".join(
            f"{f} {p}: {r}" for (f, p), r in {(f, p): r for (_, f, p), r in skipped.items()}.items()))
    for (model, fw, pr), reason in skipped.items():
        _echo_err(f"qtui: not measured here: {cell_name(model, fw, pr)}: {reason}")
    options = replace(options, skip=tuple(skipped))
    runnable = plan(prof, options)
    _refuse_threads_over_cores(runnable)
    _refuse_unusable_dirs(results_dir)
    _refuse_bad_data(runnable)
    _pin_streams()
    printer = _StudyPrinter(_err(), quiet=quiet)
    resolved = options.resolved(prof)
    n_runs = len(runnable) * (resolved.repeats or 1)
    if resolved.adaptive:
        least = min(resolved.min_repeats or 1, resolved.repeats or 1)
        _echo_err(
            f"study {for_terminal(prof.name)}: {plural(len(runnable), 'combination')} × "
            f"{least}–{resolved.repeats} repeats (more while a cell's 95 % interval is wider than "
            f"{(resolved.target_width or 0) * 100:g} % of its figure) = {len(runnable) * least}–{n_runs} runs"
        )
    else:
        _echo_err(
            f"study {for_terminal(prof.name)}: {plural(len(runnable), 'combination')} × "
            f"{plural(resolved.repeats or 1, 'repeat')} = {plural(n_runs, 'run')}"
        )
    box: dict[str, Any] = {}

    def target() -> None:
        box["report"] = run_study(prof, options, printer, signals.stop)

    with _CancelSignals(threading.Event()) as signals:
        try:
            _interruptible(target, signals, "the study")
        except StudyLockError as exc:  # another study on this folder: refused before any work
            _fail_input(for_terminal(str(exc)))
        report = box.get("report")
        if report is None:
            sys.exit(EXIT_FAILED)
        try:
            with contextlib.redirect_stdout(_out()):
                measured = [r for r in report.results if r.status in ("ok", "invalid")]
                if measured and not markdown and _stdout_is_terminal():
                    from qtui.core.study_tables import study_tables

                    _print_study_tables(study_tables(measured, measured + report.quality_results), measured + report.quality_results)
                elif measured:
                    click.echo(for_terminal(study_markdown(measured, measured + report.quality_results), multiline=True), nl=False)
            for cell in report.prepare_failures:
                _echo_err(f"qtui: not prepared: {cell.label}: {for_terminal(cell.prepare_error or '')}")
            for r in report.quality_results + report.results:
                if r.status == "failed" or report.is_unsaved(r):
                    _echo_err(f"qtui: {r.status}: {r.run_id}: {for_terminal(r.message)}")
            for r in report.unsaved:
                _echo_err(f"qtui: error: result {r.run_id} NOT saved (its message says why): what is printed above is its only copy")
            _echo_err(f"study: {study_summary(report)}")
        except OSError:
            pass
        if report.cancelled or signals.received:
            _echo_err("qtui: study interrupted: run the same command again to measure what is missing")
            _exit_interrupted()
    if report.runs_failed or report.quality_failed or report.prepare_failures:
        sys.exit(EXIT_FAILED)


def _announce_cancel(signals: _CancelSignals, cancelling: str) -> None:
    """The one line that says a signal is cancelling the work, and how to exit at once."""
    name = signal.Signals(signals.received[0]).name if signals.received else "SIGINT"
    if name == "SIGINT":
        _echo_err(f"\nqtui: {cancelling} (Ctrl-C again to exit at once)…")
    else:
        # a repeated SIGHUP counts once (a hang-up delivers it twice): only SIGINT or
        # SIGTERM end the process at once (`_CancelSignals`)
        again = "SIGINT or SIGTERM" if name == "SIGHUP" else f"{name} again"
        _echo_err(f"\nqtui: {name} received: {cancelling} ({again} to exit at once)…")


def _interruptible(target: Any, signals: _CancelSignals, what: str = "") -> Any:
    """`target()` in a worker thread while the main thread waits for it, so that Ctrl-C,
    SIGTERM or SIGHUP set `signals.stop` (the worker then cancels cleanly); returns its value.
    `what` names what is cancelled in the message ("the study"; default: the run)."""
    finished = threading.Event()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            box["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=work, name="qtui-run", daemon=True).start()
    stop = signals.stop
    announced = False
    cancelling = f"cancelling {what}" if what else "cancelling"
    # Wait on an Event, not Thread.join: a KeyboardInterrupt inside join() can leave the
    # thread looking dead while it still runs (CPython gh-90882).
    while not finished.is_set():
        try:
            finished.wait(0.2)
        except KeyboardInterrupt:  # only when the handlers could not be installed
            if stop.is_set():
                _echo_err("\nqtui: interrupted twice, exiting now")
                os._exit(EXIT_INTERRUPTED)
            stop.set()
        if stop.is_set() and not announced:
            announced = True
            _announce_cancel(signals, cancelling)
    if stop.is_set() and not announced:  # the work ended within one wait after the signal
        _announce_cancel(signals, cancelling)
    if "error" in box:
        raise box["error"]
    return box.get("value")


@main.group()
def bundle() -> None:
    """Move prepared artifacts between machines (prepare on a laptop, run on a Pi)."""


@bundle.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("profiles", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--model", type=ModelValue(), default=None, help="A built-in, or your model file (.onnx, .tflite) or module:factory.")
@click.option("--framework", type=FRAMEWORK_FILTER, default=None)
@click.option("--precision", type=PRECISION_FILTER, default=None)
@click.option(
    "--for", "for_machine", type=click.Choice(["aarch64", "x86_64", "x86_64-vnni"]), default=None,
    help="Prepare PROFILES' artifacts for this kind of CPU (default: this machine's): the recipes that "
    "depend on it (ONNX Runtime INT8 static, PyTorch INT8) are the target's.",
)
def bundle_export(
    file: str, profiles: tuple[str, ...], model: str | None, framework: str | None, precision: str | None, for_machine: str | None
) -> None:
    """Write FILE (.tar.gz) with the artifacts of PROFILES (prepared first if needed), or every
    cached artifact matching --model/--framework/--precision."""
    from qtui.core.bundle import (
        BundleError,
        BundleWriteError,
        describe,
        export_bundle,
        select_artifacts,
    )
    from qtui.core.model_source import model_label
    from qtui.core.prepare.for_profile import prepare_only
    from qtui.core.prepare.target import NAMED, preparing_for
    from qtui.core.profile import expand_sweep
    from qtui.core.text import plural

    chosen = []
    if for_machine is not None and not profiles:
        _fail_input("--for needs PROFILES: it prepares their artifacts for that CPU (a cached artifact was made for the machine that made it)")
    if profiles:
        printer = _ProgressPrinter(sys.stderr)
        loaded = [one for path in profiles for one in expand_sweep(_load_profile(path, ()))]
        _check_sources(loaded)
        for path in profiles:
            for prof in expand_sweep(_load_profile(path, ())):
                try:
                    with preparing_for(NAMED[for_machine] if for_machine is not None else None):
                        artifact, _ = prepare_only(prof, printer)
                except Exception as exc:
                    click.echo(f"qtui: {for_terminal(model_label(prof.model))} {prof.framework} {prof.precision}: {for_terminal(exc)}", err=True)
                    sys.exit(EXIT_FAILED)
                chosen.append(artifact)
    else:
        from qtui.core.model_source import ModelSourceError

        try:
            chosen = select_artifacts(model, framework, precision)
        except OSError as exc:  # an unusable cache folder
            _fail_input(str(exc))
        except ModelSourceError as exc:  # --model names a file that cannot be read
            _fail_input(f"--model: {exc}")
    try:
        out = export_bundle(file, chosen)
    except BundleWriteError as exc:  # a full disk: the export failed, the input was fine
        _echo_err(f"qtui: {exc}")
        sys.exit(EXIT_FAILED)
    except BundleError as exc:
        _fail_input(str(exc))
        return
    for a in chosen:
        click.echo(f"  {for_terminal(describe(a.meta))}")
    click.echo(f"wrote {plural(len(chosen), 'artifact')} to {for_terminal(out)} ({out.stat().st_size / 1e6:.1f} MB)")


@bundle.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
def bundle_import(file: str) -> None:
    """Import the artifacts of a bundle FILE into this machine's cache."""
    from qtui.core.bundle import BundleError, import_bundle

    try:
        imported = import_bundle(file)
    except BundleError as exc:
        # one line, and no terminal control sequences from the bundle's text
        _fail_input(for_terminal(exc))
        return
    for item in imported:
        click.echo(f"  {for_terminal(item.status)}: {for_terminal(item.description)}")
        for w in item.warnings:
            click.echo(f"    warning: {for_terminal(w)}")
    click.echo(f"{sum(i.status == 'imported' for i in imported)} imported, {sum(i.status != 'imported' for i in imported)} already present")


@bundle.command("list")
def bundle_list() -> None:
    """List the prepared artifacts in this machine's cache."""
    from qtui.core.bundle import describe, select_artifacts

    try:
        artifacts = select_artifacts()
    except OSError as exc:  # an unusable cache folder
        _fail_input(str(exc))
    for a in artifacts:
        origin = f"  [imported from {for_terminal(a.meta['imported_from'])}]" if a.meta.get("imported_from") else ""
        click.echo(f"{for_terminal(a.directory.name)}  {for_terminal(describe(a.meta))}  {a.size_bytes / 1e6:.1f} MB{origin}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--model", default=None, help="What can run here for this model: a built-in name, an .onnx or .tflite file, or module:factory.")
def doctor(as_json: bool, model: str | None) -> None:
    """What is installed, the CPU features that decide INT8/FP16 speed, and what can run here."""
    from qtui.core.catalog import FRAMEWORK_TITLES, PRECISION_TITLES, matrix
    from qtui.core.environment import capture_environment, describe_isa
    from qtui.core.frameworks import TABLE
    from qtui.core.model_source import ModelSourceError, inspect_cached, source_kind
    from qtui.core.text import one_line

    if model is not None:
        kind = source_kind(model)
        if kind == "unknown":
            _fail_input(f"--model: {one_line(model)} is not one of {', '.join(MODELS)}, the path of an .onnx or .tflite file or a package.module:factory")
        if kind in ("onnx", "tflite"):
            try:
                inspect_cached(model)
            except ModelSourceError as exc:
                _fail_input(str(exc))
        if kind == "entry":  # its files, found without running its code
            from qtui.core.model_source_entry import locate

            try:
                locate(model)
            except ModelSourceError as exc:
                _fail_input(str(exc))
    env = capture_environment(frameworks=[name for f in TABLE for name in (f.id, *f.tools)])
    combos = matrix(model)
    from qtui.core.model_table import TABLE as MODEL_TABLE

    if as_json:
        listed = [{"id": m.id, "title": m.title, "checkpoint_url": m.checkpoint_url} for m in MODEL_TABLE]
        click.echo(json.dumps({"environment": env, "models": listed, "combinations": [c.__dict__ for c in combos]}, indent=2))
        return
    # what /proc, sysfs and the device tree say is file text too: each line through the sink
    say = lambda line: click.echo(for_terminal(line))  # noqa: E731
    say(f"qtui {__version__} on {env.get('board_model') or env.get('cpu_model') or env.get('machine')}")
    say(f"  OS: {env.get('os')}  Python {env.get('python', {}).get('version')}")
    say(f"  cores: {env.get('cores_logical')} logical / {env.get('cores_physical')} physical")
    say(f"  ISA: {describe_isa(env)}")
    if env.get("governor"):
        say(f"  governor: {env['governor']}")
    if env.get("temperature_c") is not None:
        say(f"  temperature: {env['temperature_c']} °C")
    for w in env.get("warnings", []):
        say(f"  warning: {w}")
    say("frameworks:")
    for name, version in env.get("frameworks", {}).items():
        say(f"  {name:<18} {version or 'not installed'}")
    say("models: " + ", ".join(f"{m.title} ({m.id})" for m in MODEL_TABLE))
    say("what can run here" + (f" for model {labels.title(model)}:" if model else ":"))
    for c in combos:
        mark = "yes" if c.available else "no "
        say(f"  {mark} {FRAMEWORK_TITLES[c.framework]:<16} {PRECISION_TITLES[c.precision]:<13} {c.reason}")


def _add_fleet() -> None:
    """`qtui fleet` (qtui.fleet: Ansible is imported only when a fleet command runs)."""
    from qtui.fleet.cli import fleet

    main.add_command(fleet)


_add_fleet()


if __name__ == "__main__":  # pragma: no cover
    main()


def _csv_list(value: str | None, allowed: tuple[str, ...], option: str) -> list[str]:
    if not value:
        return []
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad:
        _fail_input(f"{option} {', '.join(bad)}: unknown; allowed: {', '.join(allowed)}")
    return items


@main.command("explain")
@click.argument("profile", required=False, type=click.Path(dir_okay=False))
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override a profile key, as in `qtui run`.")
@click.option("--frameworks", default=None, help="Comma-separated frameworks to put side by side (default: the profile's).")
@click.option("--precisions", default=None, help="Comma-separated precisions to put side by side (default: the profile's).")
@click.option("--from", "from_path", type=click.Path(exists=True), default=None, help="Show saved profiles (a file or a folder of explain-*.json) without any runtime.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--runs", type=click.IntRange(1, 100), default=5, help="Profiled batch-1 inferences per artifact.")
@click.option("--width", type=click.IntRange(40, 400), default=80, help="Width of the text tables.")
def explain_cmd(profile: str | None, assignments: tuple[str, ...], frameworks: str | None, precisions: str | None, from_path: str | None, fmt: str, runs: int, width: int) -> None:
    """Why is INT8 (not) faster: a per-layer profile of the prepared artifact(s) from each
    runtime's own profiler (never a timed run), saved under the results folder's `explain/`."""
    from dataclasses import replace

    from qtui.core import explain as ex
    from qtui.core.explain import profiling, render
    from qtui.core.paths import results_dir

    if from_path is not None:
        try:
            profiles = ex.load_all(Path(from_path))
        except ex.ExplainError as exc:
            _fail_input(str(exc))
    else:
        if profile is None:
            _fail_input("explain: give a PROFILE to profile, or --from a saved profile")
        base = _load_profile(str(profile), assignments)
        if base.sweep is not None:
            from qtui.core.profile import expand_sweep

            # a sweep narrowed to one artifact (the command `recommend` suggests for a study's
            # cell) explains that artifact, not the profile's own framework and precision
            swept = expand_sweep(base)
            if len({(c.model, c.framework, c.precision) for c in swept}) == 1:
                base = swept[0]
        combos = [replace(base, framework=f, precision=p)
                  for f in (_csv_list(frameworks, FRAMEWORKS, "--frameworks") or [base.framework])
                  for p in (_csv_list(precisions, PRECISIONS, "--precisions") or [base.precision])]
        _check_sources(combos)
        _refuse_unavailable(combos)
        _refuse_unusable_dirs(None)
        profiles = []
        for prof in combos:
            try:
                made, saved = profiling.profile_and_save(prof, results_dir() / "explain", runs, _ProgressPrinter(sys.stderr))
            except KeyboardInterrupt:
                _echo_err("\nqtui: interrupted")
                sys.exit(EXIT_INTERRUPTED)
            except Exception as exc:  # user-facing failure of one artifact
                _echo_err(f"qtui: {prof.framework} {prof.precision}: {exc}")
                sys.exit(EXIT_FAILED)
            _echo_err(f"saved: {saved}")
            profiles.append(made)
    if fmt == "json":
        click.echo(json_text(render.as_json(profiles)), file=_out())
        return
    if fmt == "csv":
        import csv

        from qtui.core.sinks import for_csv

        writer = csv.writer(_out())
        if len(profiles) > 1:
            headers, rows = render.side_csv_rows(profiles)
        else:
            headers, rows = ["layer", "node", "op", "kernel", "precision", "time_us", "share", "role", "fused", "note"], [
                [r.layer, r.node, r.op, r.kernel, r.precision, r.time_us, r.share, r.role, r.fused, r.note] for r in profiles[0].rows]
        writer.writerow(headers)
        for row in rows:
            writer.writerow([for_csv(c) for c in row])
        return
    for prof in profiles:
        for line in render.wrapped(render.summary_lines(prof), width):
            click.echo(for_terminal(line), file=_out())
        click.echo("", file=_out())
    if len(profiles) > 1:
        lines = render.aligned(render.side_headers(profiles), render.side_rows(profiles), width)
        lines.extend(render.wrapped([render.LEGEND], width))
    else:
        lines = render.aligned(render.LAYER_HEADERS, render.layer_rows(profiles[0]), width)
    for line in lines:
        click.echo(for_terminal(line), file=_out())
