"""Text read from files reaches each sink only through the function made for it
(`qtui.core.sinks`): terminals get no control sequences, CSV no formulas, Markdown no HTML and
no broken tables; a command qtui suggests reproduces exactly the run it refers to, every
argument shell-quoted. Every string field of a result file is poisoned in turn.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qtui import cli
from qtui.cli import main
from qtui.core.commands import run_argv, run_command
from qtui.core.profile import ProfileError, RunProfile, apply_overrides, expand_sweep, load, loads
from qtui.core.profile_store import resolve, saved_dir
from qtui.core.recommend import Budgets, recommend
from qtui.core.results import RunResult, save_result
from qtui.core.sinks import for_csv, for_markdown, for_terminal, shell_command
from qtui.core.study import measured_identity
from tests.core.test_study_table import make_run


# -- suggested commands ------------------------------------------------------------------------------
def _cli_profiles(command: str) -> list[RunProfile]:
    """What `qtui run …` makes of `command`: split as a shell does, resolved as the CLI does."""
    argv = shlex.split(command)
    assert argv[:2] == ["qtui", "run"]
    name, rest = argv[2], argv[3:]
    assert all(flag == "--set" for flag in rest[::2]) and len(rest) % 2 == 0
    return expand_sweep(cli._load_profile(name, tuple(rest[1::2])))


def _edited_default() -> RunProfile:
    """The default profile edited (as the TUI or --set does) to OpenVINO INT8 static Offline."""
    return apply_overrides(load(resolve("quick")), [
        "framework=openvino", "precision=int8_static", "scenario=Offline",
    ])


def _unmeasured_study(root: Path, target: RunProfile, device: str | None = None) -> None:
    """An FP32 baseline and a faster `target` cell without an accuracy-mode run."""
    fp32 = make_run("fp32", "fp32", 100.0, framework=target.framework, scenario=target.scenario, device=device)
    fast = make_run("int8", target.precision, 300.0, framework=target.framework, scenario=target.scenario, device=device)
    fp32 = replace(fp32, profile=replace(target, precision="fp32"))
    fast = replace(fast, profile=target)
    for r in (fp32, fast):
        save_result(r, root / r.run_id)


def _to_measure(output: str) -> str:
    (line,) = [x for x in output.splitlines() if "to measure it:" in x]
    return line.split("to measure it:", 1)[1].strip()


def test_recommend_suggests_the_edited_profile_not_its_name(tmp_path: Path) -> None:
    """Issue 19.2: the default profile edited to OpenVINO INT8 static Offline; the suggested
    command, split and resolved as `qtui run` does, gives that profile in accuracy mode."""
    target = _edited_default()
    _unmeasured_study(tmp_path, target)
    out = CliRunner().invoke(main, ["recommend", "--results-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    command = _to_measure(out.output)
    assert command == (
        "qtui run quick --set framework=openvino --set precision=int8_static "
        "--set scenario=Offline --set mode=accuracy"
    )
    (got,) = _cli_profiles(command)
    assert measured_identity(got) == measured_identity(replace(target, mode="accuracy"))


CHANGES: list[tuple[str, ...]] = [
    ("framework=torch", "precision=int8_dynamic", "scenario=MultiStream"),
    ("model=vgg19", "threads=3", "batch_size=16", "warmup_queries=0"),
    ("weights.source=/data/my weights.pth", "weights.seed=7"),
    ("dataset.source=/data/val set", "dataset.count=0", "dataset.seed=3", "dataset.performance_sample_count=64", "dataset.calibration_count=32"),
    ("loadgen.preset=mlperf", "loadgen.min_duration_ms=1000", "loadgen.max_duration_ms=2000", "loadgen.min_query_count=64",
     "loadgen.max_query_count=128", "loadgen.expected_latency_ms=2.5", "loadgen.expected_qps=400", "loadgen.samples_per_query=4"),
    ('weights.source="true"', 'dataset.source=" spaced "'),
]


@pytest.mark.parametrize("changes", CHANGES, ids=lambda c: c[0].split("=")[0])
def test_every_measured_field_is_reproduced(changes: tuple[str, ...]) -> None:
    target = replace(apply_overrides(load(resolve("quick")), list(changes)), mode="accuracy")
    command = run_command(target)
    assert command is not None
    (got,) = _cli_profiles(command)
    assert measured_identity(got) == measured_identity(target)


def test_a_sweep_combination_narrows_its_sweep() -> None:
    for one in expand_sweep(load(resolve("paper-matrix")))[::7]:
        target = replace(one, mode="accuracy", threads=2)
        command = run_command(target)
        assert command is not None and command.startswith("qtui run paper-matrix ")
        (got,) = _cli_profiles(command)
        assert measured_identity(got) == measured_identity(target)
        assert got.name == target.name


def test_the_device_label_travels_with_the_command(tmp_path: Path) -> None:
    """A study run with --device records the label; the command records the same label, so its
    accuracy run is found for that device."""
    target = replace(_edited_default(), mode="accuracy")
    command = run_command(target, device="lab pi 4")
    assert command is not None and "--set 'device=lab pi 4'" in command
    (got,) = _cli_profiles(command)
    assert got.device == "lab pi 4"


def test_no_command_when_none_reproduces_the_run() -> None:
    """An old result with a value today's bounds refuse: no command, never an approximate one."""
    target = replace(load(resolve("quick")), mode="accuracy", threads=5000)
    assert run_argv(target) is None
    (answer,) = recommend(_results_for(target), budgets=Budgets(), unavailable=lambda f, p: None)
    text = "\n".join(answer.text_lines())
    assert "to measure it: run its profile again with mode = \"accuracy\"" in text
    assert "qtui run" not in text


def _results_for(target: RunProfile) -> list[RunResult]:
    fp32 = make_run("fp32", "fp32", 20.0)
    fast = make_run("int8", "int8_static", 5.0)
    return [replace(fp32, profile=replace(target, mode="performance", precision="fp32")),
            replace(fast, profile=replace(target, mode="performance", precision="int8_static"))]


HOSTILE_NAME = "quick; touch PWNED #"


def test_a_hostile_profile_name_is_quoted_and_harmless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A saved profile named `quick; touch PWNED #` (so the command must name it): the suggested
    line, run by bash with a stub `qtui`, passes exactly the argv and runs nothing else."""
    monkeypatch.setenv("QTUI_CONFIG_DIR", str(tmp_path / "config"))
    saved_dir().mkdir(parents=True)
    (saved_dir() / f"{HOSTILE_NAME}.toml").write_text(
        f'name = "{HOSTILE_NAME}"\nframework = "openvino"\nscenario = "Offline"\n', encoding="utf-8"
    )
    target = replace(loads(f'name = "{HOSTILE_NAME}"\nframework = "openvino"\nscenario = "Offline"\n'),
                     precision="int8_static", mode="accuracy")
    argv = run_argv(target)
    assert argv is not None and argv[2] == HOSTILE_NAME
    command = shell_command(argv)
    assert shlex.split(command) == argv
    (got,) = _cli_profiles(command)
    assert measured_identity(got) == measured_identity(target)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "qtui"
    stub.write_text("#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$ARGS_OUT\"\n", encoding="utf-8")
    stub.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    out_file = tmp_path / "args"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ARGS_OUT": str(out_file)}
    subprocess.run(["bash", "-c", command], cwd=work, env=env, check=True, timeout=60)
    assert out_file.read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv[1:]]
    assert list(work.iterdir()) == []


def test_shell_command_refuses_what_a_terminal_would_not_show() -> None:
    for bad in ("a\x1b]0;x\x07", "a\nb", "tab\there", "bidi\u202eevil"):
        with pytest.raises(ValueError):
            shell_command(["qtui", "run", bad])
    assert shlex.split(shell_command(["qtui", "run", "a b", "it's", "$(x)", "`y`", ""])) == ["qtui", "run", "a b", "it's", "$(x)", "`y`", ""]


# -- profile names are bounded like device labels ------------------------------------------------------
@pytest.mark.parametrize("name", ["x" * 65, "evil\x1b]0;title\x07", "two\nlines", "rtl\u202eeman", "zero\u200bwidth", " "])
def test_profile_names_are_bounded_like_device_labels(name: str) -> None:
    with pytest.raises(ProfileError) as info:
        loads(f"name = {json.dumps(name)}\n")
    assert info.value.key == "name"
    with pytest.raises(ProfileError):
        apply_overrides(RunProfile(), [f"name={json.dumps(name)}"])


def test_a_recorded_sweep_name_still_loads() -> None:
    long_base = "b" * 64
    (one,) = expand_sweep(apply_overrides(RunProfile(name=long_base), [
        'sweep.models=["densenet121"]', 'sweep.precisions=["int8_dynamic"]', 'sweep.scenarios=["SingleStream"]',
    ]))
    from qtui.core.profile import profile_from_dict, to_dict

    assert profile_from_dict(to_dict(one)).name == one.name and len(one.name) > 64


# -- the sink functions themselves --------------------------------------------------------------------
def test_for_csv_neutralises_formulas_but_keeps_numbers() -> None:
    for text in ("=1+1", "+1", "-1+cmd", "@SUM(A1)", "\t=1", "\r=1", "  =1", "=HYPERLINK(\"http://x\")"):
        out = for_csv(text)
        assert isinstance(out, str) and out.startswith("'"), text
    assert for_csv(-1.5) == -1.5 and for_csv(-3) == -3 and for_csv(None) is None and for_csv(True) is True
    assert for_csv("Intel Xeon") == "Intel Xeon"


def test_for_markdown_escapes_html_tables_and_links() -> None:
    out = for_markdown('<script>alert(1)</script> | <svg onload=x> a\\|b\nc ![i](http://x/t.png)')
    assert "<" not in out and ">" not in out
    assert re.search(r"(?<!\\)(?:\\\\)*\|", out) is None  # every | escaped (an odd run of \ before it)
    assert "\n" not in out and "](" not in out


def test_for_terminal_strips_sequences() -> None:
    assert for_terminal("a\x1b]0;title\x07b\x1b[2Jc\u202ed\x9b31me\nf") == "abcde f"
    assert for_terminal("a\nb", multiline=True) == "a\nb"


# -- every string field of a result file, poisoned ------------------------------------------------------
#: Terminal control (OSC title, CSI clear, 8-bit CSI, bidi override, BEL), a formula, HTML, a
#: Markdown table breaker and a link: what a result folder copied from elsewhere may hold.
PAYLOAD = (
    "=HYPERLINK(\"http://x\")\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\x07 <script>alert(1)</script>"
    "<svg onload=alert(2)> a|b\\|c\nd ![i](http://x/t.png)"
)
_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _pool() -> list[RunResult]:
    """FP32, a faster INT8 static with warnings (quality unmeasured), and a failed run."""
    fp32 = make_run("p-fp32", "fp32", 20.0, device="lab")
    int8 = make_run("p-int8", "int8_static", 5.0, device="lab")
    int8.environment["warnings"] = ["other processes kept the CPU busy"]
    int8.loadgen["invalid_reasons"] = ["reason"]
    int8.provenance.update(weights="seeded random", data="synthetic")
    failed = replace(make_run("p-fail", "int8_dynamic", 7.0, device="lab"), status="failed", message="it failed")
    return [fp32, int8, failed]


def _string_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, str):
        return [prefix]
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _string_paths(v, (*prefix, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _string_paths(v, (*prefix, i))]
    return []


_FIELDS = sorted({path for r in _pool() for path in _string_paths(r.to_dict())}, key=str)


def _poisoned(root: Path, path: tuple[Any, ...]) -> None:
    for r in _pool():
        data = r.to_dict()
        node = data
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else (node[part] if isinstance(node, list) and part < len(node) else None)
            if node is None:
                break
        else:
            if isinstance(node, dict) and path[-1] in node or isinstance(node, list) and path[-1] < len(node):
                node[path[-1]] = PAYLOAD
        folder = root / r.run_id
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(data), encoding="utf-8")


def _invoke(*args: str, stdout: bool = False) -> str:
    """What `qtui ARGS` prints: stdout and stderr, or (`stdout`) stdout alone."""
    out = CliRunner().invoke(main, list(args))
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    return out.stdout if stdout else out.output


def _markdown_ok(text: str) -> None:
    assert "<" not in text.replace("<br>", ""), text  # no raw tag: only qtui's own line breaks
    unescaped = re.compile(r"(?<!\\)(?:\\\\)*\|")
    tables: dict[int, int] = {}
    block = 0
    for line in text.splitlines():
        if not line.startswith("|"):
            block += 1
            continue
        tables.setdefault(block, len(unescaped.findall(line)))
        assert len(unescaped.findall(line)) == tables[block], line
    assert "](" not in text


def _csv_ok(text: str) -> None:
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")):
                float(cell)  # only a number may start so


@pytest.mark.parametrize("path", _FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_a_poisoned_field_reaches_no_sink_raw(tmp_path: Path, path: tuple[Any, ...]) -> None:
    _poisoned(tmp_path, path)
    root = str(tmp_path)
    study_all = ("--format", "study", "--executed", "--delta", "--efficiency")
    runs = {fmt: ("report", "--results-dir", root, "--format", fmt) for fmt in ("table", "markdown", "csv", "study")}
    runs |= {"study-all": ("report", "--results-dir", root, *study_all), "recommend": ("recommend", "--results-dir", root)}
    for name, args in runs.items():
        text = _invoke(*args)  # stdout and stderr (a skipped file's warning quotes it)
        assert _RAW_CONTROL.search(text) is None, (name, text)
    for name in ("markdown", "study", "study-all"):
        _markdown_ok(_invoke(*runs[name], stdout=True))
    _csv_ok(_invoke(*runs["csv"], stdout=True))
    exported = tmp_path / "out.csv"
    _invoke("report", "--results-dir", root, "--format", "csv", "-o", str(exported))
    _csv_ok(exported.read_text(encoding="utf-8"))


def test_the_poison_reaches_the_outputs_at_all(tmp_path: Path) -> None:
    """The test above would pass on outputs that never show the fields: the device label, the
    warning and the run id do show, cleaned."""
    for path in (("environment", "device"), ("environment", "warnings", 0), ("run_id",)):
        root = tmp_path / "_".join(map(str, path))
        _poisoned(root, path)
        table = _invoke("report", "--results-dir", str(root), "--format", "markdown", stdout=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table and "a\\|b\\\\\\|c d" in table
        text = _invoke("report", "--results-dir", str(root), "--format", "csv", stdout=True)
        assert "'=HYPERLINK" in text and "\x1b" not in text


def test_progress_and_log_lines_are_cleaned() -> None:
    from qtui.core import events as ev

    stream = io.StringIO()
    printer = cli._ProgressPrinter(stream)
    printer(ev.Preparing(step=PAYLOAD, fraction=0.5))
    printer(ev.Log(level="warning", text=PAYLOAD))
    assert _RAW_CONTROL.search(stream.getvalue()) is None and "evil" in stream.getvalue()


def test_doctor_and_bundle_list_clean_system_and_cache_text(monkeypatch: pytest.MonkeyPatch) -> None:
    from qtui.core import bundle, environment

    env = {"cpu_model": PAYLOAD, "os": PAYLOAD, "governor": PAYLOAD, "warnings": [PAYLOAD], "frameworks": {"onnxruntime": PAYLOAD}}
    monkeypatch.setattr(environment, "capture_environment", lambda **_: env)
    out = _invoke("doctor")
    assert "evil" in out and _RAW_CONTROL.search(out) is None

    class Fake:
        directory = Path(PAYLOAD.replace("/", "_"))
        meta = {"model": PAYLOAD, "framework": PAYLOAD, "precision": PAYLOAD, "weights": PAYLOAD, "imported_from": PAYLOAD}
        size_bytes = 1_000_000

    monkeypatch.setattr(bundle, "select_artifacts", lambda *a: [Fake()])
    out = _invoke("bundle", "list")
    assert "evil" in out and _RAW_CONTROL.search(out) is None


def test_a_title_setting_profile_name_is_refused_and_quoted_nowhere(tmp_path: Path) -> None:
    """Issue 20.1: a result whose `profile.name` sets the terminal's title and clears the screen
    (piped output kept the OSC sequence). A recorded profile is never edited, so the file is
    skipped as damaged, with a warning that quotes none of it raw; the other runs still count."""
    target = _edited_default()
    _unmeasured_study(tmp_path, target)
    hostile = replace(make_run("hostile", "int8_dynamic", 1.0), profile=replace(target, precision="int8_dynamic"))
    data = hostile.to_dict()
    data["profile"]["name"] = "quick\x1b]0;pwned\x07\x1b[2J\u202e"
    (tmp_path / "hostile").mkdir()
    (tmp_path / "hostile" / "result.json").write_text(json.dumps(data), encoding="utf-8")
    out = _invoke("recommend", "--results-dir", str(tmp_path))
    assert _RAW_CONTROL.search(out) is None
    assert "skipping damaged result" in out and "key 'name'" in out
    assert _to_measure(out).startswith("qtui run quick --set framework=openvino ")


def test_the_answer_views_recommend_command_is_quoted(tmp_path: Path) -> None:
    """The TUI's answer view names the `qtui recommend` command it matches: a results folder
    with spaces or shell syntax in its name comes out quoted, split back exactly."""
    from qtui.ui.screens.answer import recommend_command

    root = tmp_path / "my results; rm -rf ~ #"
    command = recommend_command(root, {"scenario": "Offline", "model": "mobilenet_v2"})
    assert shlex.split(command) == [
        "qtui", "recommend", "--results-dir", str(root), "--model", "mobilenet_v2", "--scenario", "Offline",
    ]
    assert "\x1b" not in recommend_command(tmp_path / "x\x1b]0;t\x07", {})
