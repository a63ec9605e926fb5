"""Run qtui commands in a child process where torch is not installed, as on a Raspberry Pi that
has only the runtimes: `import torch` fails (`sys.modules["torch"] = None`, which also makes
`importlib.util.find_spec("torch")` answer None), its distribution metadata is hidden (so
`importlib.metadata.version("torch")` raises), and every `import torch…` statement is recorded
with the code that made it when it is qtui's (a library's own try-import, e.g. NNCF's, is
its business: it copes). Not a test module: the tests of a machine without torch use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import qtui

#: The child: blocks torch, runs each command line through click's CliRunner in this one
#: process (one interpreter start for all of them), prints one JSON report as its last line.
CHILD = textwrap.dedent('''
    import builtins, importlib.metadata as md, json, sys, traceback

    sys.modules["torch"] = None
    attempts = []
    real_import = builtins.__import__

    def recording_import(name, *args, **kwargs):
        caller = sys._getframe(1).f_code.co_filename  # qtui's own imports; a library's try-import is its business
        if (name == "torch" or name.startswith("torch.")) and QTUI in caller:
            attempts.append(name + "\\n" + "".join(traceback.format_stack(limit=10)))
        return real_import(name, *args, **kwargs)

    builtins.__import__ = recording_import
    QTUI = sys.argv[2]

    def hidden(function):
        def wrapped(name, *args, **kwargs):
            if str(name).lower() == "torch":
                raise md.PackageNotFoundError(name)
            return function(name, *args, **kwargs)
        return wrapped

    md.version = hidden(md.version)
    md.distribution = hidden(md.distribution)

    from click.testing import CliRunner
    from qtui import cli

    done = []
    for argv in json.loads(sys.argv[1]):
        out = CliRunner().invoke(cli.main, argv)
        done.append({"argv": argv, "exit_code": out.exit_code, "output": out.output,
                     "error": "".join(traceback.format_exception(out.exc_info[1])) if out.exc_info and out.exit_code not in (0, 2) else ""})
    print(json.dumps({"commands": done, "attempts": attempts, "torch_loaded": sys.modules.get("torch") is not None}))
''')


def run_without_torch(commands: list[list[str]], cache: Path, results: Path, cwd: Path | None = None) -> dict[str, Any]:
    """Run `commands` (qtui argument lists) in one child without torch, with its own cache and
    results folders; the report: each command's exit code and output, the `import torch`
    attempts (with their stacks), and whether torch was loaded at the end."""
    env = {**os.environ, "QTUI_CACHE_DIR": str(cache), "QTUI_RESULTS_DIR": str(results), "COLUMNS": "200"}
    env.pop("QTUI_CONFIG_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands), str(Path(qtui.__file__).parent)],
        capture_output=True, text=True, timeout=900, env=env, cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def results_by_cell(results: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The saved result records under `results`, by (framework, precision, mode)."""
    found = {}
    for path in results.rglob("result.json"):
        record = json.loads(path.read_text())
        p = record["profile"]
        found[(p["framework"], p["precision"], p["mode"])] = record
    return found
