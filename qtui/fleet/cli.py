"""`qtui fleet check | study | status | pull`: the command line of the fleet (see qtui.fleet).

Each command runs one shipped playbook over the user's inventory (qtui.fleet.engine) and prints
one table, one row per device, through the terminal sink: every cell comes from a device or from
Ansible and is shown as text (`for_terminal`, Rich `Text`), never as markup.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from pathlib import Path
from typing import Any

import click

from qtui.core.sinks import for_terminal, shell_command
from qtui.fleet.engine import FleetError, HostOutcome, run_playbook

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1

_INVENTORY = click.option("-i", "--inventory", required=True, type=click.Path(dir_okay=False), help="An Ansible inventory (INI or YAML): hosts, groups, qtui_command / qtui_home variables.")
_LIMIT = click.option("--limit", default=None, help="Only these hosts or groups (an Ansible pattern, e.g. pi4 or 'pi4:pi5').")
_FORKS = click.option("--forks", type=click.IntRange(1, 200), default=10, show_default=True, help="Devices worked on at once (Ansible's forks).")
#: The shorthand of each precision in the `can run` column.
_PREC_SHORT = {"fp32": "32", "fp16": "16", "int8_dynamic": "8d", "int8_static": "8s"}


def _fail_input(message: str) -> None:
    click.echo(f"qtui: error: {for_terminal(message)}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _run(playbook: str, inventory: str, limit: str | None, forks: int, extravars: dict[str, Any] | None = None) -> dict[str, HostOutcome]:
    try:
        outcomes = run_playbook(playbook, inventory, limit, extravars, forks)
    except FleetError as exc:
        _fail_input(str(exc))
        raise  # unreachable: _fail_input exits
    except ImportError:
        _fail_input("qtui fleet needs Ansible on this machine: pip install 'qtui[fleet]'")
        raise
    if not outcomes:
        _fail_input(f"-i {inventory}" + (f" --limit {limit}" if limit else "") + ": no device matches")
    return outcomes


def _table(headers: list[str], rows: list[list[str]], right: tuple[int, ...] = (), flex: int | None = None) -> None:
    """One Rich table of plain-text cells. Column `flex` (the long one) gives way when the
    terminal is narrow (cut with …); the others keep their width."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    cells = [[for_terminal(c) for c in row] for row in rows]
    widths = [max(len(header), *(len(r[n]) for r in cells)) for n, header in enumerate(headers)]

    def build() -> Table:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
        for n, header in enumerate(headers):
            table.add_column(header, justify="right" if n in right else "left", no_wrap=True, overflow="ellipsis", width=widths[n])
        for row in cells:
            table.add_row(*(Text(c) for c in row))
        return table

    table = build()
    over = console.measure(table, options=console.options.update_width(10**6)).maximum - console.width
    if flex is not None and over > 0:  # the long column gives way, the others keep their width
        widths[flex] = max(widths[flex] - over, len(headers[flex]), 8)
        table = build()
    console.print(table)


def _say(line: str) -> None:
    click.echo(for_terminal(line))


def _device_order(outcomes: dict[str, HostOutcome]) -> list[HostOutcome]:
    return [outcomes[k] for k in sorted(outcomes, key=str.casefold)]


@click.group()
def fleet() -> None:
    """Many devices from this machine through Ansible (needs qtui[fleet] here, qtui on each
    device): check them, start one study on all of them, follow it, bring the results back."""


# ----------------------------------------------------------------------------------------- check


def _gib(mb: Any) -> str:
    return f"{float(mb) / 1024:.1f}G" if isinstance(mb, (int, float)) else "?"


#: The firmware's throttling causes (qtui.core.environment.throttling), as `fleet check` shows them.
_THROTTLE_SHORT = {"under_voltage": "uv", "freq_capped": "cap", "throttled": "thr", "soft_temp_limit": "temp"}


def _throttled(flags: Any) -> str:
    """`no`, the causes set since boot (`uv,temp`; `!` before one that is on now), or `n/a`
    where the device cannot tell (no Raspberry Pi firmware)."""
    if not isinstance(flags, dict):
        return "n/a"
    causes = []
    for cause, short in _THROTTLE_SHORT.items():
        if flags.get(f"{cause}_now"):
            causes.append("!" + short)
        elif flags.get(f"{cause}_occurred"):
            causes.append(short)
    return ",".join(causes) or "no"


def check_rows(outcomes: dict[str, HostOutcome]) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """The `fleet check` tables: (device rows, can-run rows, notes about unreachable/failed
    devices)."""
    rows, grid, notes = [], [], []
    frameworks: list[str] = []
    doctors: dict[str, dict[str, Any]] = {}
    for out in _device_order(outcomes):
        if out.unreachable:
            rows.append([out.name, "–", "unreachable"] + ["–"] * 5)
            notes.append(f"{out.name}: unreachable: {out.unreachable}")
            continue
        facts = (out.results.get("facts") or {}).get("ansible_facts") or {}
        version = ((out.results.get("qtui version") or {}).get("stdout") or "").rsplit(" ", 1)[-1] or "?"
        doctor: dict[str, Any] = {}
        try:
            doctor = json.loads((out.results.get("doctor") or {}).get("stdout") or "")
        except ValueError:
            pass
        env = doctor.get("environment") or {}
        cpu = env.get("board_model") or env.get("cpu_model") or " ".join(str(p) for p in (facts.get("ansible_processor") or [])[-1:]) or "?"
        arch = facts.get("ansible_architecture") or env.get("machine") or "?"
        bits = facts.get("ansible_userspace_bits")
        disk = ((out.results.get("disk") or {}).get("stdout") or "").split()
        free_disk = f"{int(disk[3]) / 1024**2:.1f}G" if len(disk) > 3 and disk[3].isdigit() else "?"
        rows.append([
            out.name, version, f"failed: {cpu}" if out.failed else str(cpu), f"{arch}/{bits}" if bits else str(arch),
            _gib(facts.get("ansible_memfree_mb")), free_disk, _throttled(env.get("throttling")),
            str(sum(1 for c in doctor.get("combinations", []) if c.get("available"))) if doctor else "?",
        ])
        if out.failed:
            notes.append(f"{out.name}: failed: {out.failed}")
        if doctor:
            doctors[out.name] = doctor
            for c in doctor.get("combinations", []):
                if c.get("framework") not in frameworks:
                    frameworks.append(c.get("framework"))
    for name, doctor in doctors.items():
        cells = []
        for fw in frameworks:
            ok = [_PREC_SHORT.get(c["precision"], c["precision"]) for c in doctor.get("combinations", []) if c.get("framework") == fw and c.get("available")]
            cells.append(" ".join(ok) or "–")
        grid.append([name, *cells])
    return rows, [["device", *frameworks], *grid] if grid else [], notes


@fleet.command("check")
@_INVENTORY
@_LIMIT
@_FORKS
def check(inventory: str, limit: str | None, forks: int) -> None:
    """Per device: reachable, qtui version, board or CPU, OS bitness, free memory and disk,
    throttling (where the firmware says), and what can run there (`qtui doctor`'s grid)."""
    outcomes = _run("check.yml", inventory, limit, forks)
    rows, grid, notes = check_rows(outcomes)
    _table(["device", "qtui", "board / CPU", "arch/bits", "mem", "disk", "throttle", "run"], rows, right=(4, 5, 7), flex=2)
    if grid:
        _say("can run here (32 fp32, 16 fp16, 8d/8s int8 dynamic/static):")
        _table(grid[0], grid[1:])
    for note in notes:
        _say(note)
    if notes:
        sys.exit(EXIT_FAILED)


# ----------------------------------------------------------------------------------------- study


def profile_hash(text: bytes) -> str:
    """The name a profile is stored under on the devices: its content's SHA-256, shortened."""
    return hashlib.sha256(text).hexdigest()[:16]


@fleet.command("study")
@click.argument("profile", type=click.Path(dir_okay=False))
@_INVENTORY
@_LIMIT
@_FORKS
@click.option(
    "--push", "push", type=click.Choice(["auto", "all", "none"]), default="auto", show_default=True,
    help="What the devices are sent, prepared here (as `qtui bundle export` does) and imported there: auto, the artifacts a device cannot prepare itself (no torch, no converter); all, every artifact it does not have (the same bytes everywhere); none, nothing (each device prepares what it runs).",
)
@click.option("--push-bundle", is_flag=True, hidden=True, help="The same as --push all (earlier versions' flag).")
def study(profile: str, inventory: str, limit: str | None, forks: int, push: str, push_bundle: bool) -> None:
    """Start `qtui study PROFILE` on every device, detached (an Ansible asynchronous task), with
    its inventory name as the device label, and return; first, each device says which of the
    study's artifacts it has, can prepare or lacks, and what it lacks is prepared here and
    pushed there (--push). Run it again to continue: devices that finished are left alone,
    running ones are not disturbed, interrupted ones resume."""
    from qtui.core.profile import ProfileError, load
    from qtui.core.profile_store import ProfileNotFound, resolve

    try:
        path = resolve(profile)
        load(path)  # refused here, not on ten devices
    except (ProfileNotFound, ProfileError) as exc:
        _fail_input(str(exc))
    text = Path(path).read_bytes()
    digest = profile_hash(text)
    extravars: dict[str, Any] = {"profile_src": str(Path(path).resolve()), "profile_hash": digest}
    mode = "all" if push_bundle else push
    earlier: dict[str, HostOutcome] = {}
    pushes: dict[str, Any] = {}
    if mode != "none":
        earlier, pushes = _pushes(Path(path), inventory, limit, forks, extravars, mode)
        extravars["bundles"] = {name: str(p.bundle) for name, p in pushes.items() if p.bundle is not None}
    reachable = [name for name in pushes]
    outcomes = dict(earlier)
    if mode == "none" or reachable:
        outcomes.update(_run("study.yml", inventory, ":".join(reachable) if mode != "none" else limit, forks, extravars))
    rows, failed = [], False
    for out in _device_order(outcomes):
        state = ((out.results.get("state") or {}).get("stdout") or "").strip()
        sent = pushes.get(out.name)
        pushed = str(len(sent.artifacts)) if sent is not None and sent.artifacts and not out.unreachable and not out.failed else "–"
        if out.unreachable:
            rows.append([out.name, "unreachable", pushed, out.unreachable])
            failed = True
        elif out.failed:
            rows.append([out.name, "failed", pushed, out.failed])
            failed = True
        elif state == "finished":
            rows.append([out.name, "finished", pushed, "left alone"])
        elif state == "running":
            rows.append([out.name, "running", pushed, "already running, not disturbed"])
        else:
            rows.append([out.name, "started", pushed, f"qtui study (profile {digest})"])
    _table(["device", "study", "pushed", "detail"], rows, right=(2,), flex=3)
    for out in _device_order(outcomes):
        if out.name in pushes and not out.unreachable and not out.failed:
            _say(f"{out.name}: {pushes[out.name].summary()}")
    _say("follow it with: " + shell_command(["qtui", "fleet", "status", "-i", inventory]))
    if failed:
        sys.exit(EXIT_FAILED)


def _pushes(
    path: Path, inventory: str, limit: str | None, forks: int, extravars: dict[str, Any], mode: str
) -> tuple[dict[str, HostOutcome], dict[str, Any]]:
    """Ask each device what it lacks (needs.yml: the device's own `qtui fleet needs`) and
    prepare here what it is to be sent (qtui.fleet.push): (the devices that could not be asked,
    unreachable or failed; each reachable device's Push, its bundle exported)."""
    from qtui.fleet.push import export_pushes, plan_pushes

    asked = _run("needs.yml", inventory, limit, forks, extravars)
    answers: dict[str, dict[str, Any] | str] = {}
    lost: dict[str, HostOutcome] = {}
    for out in _device_order(asked):
        if out.unreachable or out.failed:
            lost[out.name] = out
            continue
        res = out.results.get("needs") or {}
        try:  # the answer is the last line (a warning may come before it)
            answer = json.loads(([""] + str(res.get("stdout") or "").strip().splitlines())[-1])
            answers[out.name] = answer if isinstance(answer, dict) else "not an answer"
        except ValueError:
            lines = [ln.strip() for ln in str(res.get("stderr") or "").splitlines() if ln.strip()]
            answers[out.name] = lines[-1] if lines else f"exit {res.get('rc')}"
    pushes = plan_pushes(path, answers, mode, _say)
    export_pushes(pushes)
    return lost, pushes


@fleet.command("needs", hidden=True)
@click.argument("profile", type=click.Path(dir_okay=False))
def needs(profile: str) -> None:
    """The device side of `fleet study` (run there by needs.yml): per artifact of PROFILE's
    study, whether this machine has it, can prepare it or lacks it, as JSON."""
    from qtui.core.profile import ProfileError
    from qtui.fleet.needs import device_needs

    try:
        answer = device_needs(Path(profile))
    except (ProfileError, OSError) as exc:
        _fail_input(f"{profile}: {exc}")
    click.echo(json.dumps(answer))


# ---------------------------------------------------------------------------------------- status

_STEP = re.compile(r"^\[(\d+)/(\d+)\]\s+(\S+)\s+(.*?)(?:, ~(.+) left)?$")


def status_rows(outcomes: dict[str, HostOutcome]) -> tuple[list[list[str]], list[str], bool]:
    """The `fleet status` table: (rows, notes with failed devices' log tails and devices whose
    qtui version differs from the others', any bad)."""
    from qtui.core.device_flags import FLAG_MARK, disagreeing

    rows, notes, bad = [], [], False
    versions: dict[str, set[str]] = {}
    for out in outcomes.values():
        text = (out.results.get("status") or {}).get("stdout") or ""
        line = next((ln for ln in text.partition("--- log")[0].splitlines() if ln.startswith("version ")), "")
        version = line.removeprefix("version ").rsplit(" ", 1)[-1].strip()
        if version and not (out.unreachable or out.failed):
            versions[out.name] = {version}
    flagged = disagreeing(versions)
    for out in _device_order(outcomes):
        if out.unreachable or out.failed:
            rows.append([out.name, "unreachable" if out.unreachable else "failed", "–", "–", "–"])
            notes.append(f"{out.name}: {out.unreachable or out.failed}")
            bad = True
            continue
        text = (out.results.get("status") or {}).get("stdout") or ""
        head, _, log = text.partition("--- log")
        fields = dict(line.split(" ", 1) for line in head.splitlines() if " " in line)
        state = fields.get("state", "none")
        step = _STEP.match(fields.get("step", "").strip())
        progress = f"{step.group(1)}/{step.group(2)}" if step else "–"
        left = (step.group(5) or "–") if step else "–"
        doing = f"{step.group(3)} {step.group(4)}" if step else "–"
        if state == "none":
            rows.append([out.name, "no study", "–", "–", "–"])
        elif state == "running":
            rows.append([out.name, "running", progress, left, doing])
        elif state == "rc 0":
            rows.append([out.name, "finished", f"{step.group(2)}/{step.group(2)}" if step else "–", "–", "–"])
        elif state.startswith("rc "):
            rows.append([out.name, f"failed (exit {state[3:]})", progress, "–", doing])
            notes.append(f"{out.name}: the device's log ends with:")
            notes += ["  " + line for line in log.strip().splitlines()[-8:]]
            bad = True
        else:
            rows.append([out.name, "interrupted", progress, "–", "`fleet study` again resumes it"])
        if out.name in flagged:
            rows[-1][0] = f"{out.name} {FLAG_MARK}"
        earlier = [_earlier(line) for line in head.splitlines() if line.startswith("earlier ")]
        if earlier:
            notes.append(f"{out.name}: earlier studies: " + ", ".join(earlier))
    notes += [f"{FLAG_MARK} {name}: qtui {flagged[name]}" for name in sorted(flagged, key=str.casefold)]
    return rows, notes, bad


def _earlier(line: str) -> str:
    """An earlier study's line of the status playbook ("earlier HASH STATE") as a note says it."""
    _, digest, state = (line.split(" ", 2) + ["", ""])[:3]
    words = {"rc 0": "finished", "running": "still running", "stopped": "interrupted"}
    return f"{digest} " + words.get(state, f"failed (exit {state[3:]})" if state.startswith("rc ") else state)


@fleet.command("status")
@_INVENTORY
@_LIMIT
@_FORKS
def status(inventory: str, limit: str | None, forks: int) -> None:
    """Per device, its fleet study: running (step done/total, time left, from the device's own
    study progress), finished, failed (with the end of its log), interrupted, unreachable."""
    rows, notes, bad = status_rows(_run("status.yml", inventory, limit, forks))
    _table(["device", "study", "step", "left", "doing"], rows, right=(2,), flex=4)
    for note in notes:
        _say(note)
    if bad:
        sys.exit(EXIT_FAILED)


def status_source(inventory: str, cancel: threading.Event | None = None) -> tuple[list[list[str]], list[str]]:
    """`fleet status`'s rows and notes for `inventory`: what the TUI's fleet view shows. Setting
    `cancel` (the view's worker, given up when the view closes) stops the Ansible run at once
    and raises FleetCancelled."""
    try:
        outcomes = run_playbook("status.yml", inventory, cancel=cancel)
    except ImportError:
        raise FleetError("qtui fleet needs Ansible on this machine: pip install 'qtui[fleet]'") from None
    rows, notes, _ = status_rows(outcomes)
    return rows, notes


@fleet.command("view")
@click.option("-i", "--inventory", default=None, type=click.Path(dir_okay=False), help="An Ansible inventory (default: the one the view used last; else it asks).")
@click.option("--every", type=click.FloatRange(5, 3600), default=30, show_default=True, metavar="SECONDS", help="Seconds between two refreshes.")
@click.option("--ansi", is_flag=True, help="Use the terminal's own 16 colours.")
def view(inventory: str | None, every: float, ansi: bool) -> None:
    """The TUI's fleet view: `fleet status` per device, refreshed in the background (r refreshes
    now, i chooses another inventory)."""
    from qtui.ui.screens.fleet import FleetApp

    if inventory is not None and not Path(inventory).is_file():
        _fail_input(f"-i {inventory}: no such inventory file")
    FleetApp(status_source, inventory, every, ansi).run()


# ------------------------------------------------------------------------------------------ pull


@fleet.command("pull")
@_INVENTORY
@click.option("--dest", required=True, type=click.Path(file_okay=False), help="Local folder: each device's results go into DEST/<inventory name>/.")
@_LIMIT
@_FORKS
def pull(inventory: str, dest: str, limit: str | None, forks: int) -> None:
    """Bring every device's finished runs into DEST/<device>/ (the runs not there yet, packed on
    the device into one archive, brought back with Ansible's fetch), ready for
    `qtui report --results-dir DEST/<device> ...`."""
    from qtui.core.device_flags import FLAG_MARK, flag_devices, flag_notes
    from qtui.core.results import load_results_dirs
    from qtui.fleet.pull import PullError, have_runs, unpack

    root = Path(dest).resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail_input(f"--dest {dest}: {exc.strerror or exc}")
    have = {p.name: have_runs(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    outcomes = _run("pull.yml", inventory, limit, forks, {"dest": str(root), "have": have})
    added: dict[str, int] = {}
    for out in _device_order(outcomes):
        archive = root / f".incoming-{out.name}.tar.gz"
        if archive.is_file():
            try:
                added[out.name] = unpack(archive, root / out.name)
            except PullError as exc:
                out.failed = out.failed or f"unpack: {exc}"
            finally:
                archive.unlink(missing_ok=True)

    rows, bad, dirs = [], False, []
    folders = [root / out.name for out in _device_order(outcomes) if (root / out.name).is_dir()]
    # what disagrees between the pulled devices: flagged here as in `report` over these folders
    flags = flag_devices(load_results_dirs(folders, warn=lambda msg: _say(f"qtui: {msg}")))
    for out in _device_order(outcomes):
        folder = root / out.name
        runs = len(list(folder.glob("*/result.json"))) if folder.is_dir() else 0
        if out.unreachable or out.failed:
            rows.append([out.name, "unreachable" if out.unreachable else "failed", str(runs), out.unreachable or out.failed or ""])
            bad = True
        else:
            rows.append([out.name, f"pulled {added.get(out.name, 0)} new", str(runs), str(folder)])
        if out.name in flags:
            rows[-1][0] = f"{out.name} {FLAG_MARK}"
        if runs:
            dirs.append(str(folder))
    _table(["device", "pull", "runs", "folder / reason"], rows, right=(2,), flex=3)
    for note in flag_notes(flags):
        _say(note)
    if dirs:
        _say("side by side: " + shell_command(["qtui", "report", "--format", "study", *[a for d in dirs for a in ("--results-dir", d)]]))
    if bad:
        sys.exit(EXIT_FAILED)
