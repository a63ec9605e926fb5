"""Import boundaries (the core never pulls in Textual/Rich; --help and doctor import no
framework), pinned installs (constraints.txt) and what makes CI fail (.ci/run, stubbed)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "onnxruntime", "openvino", "ai_edge_litert", "tensorflow", "mlperf_loadgen")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_never_imports_textual_or_rich() -> None:
    core = sorted(
        "qtui.core." + str(p.relative_to(ROOT / "qtui" / "core").with_suffix("")).replace(os.sep, ".").removesuffix(".__init__")
        for p in (ROOT / "qtui" / "core").rglob("*.py")
    )
    # framework modules need their framework; everything else must import without it too
    code = "import importlib\n" + "\n".join(f"importlib.import_module({m!r})" for m in core)
    mods = _modules_after(code)
    assert "textual" not in mods and "rich" not in mods


def import_cycles(package: str) -> list[list[str]]:
    """The import circles among `package`'s modules, function-level imports included (grimp,
    import-linter's graph): each strongly connected set of two or more modules, sorted."""
    import grimp

    graph = grimp.build_graph(package)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_the_house_has_no_import_circle() -> None:
    """Drawn from its imports (a function-level import counts: it closes a circle all the same,
    as results.py once did for study → runner → loadgen_log → results → study), no module of
    qtui reaches back to itself. import-linter's layers keep the floors; this keeps the rest."""
    assert import_cycles("qtui") == []


def test_import_cycles_finds_a_circle_closed_by_a_function_level_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "circ"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circ import b\n")
    (package / "b.py").write_text("def late():\n    from circ import c\n")
    (package / "c.py").write_text("import circ.a\n")
    (package / "d.py").write_text("import circ.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circ") == [["circ.a", "circ.b", "circ.c"]]


def test_light_core_modules_import_no_framework() -> None:
    mods = _modules_after(
        "import qtui.core.profile, qtui.core.catalog, qtui.core.environment, qtui.core.results, "
        "qtui.core.runner, qtui.core.models, qtui.core.data, qtui.core.prepare, qtui.core.backends, "
        "qtui.core.explain, qtui.core.explain.render"
    )
    assert not (mods & set(HEAVY)), mods & set(HEAVY)


def test_help_and_doctor_import_no_framework() -> None:
    for cmd in ("main(['--help'])", "main(['doctor'])"):
        code = f"from qtui.cli import main\ntry:\n    {cmd}\nexcept SystemExit:\n    pass"
        mods = _modules_after(code)
        assert not (mods & set(HEAVY)), (cmd, mods & set(HEAVY))


def test_torch_extra_never_resolves_to_a_cuda_build_on_aarch64_linux() -> None:
    """PyPI's aarch64 torch wheels from 2.11 on are CUDA 13 builds (GBs of nvidia-* packages)."""
    import tomllib
    from packaging.requirements import Requirement
    from packaging.version import Version

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pi = {"platform_system": "Linux", "platform_machine": "aarch64"}
    x86 = {"platform_system": "Linux", "platform_machine": "x86_64"}
    pi_reqs = [r for r in map(Requirement, extras["torch"]) if r.marker is None or r.marker.evaluate(pi)]
    x86_reqs = [r for r in map(Requirement, extras["torch"]) if r.marker is None or r.marker.evaluate(x86)]
    assert len(pi_reqs) == 1 and len(x86_reqs) == 1
    assert Version("2.9.1") in pi_reqs[0].specifier and Version("2.10.0") in pi_reqs[0].specifier
    assert Version("2.11.0") not in pi_reqs[0].specifier
    assert Version("2.13.0") in x86_reqs[0].specifier


# --------------------------------------------------------------------------- CI and installs


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), line  # exact pins only
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), line
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_constraints_pin_what_decides_the_snapshots_and_the_figures() -> None:
    """CI rebuilds the venv each run: what it installs is pinned in the repo (issue 9 §5)."""
    pins = _pins()
    for name in ("textual", "rich", "mlcommons-loadgen", "numpy", "onnxruntime", "onnx", "openvino",
                 "nncf", "ai-edge-litert", "pytest", "pytest-asyncio", "hypothesis"):
        assert name in pins, name
    assert "torch" not in pins and "qtui" not in pins  # scripts/setup pins torch (QTUI_TORCH)
    header = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^# platform: Linux x86_64 cp3\d+$", header, re.M)
    setup = (ROOT / "scripts" / "setup").read_text()
    assert "constraints.txt" in setup and '-c "$CONSTRAINTS"' in setup


def _fake_repo(
    tmp_path: Path, pi_can: str, pi_output: str, pi_rc: int, pytest_rc: int = 0, ruff_rc: int = 0, mypy_rc: int = 0
) -> Path:
    """A copy of .ci/run beside stub scripts: setup makes a .venv whose python 'runs the tests',
    pi-check answers --can-run with `pi_can` and otherwise prints `pi_output`; calls are logged."""
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    (repo / "scripts").mkdir()
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    calls = repo / "calls.log"
    tool = '#!/usr/bin/env bash\necho "{name} $*" >> "{calls}"\n{body}\n'
    stubs = {
        "python": f'echo "1 passed in 0.01s (CI=${{CI:-}})"; exit {pytest_rc}',
        "ruff": f"echo 'F401 unused import'; exit {ruff_rc}" if ruff_rc else "exit 0",
        "lint-imports": "exit 0",
        "mypy": f"echo 'qtui/x.py:1: error: stub finding'; exit {mypy_rc}" if mypy_rc else "exit 0",
    }
    setup_lines = ["mkdir -p .venv/bin"]
    for name, body in stubs.items():
        text = tool.format(name=name, calls=calls, body=body)
        setup_lines.append(f"cat > .venv/bin/{name} <<'STUB'\n{text}STUB\nchmod +x .venv/bin/{name}")
    (repo / "scripts" / "setup").write_text("\n".join(setup_lines) + "\n")
    # CI's apt step for the browser and sshd (dpkg-query, then apt-get if missing): answered
    # "installed" by stubs, so that a fake CI never installs Chromium or asks sudo for a password
    stub_bin = repo / "stub-bin"
    stub_bin.mkdir()
    for name, body in {
        # one "installed" per package asked about, whichever packages CI's apt step names
        "dpkg-query": "for a in \"$@\"; do case $a in -*) ;; *) echo 'install ok installed' ;; esac; done",
        "chromium": "echo 'Chromium 0 (stub)'",
        "apt-get": "exit 1",
    }.items():
        (stub_bin / name).write_text(tool.format(name=name, calls=calls, body=body))
        (stub_bin / name).chmod(0o755)
    can_rc = 0 if pi_can == "yes" else 1
    (repo / "scripts" / "pi-check").write_text(
        f'echo "pi-check $*" >> "{calls}"\n'
        f'if [ "${{1:-}}" = --can-run ]; then echo "{pi_can}"; exit {can_rc}; fi\n'
        f"printf '%s\\n' {shlex.quote(pi_output)}\nexit {pi_rc}\n"
    )
    return repo


def _ci(repo: Path, tmp_path: Path, **env: str) -> tuple[int, str, list[str]]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("QTUI_")}
    full.update(TMPDIR=str(tmp_path), **env)
    full["PATH"] = f"{repo / 'stub-bin'}{os.pathsep}{full.get('PATH', '')}"
    out = subprocess.run(["bash", str(repo / ".ci" / "run")], capture_output=True, text=True,
                         env=full, timeout=120, stdin=subprocess.DEVNULL)
    calls = (repo / "calls.log").read_text().splitlines() if (repo / "calls.log").exists() else []
    return out.returncode, out.stdout + out.stderr, calls


PASSED = "PASS  setup\npi-check: all steps passed"


def test_ci_fails_when_pi_check_skips_on_a_machine_that_can_run_it(tmp_path: Path) -> None:
    """The bug: pi-check exits 0 on SKIP, so CI went green with no ARM check."""
    repo = _fake_repo(tmp_path, "yes", "SKIP: pi tools (setup, run) not found", 0)
    rc, out, calls = _ci(repo, tmp_path)
    assert rc == 1, out
    assert "pi-check --can-run" in calls and "pi-check " in calls  # asked, then run
    assert out.rstrip().splitlines()[-1] == (
        "== tests: exit 0; emulated Raspberry Pi check: FAILED: pi-check skipped on a machine "
        "that can run it (pi tools (setup, run) not found); set QTUI_CI_PI=0 to skip it on purpose"
    )


def test_ci_passes_when_pi_check_passed(tmp_path: Path) -> None:
    rc, out, calls = _ci(_fake_repo(tmp_path, "yes", PASSED, 0), tmp_path)
    assert rc == 0, out
    assert any(c.startswith("dpkg-query") for c in calls) and not any(c.startswith("apt-get") for c in calls)
    assert out.rstrip().splitlines()[-1] == "== tests: exit 0; emulated Raspberry Pi check: passed"
    assert any(c.startswith("mypy") for c in calls)  # the lint step ran (and passed) first


@pytest.mark.parametrize(
    ("output", "pi_rc", "verdict"),
    [
        ("FAIL  install\npi-check: FAILED (logs in /x)", 1, "FAILED (exit 1)"),
        ("PASS  setup", 0, "FAILED: pi-check exited 0 without reporting that every step passed"),
    ],
)
def test_ci_fails_when_pi_check_did_not_pass_every_step(tmp_path: Path, output: str, pi_rc: int, verdict: str) -> None:
    rc, out, _ = _ci(_fake_repo(tmp_path, "yes", output, pi_rc), tmp_path)
    assert rc == 1, out
    assert out.rstrip().splitlines()[-1] == f"== tests: exit 0; emulated Raspberry Pi check: {verdict}"


def test_ci_skips_pi_check_only_when_asked(tmp_path: Path) -> None:
    rc, out, calls = _ci(_fake_repo(tmp_path, "yes", "SKIP: x", 0), tmp_path, QTUI_CI_PI="0")
    assert rc == 0, out
    assert not any(c.startswith("pi-check") for c in calls)
    assert "SKIP: emulated Raspberry Pi check (QTUI_CI_PI=0)" in out
    assert out.rstrip().splitlines()[-1].endswith("check: SKIPPED on purpose (QTUI_CI_PI=0)")
    rc, out, _ = _ci(_fake_repo(tmp_path / "2", "yes", PASSED, 0), tmp_path, QTUI_CI_PI="no")
    assert rc == 2 and "QTUI_CI_PI must be 0 or 1, not 'no'" in out


def test_ci_refuses_to_rewrite_the_snapshots_and_sets_ci(tmp_path: Path) -> None:
    """QTUI_UPDATE_SNAPSHOTS in CI's environment would turn every snapshot comparison into a
    silent rewrite: CI stops before anything runs. CI=true reaches the tests (the snapshot
    helper refuses a rewrite there too, hypothesis is derandomised)."""
    rc, out, calls = _ci(_fake_repo(tmp_path, "yes", PASSED, 0), tmp_path, QTUI_UPDATE_SNAPSHOTS="1")
    assert rc == 2, out
    assert "QTUI_UPDATE_SNAPSHOTS is set ('1'): CI compares the UI snapshots and never rewrites them" in out
    assert calls == []
    rc, out, _ = _ci(_fake_repo(tmp_path / "2", "yes", PASSED, 0), tmp_path, CI="")
    assert rc == 0 and "1 passed in 0.01s (CI=true)" in out, out


def test_ci_on_a_machine_that_cannot_emulate_says_so_loudly(tmp_path: Path) -> None:
    repo = _fake_repo(tmp_path, "no: needs root (qemu-user is registered in a private binfmt_misc)", "", 0)
    rc, out, calls = _ci(repo, tmp_path)
    assert rc == 0, out
    assert calls.count("pi-check --can-run") == 1 and "pi-check " not in calls
    assert "SKIP: emulated Raspberry Pi (ARM) check NOT RUN: needs root" in out
    assert out.rstrip().splitlines()[-1] == (
        "== tests: exit 0; emulated Raspberry Pi check: NOT RUN: this machine cannot emulate a Pi "
        "(needs root (qemu-user is registered in a private binfmt_misc))"
    )


def test_ci_fails_with_the_tests_and_with_a_lint_finding(tmp_path: Path) -> None:
    rc, out, calls = _ci(_fake_repo(tmp_path, "yes", PASSED, 0, pytest_rc=1), tmp_path)
    assert rc == 1 and "== tests: exit 1; emulated Raspberry Pi check: passed" in out
    assert ["ruff check qtui tests bench scripts", "lint-imports ", "mypy qtui"] == [
        c for c in calls if c.split(" ")[0] in ("ruff", "lint-imports", "mypy")
    ]  # the lint step runs by default, before the tests
    rc, out, calls = _ci(_fake_repo(tmp_path / "2", "yes", PASSED, 0, ruff_rc=1), tmp_path)
    assert rc == 1, out  # the stub ruff found something: CI stops before the tests
    assert "ruff check qtui tests bench scripts" in calls
    assert not any(c.startswith("python") for c in calls)
    rc, out, calls = _ci(_fake_repo(tmp_path / "3", "yes", PASSED, 0, ruff_rc=1), tmp_path, QTUI_CI_LINT="0")
    assert rc == 0, out  # skipped on purpose
    assert not any(c.startswith("ruff") for c in calls)


def test_ci_runs_mypy_beside_the_tests_and_fails_on_its_finding(tmp_path: Path) -> None:
    """mypy (~30 s from a fresh cache) runs while the tests do; its output follows theirs and a
    finding fails CI whatever the tests and the Pi check say."""
    rc, out, calls = _ci(_fake_repo(tmp_path, "yes", PASSED, 0, mypy_rc=1), tmp_path)
    assert rc == 1, out
    assert any(c.startswith("python") for c in calls)  # the tests ran all the same
    assert out.index("1 passed in 0.01s") < out.index("qtui/x.py:1: error: stub finding")
    assert "CI: mypy FAILED (exit 1, its findings above)" in out
    assert out.rstrip().splitlines()[-1] == "== tests: exit 0; emulated Raspberry Pi check: passed"


def _pi_can_run(tmp_path: Path, uid: str, kernel: str) -> tuple[int, str]:
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    for name, value in (("id", uid), ("uname", kernel)):
        (shim / name).write_text(f"#!/bin/sh\necho {value}\n")
        (shim / name).chmod(0o755)
    out = subprocess.run(["bash", str(ROOT / "scripts" / "pi-check"), "--can-run"], capture_output=True,
                         text=True, timeout=60, env={**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"})
    return out.returncode, out.stdout.strip()


@pytest.mark.parametrize(
    ("uid", "kernel", "rc", "answer"),
    [
        ("0", "6.7.0", 0, "yes"),
        ("0", "6.18.44-fc", 0, "yes"),
        ("0", "7.0.1", 0, "yes"),
        ("0", "6.6.87", 1, "no: kernel 6.6.87 < 6.7 (no binfmt_misc inside a user namespace)"),
        ("0", "5.15.0-91-generic", 1, "no: kernel 5.15.0-91-generic < 6.7 (no binfmt_misc inside a user namespace)"),
        ("1000", "6.18.0", 1, "no: needs root (qemu-user is registered in a private binfmt_misc)"),
    ],
)
def test_pi_check_can_run(tmp_path: Path, uid: str, kernel: str, rc: int, answer: str) -> None:
    assert _pi_can_run(tmp_path, uid, kernel) == (rc, answer)


def _setup_calls(tmp_path: Path, platform_line: str, machine: str, **env: str) -> tuple[int, str, list[str]]:
    """Run scripts/setup against a fake .venv python that logs its pip calls and answers the
    platform question with `platform_line`; `uname -m` says `machine`."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", repo / "scripts" / "setup")
    shutil.copy(ROOT / "constraints.txt", repo / "constraints.txt")
    calls = tmp_path / "pip.log"
    (repo / ".venv" / "bin").mkdir(parents=True)
    fake = repo / ".venv" / "bin" / "python"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = -c ]; then echo "{platform_line}"; exit 0; fi\necho "$*" >> "{calls}"\n')
    fake.chmod(0o755)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "uname").write_text(f"#!/bin/sh\necho {machine}\n")
    (shim / "uname").chmod(0o755)
    full = {k: v for k, v in os.environ.items() if not k.startswith("QTUI_")}
    full.update(PATH=f"{shim}:{os.environ['PATH']}", QTUI_SKIP_RUN="1", **env)
    out = subprocess.run(["bash", str(repo / "scripts" / "setup")], capture_output=True, text=True,
                         env=full, timeout=60, stdin=subprocess.DEVNULL)
    return out.returncode, out.stdout + out.stderr, calls.read_text().splitlines() if calls.exists() else []


def test_setup_installs_the_pinned_versions_where_they_were_resolved(tmp_path: Path) -> None:
    made_for = re.search(r"^# platform: (.+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert made_for is not None
    rc, out, calls = _setup_calls(tmp_path, made_for.group(1), "x86_64")
    assert rc == 0, out
    assert calls == [
        "-m pip install -q -c constraints.txt --upgrade pip",
        "-m pip install -q -c constraints.txt torch==2.13.0",
        "-m pip install -q -c constraints.txt torch==2.13.0 -e .[all,test]",
    ]
    assert "setup: pinned versions from constraints.txt" in out


def test_setup_on_a_pi_resolves_freshly(tmp_path: Path) -> None:
    """The pins were resolved on x86_64 (no aarch64 LoadGen wheel, torch 2.9.1 there)."""
    rc, out, calls = _setup_calls(tmp_path, "Linux aarch64 cp311", "aarch64", QTUI_EXTRAS="onnxruntime,torch")
    assert rc == 0, out
    assert calls == [
        "-m pip install -q --upgrade pip",
        "-m pip install -q torch==2.9.1",
        "-m pip install -q torch==2.9.1 -e .[onnxruntime,torch]",
    ]
    assert "setup: versions resolved freshly (constraints.txt is for Linux x86_64 cp311; this is Linux aarch64 cp311)" in out


def test_setup_constraints_can_be_switched_off_or_named(tmp_path: Path) -> None:
    rc, _, calls = _setup_calls(tmp_path / "a", "Linux x86_64 cp311", "x86_64", QTUI_CONSTRAINTS="")
    assert rc == 0 and not any("-c " in c for c in calls)
    rc, out, calls = _setup_calls(tmp_path / "b", "Linux x86_64 cp311", "x86_64", QTUI_CONSTRAINTS="nope.txt")
    assert rc == 2 and calls == []
    assert "setup: constraints file nope.txt not found (QTUI_CONSTRAINTS)" in out


# -- hangs: reported as a failed test, never a CI that waits forever ----------------------------------
HANGING_TESTS = '''
import subprocess, sys, threading

def test_silent_child():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], stdout=subprocess.PIPE)
    try:
        child.stdout.readline()  # the child never writes: without a timeout this waits 5 min
    finally:
        child.kill()
        child.wait()

def test_waits_on_a_thread_that_never_finishes():
    # like a LoadGen run: the work is on another thread, the main thread waits for it
    done = threading.Event()
    threading.Thread(target=threading.Event().wait, daemon=True).start()
    done.wait()

def test_after_the_hangs():
    assert 1 + 1 == 2
'''


def test_a_hanging_test_fails_with_a_timeout_and_the_suite_goes_on(tmp_path: Path) -> None:
    """pyproject's pytest-timeout settings (the method as configured, a 3 s limit here): each
    hanging test is reported as failed with 'Timeout', and the next test still runs."""
    (tmp_path / "test_hangs.py").write_text(HANGING_TESTS)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(tmp_path), "-o", "timeout=3", "-q", str(tmp_path / "test_hangs.py")],
        capture_output=True, text=True, cwd=tmp_path, timeout=240, stdin=subprocess.DEVNULL,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "2 failed, 1 passed" in text, text
    assert "FAILED test_hangs.py::test_silent_child - Failed: Timeout" in text, text
    assert "FAILED test_hangs.py::test_waits_on_a_thread_that_never_finishes - Failed: Ti" in text, text


def test_the_suite_has_a_per_test_timeout(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getini("timeout") == "900"
    assert pytestconfig.getini("timeout_method") == "signal"
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^pytest-timeout==\d", pins, re.M)
    assert "pytest-timeout" in (ROOT / "pyproject.toml").read_text().split("test = [", 1)[1].split("]", 1)[0]


@pytest.mark.parametrize("ci", ["true", "1"])
def test_hypothesis_is_derandomised_in_ci(ci: str) -> None:
    """.ci/run exports CI=true; there the property tests draw the same examples every run."""
    code = "import tests.conftest; from hypothesis import settings; print(settings.default.derandomize)"
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=120, check=True)
    assert out.stdout.strip() == "True"


# -- pi-check's verdict: a pair the README says runs on the Pi must be offered there ------------------
def _pi_expected() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("pi_expected", ROOT / "scripts" / "pi" / "expected.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PI_PAIRS = [("onnxruntime", "fp32"), ("onnxruntime", "int8_static"), ("torch", "fp32"), ("torch", "int8_static"),
            ("tflite", "fp32"), ("tflite", "int8_static"), ("openvino", "fp32"), ("openvino", "int8_dynamic"),
            ("openvino", "int8_static")]
OV_PI4 = ("OpenVINO's ARM CPU plugin cannot compile INT8 convolutions on a CPU without dot-product "
          "instructions ('asimddp'; e.g. the Raspberry Pi 4's Cortex-A72)")


def _doctor(unavailable: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {"combinations": [{"framework": f, "precision": p, "available": (f, p) not in unavailable,
                              "reason": unavailable.get((f, p), "runs here")} for f, p in PI_PAIRS]}


def test_pi_check_verdict_follows_the_readme() -> None:
    pi = _pi_expected()
    pi4 = _doctor({("openvino", "int8_static"): OV_PI4})
    assert [pi.verdict(pi4, "pi4", f, p) for f, p in PI_PAIRS] == ["run"] * 8 + ["refuse"]
    assert [pi.verdict(_doctor({}), "pi5", f, p) for f, p in PI_PAIRS] == ["run"] * 9


@pytest.mark.parametrize(("board", "unavailable", "pair", "why"), [
    # the case: a framework installed on the Pi cannot run a precision the README promises
    ("pi5", {("torch", "int8_static"): "PyTorch int8 needs the x86 (fbgemm) or ARM (qnnpack) engine"},
     ("torch", "int8_static"), "the README says torch int8_static runs on a Raspberry Pi 5, but qtui doctor says: PyTorch int8 needs"),
    ("pi4", {("tflite", "fp32"): "converter not installed here"}, ("tflite", "fp32"),
     "the README says tflite fp32 runs on a Raspberry Pi 4, but qtui doctor says: converter not installed here"),
    ("pi5", {("openvino", "int8_static"): OV_PI4}, ("openvino", "int8_static"),
     "the README says openvino int8_static runs on a Raspberry Pi 5"),
    ("pi4", {}, ("openvino", "int8_static"), "is refused on a Raspberry Pi 4 (no asimddp), but qtui doctor offers it"),
    ("pi4", {("openvino", "int8_static"): "made with NNCF, not installed here"}, ("openvino", "int8_static"),
     "not for the README's reason (asimddp): made with NNCF"),
])
def test_pi_check_fails_where_the_readme_and_doctor_disagree(
    board: str, unavailable: dict[tuple[str, str], str], pair: tuple[str, str], why: str
) -> None:
    verdict = _pi_expected().verdict(_doctor(unavailable), board, *pair)
    assert verdict.startswith("FAIL: ") and why in verdict, verdict


def test_pi_check_verdict_from_the_command_line(tmp_path: Path) -> None:
    doctor = tmp_path / "doctor.json"
    doctor.write_text(json.dumps(_doctor({("onnxruntime", "int8_static"): "no quantization tools"})))
    script = str(ROOT / "scripts" / "pi" / "expected.py")

    def ask(*args: str) -> str:
        out = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert ask(str(doctor), "pi4", "onnxruntime", "fp32") == "run"
    assert ask(str(doctor), "pi4", "onnxruntime", "int8_static").startswith("FAIL: the README says onnxruntime int8_static runs")
    assert ask(str(doctor), "pi4", "mxnet", "fp32") == "FAIL: qtui doctor does not list mxnet fp32"
    assert ask(str(tmp_path / "missing.json"), "pi4", "onnxruntime", "fp32").startswith("FAIL: cannot judge")
    # pi-check acts on the verdict: a FAIL line and a failed check, never a SKIP
    text = (ROOT / "scripts" / "pi-check").read_text()
    assert "qtui doctor: not available here" not in text
    assert 'v=$(verdict "$board" "$fw" "$prec")' in text and "FAILED=1" in text.split('v=$(verdict', 1)[1].split("done", 1)[0]
