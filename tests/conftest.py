"""Shared fixtures: one artifact/weights cache per test session (exports happen once), results in
a per-test folder, and small profiles that keep LoadGen runs to seconds."""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import settings as hypothesis_settings

from qtui.core.profile import DatasetSpec, LoadGenSpec, RunProfile

#: In CI (`CI` set, as .ci/run and CI services do) the property tests draw the same examples on
#: every run: a red CI is reproducible and never a lucky draw; locally they keep exploring.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
    hypothesis_settings.load_profile("ci")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fresh_weights: builds a model's random weights from scratch; runs first (see below)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `fresh_weights` run first (the others keep their order): each builds a
    large model's random weights from scratch in its own folder (BatchNorm recalibration,
    ≈30 s on 2 cores) and then leaves the file in the session cache (`share_random_weights`),
    where the first later test using that model would otherwise build the same bytes again."""
    items.sort(key=lambda item: item.get_closest_marker("fresh_weights") is None)


def share_random_weights(built: Path, session_cache: Path) -> None:
    """Put random weights a test built from scratch (`built`, a file in its own cache's
    `weights/` folder) into the session cache, unless it has them already. The bytes are the
    ones any other build in this session gives (same seed, fixed recalibration threads)."""
    target = session_cache / "weights" / built.name
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{built.name}.{os.getpid()}.tmp")
    shutil.copyfile(built, staging)
    os.replace(staging, target)


def primed_cache(cache: Path, model: str = "mobilenet_v2") -> Path:
    """`cache`, a fresh qtui cache folder for a test that must prepare for real, holding only the
    model's seeded random weights (seed 0) copied from the session cache (built there first if
    missing). Building MobileNetV2's weights recalibrates BatchNorm (≈10 s on 2 cores): a test
    about preparation, signals or saving gains nothing from paying that again, and the weights a
    fresh build gives are these bytes (same seed, fixed recalibration threads). Use a bare
    `tmp_path / "cache"` only where building the weights is what the test is about."""
    from qtui.core import paths
    from qtui.core.models.weights import load_model, random_cache_path

    # call it before pointing QTUI_CACHE_DIR at `cache`: the weights come from the session cache
    assert paths.cache_dir() not in (cache, *cache.parents), "prime the cache before switching to it"
    shared = random_cache_path(model, 0)
    if not shared.exists():
        load_model(model, "random", 0)
    target = cache / "weights" / shared.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared, target)
    return cache


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qtui-cache")


@pytest.fixture(autouse=True)
def _isolated_dirs(monkeypatch: pytest.MonkeyPatch, session_cache: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("QTUI_CACHE_DIR", str(session_cache))
    monkeypatch.setenv("QTUI_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    monkeypatch.delenv("QTUI_CONFIG_DIR", raising=False)  # saved profiles: XDG_CONFIG_HOME per test


def small_profile(**changes: object) -> RunProfile:
    """MobileNetV2 on 32 synthetic images, short LoadGen settings."""
    base = RunProfile(
        name="test",
        threads=2,
        batch_size=4,
        warmup_queries=2,
        dataset=DatasetSpec(count=32, performance_sample_count=32, calibration_count=16),
        loadgen=LoadGenSpec(preset="quick", min_duration_ms=0),
    )
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


#: FP32 torch logits per (weights digest, image seed), kept for the session: the ONNX Runtime and
#: OpenVINO matrices compare against the same images of the same models, and the FP32 forward
#: pass of a large model (VGG-19: ≈35 CPU-s for 64 images) cost more than quantizing it.
_REFERENCE_LOGITS: dict[tuple[str, int], np.ndarray] = {}
_REFERENCE_CHUNK = 32


def torch_reference(loaded: Any, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` structured synthetic images (seed `seed`) and FP32 torch logits on them: what
    every framework's artifacts are compared against. The logits are computed in chunks of 32
    and reused within the session for the same weights (digest) and seed: a smaller count takes
    the first rows of a larger one when it ends on a chunk boundary (image i depends only on the
    seed and i, so those rows are bit for bit what computing them alone gives)."""
    import torch

    from qtui.core.data import SyntheticDataset

    images = SyntheticDataset(count, seed).get_batch(list(range(count)))
    key = (loaded.digest, seed)
    cached = _REFERENCE_LOGITS.get(key)
    if cached is not None and (count == len(cached) or (count < len(cached) and count % _REFERENCE_CHUNK == 0)):
        return images, cached[:count].copy()
    with torch.inference_mode():
        ref = np.concatenate(
            [
                loaded.module(torch.from_numpy(images[i : i + _REFERENCE_CHUNK])).numpy()
                for i in range(0, count, _REFERENCE_CHUNK)
            ]
        )
    if cached is None or count > len(cached):
        _REFERENCE_LOGITS[key] = ref.copy()
    return images, ref


class ChildOutput:
    """A child process's stdout and stderr, each read on its own thread: waiting for a stderr
    line has a real deadline even when the child falls silent (a bare `readline()` waits
    forever), and `communicate` collects the rest like `Popen.communicate`. One per child:
    `child_output(proc)`."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self._stderr: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump_stderr, daemon=True),
            threading.Thread(target=lambda: self._stdout.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        ]
        for t in self._threads:
            t.start()

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.put(line)
        self._stderr.put(None)

    def wait_for(self, match: str | Callable[[str], object], timeout: float = 600) -> str:
        """The stderr lines up to and including the first that contains `match` (or for which
        `match(line)` is true). Fails, ending the child, after `timeout` s or when stderr ends."""
        test = (lambda line: match in line) if isinstance(match, str) else match
        seen = ""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._stderr.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no line matching {match!r} within {timeout:.0f} s:\n{seen}") from None
            if line is None:
                raise AssertionError(f"stderr ended without a line matching {match!r}:\n{seen}")
            seen += line
            if test(line):
                return seen

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Wait for the child to end (killed after `timeout` s, then the test fails); its whole
        stdout and the stderr not yet returned by `wait_for`."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            for t in self._threads:
                t.join(timeout=30)
        rest = []
        while True:
            try:
                line = self._stderr.get_nowait()
            except queue.Empty:
                break
            if line is None:
                break
            rest.append(line)
        return "".join(self._stdout), "".join(rest)


_CHILDREN: weakref.WeakKeyDictionary[subprocess.Popen[str], ChildOutput] = weakref.WeakKeyDictionary()


def child_output(proc: subprocess.Popen[str]) -> ChildOutput:
    """The one `ChildOutput` reading `proc` (made at the first call)."""
    if proc not in _CHILDREN:
        _CHILDREN[proc] = ChildOutput(proc)
    return _CHILDREN[proc]


#: A non-TTY progress line of a measurement: "LoadGen  12%  48/400 samples ..." (qtui.cli).
PROGRESS_LINE = re.compile(r"^LoadGen\s+(?:\d+%\s+)?(\d+)(?:/(\d+))? samples")


def mid_measurement(line: str) -> bool:
    """A progress line that shows completed queries and more to come (the run is under way)."""
    m = PROGRESS_LINE.match(line)
    return bool(m) and int(m.group(1)) > 0 and (m.group(2) is None or int(m.group(1)) < int(m.group(2)))


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The CPU family the suite runs on and which CPU-dependent expectations apply here: the
    tests assert what executed, and a floor picked by what executed is named here, so a red
    test on another CPU family reads against this line."""
    import platform

    from qtui.core.environment import cpu_flags, cpu_model, describe_isa, isa_summary
    from qtui.core.prepare import onnxruntime as ortprep

    machine = platform.machine()
    isa = describe_isa({"machine": machine, "isa": isa_summary(cpu_flags(), machine)})
    recipe = ortprep.static_recipe()
    act = "U8S8" if recipe["activations"] == "uint8" else "S8S8"
    rr = "on (no VNNI: 7-bit weights)" if recipe["reduce_range"] else "off"
    return [
        f"CPU: {cpu_model() or 'unknown model'} — {isa}",
        f"ONNX Runtime INT8 static recipe here: {act}, reduce_range {rr} → fidelity floors "
        f"{ort_int8_static_floor_key(recipe)!r} (tests/core/test_matrix_onnxruntime.py THRESHOLDS)",
    ]


def ort_int8_static_floor_key(details: dict[str, Any]) -> str:
    """Which ONNX Runtime INT8 static fidelity floors apply to an artifact, from the recipe its
    details record: activations' type, and `-rr` when prepared with reduce_range (x86 without
    VNNI), which quantizes weights to 7 bits and lowers fidelity."""
    return f"{details['activations']}{'-rr' if details.get('reduce_range') else ''}"


#: `qtui` in a child process with no load warning, for tests that check resuming rather than the
#: machine's load: a study measures a run disturbed by other processes again
#: (tests/core/test_disturbed.py), and a busy test machine (CI runs the emulated Pi beside the
#: tests) would change the counts they check. Use as `[sys.executable, "-c", QUIET_QTUI, ...]`.
QUIET_QTUI = (
    "import sys; import qtui.core.machine_load as m; m.OTHER_CPU_WARN_FRACTION = 1e9; "
    "from qtui.cli import main; sys.argv[0] = 'qtui'; main()"
)


@pytest.fixture()
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """No load warning in this process (see QUIET_QTUI)."""
    from qtui.core import machine_load

    monkeypatch.setattr(machine_load, "OTHER_CPU_WARN_FRACTION", 1e9)
