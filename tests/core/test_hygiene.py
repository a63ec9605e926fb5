"""Import boundaries: the core never pulls in Textual/Rich; --help and doctor import no framework."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_light_core_modules_import_no_framework() -> None:
    mods = _modules_after(
        "import qtui.core.profile, qtui.core.catalog, qtui.core.environment, qtui.core.results, "
        "qtui.core.runner, qtui.core.models, qtui.core.data, qtui.core.prepare, qtui.core.backends"
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
