"""When two runs count as the same: the same cell, the same machine, the FP32 baseline of one
another, and the device a run is shown under. Below the record (`results`) and the study, which
both read these rules and no other; this module imports only the profile.

Which rule serves what:

- **Resume and repeats** (`study.completed_runs`, `matching.repeats_of`): two runs are one
  measurement when their `measured_identity` (the profile minus its name, sweep, study, device
  label and `threads_over_cores`), artifact key, `machine_identity` (host, board or CPU model,
  the user's device label) and `runtime_identity` (architecture, framework version, threads
  used) are equal. A study resumes a cell when enough such runs exist; the tables pool such runs
  as repeats of one cell.
- **The FP32 baseline** (`matching.fp32_baseline`, `matching.accuracy_run_for`):
  `same_setup_but_precision` — everything a speed-up divides by equal but the precision: model,
  framework, scenario, mode, batch, warm-up, LoadGen settings, threads used, weights and data
  (their digests when both record them) and `baseline_machine_identity` (host, architecture,
  CPU *and* board model, device label, framework version). The artifact differs by definition,
  so it is not compared.
- **Display and filtering** (tables, `--device`): `device_label` names the device a run was
  measured on (the user's label, else board or CPU model with the host name); `device_matches`
  is the `--device` filter. These only name; they never decide that two runs are the same.

Everything here reads a run through the `Measurement` protocol (its profile, environment,
provenance and artifact), so `results.RunResult` can use these rules without this module
importing it.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from qtui.core.profile import InputSpec, RunProfile, to_dict
from qtui.core.text import one_line

#: Profile keys that do not change what a run measures, ignored when matching results to cells.
NOT_MEASURED = ("name", "sweep", "study", "device", "threads_over_cores")
#: The device of a result that names no machine at all.
UNKNOWN_DEVICE = "unknown machine"


class Measurement(Protocol):
    """What these rules read of a run (`results.RunResult` keeps it)."""

    profile: RunProfile
    environment: dict[str, Any]
    provenance: dict[str, Any]
    artifact: dict[str, Any]


# -- the same cell and the same machine: resume and repeats -----------------------------------------
def measured_identity(profile: RunProfile) -> dict[str, Any]:
    """The part of a profile that decides what is measured (matching results to cells)."""
    data = to_dict(profile)
    for key in NOT_MEASURED:
        data.pop(key, None)
    return data


def machine_identity(environment: dict[str, Any], device: str | None = None) -> tuple[Any, ...]:
    """Which machine a result came from: host, CPU (or board) and the user's device label."""
    label = device if device is not None else environment.get("device")
    return (
        environment.get("hostname"),
        environment.get("board_model") or environment.get("cpu_model"),
        label or None,
    )


def runtime_identity(environment: dict[str, Any], framework: str, threads: int) -> tuple[Any, ...]:
    """What else a run measured besides its profile, artifact and machine: the architecture, the
    framework's version and the threads it used (`threads = 0`: every logical core here)."""
    versions = environment.get("frameworks") or {}
    used = environment.get("threads")
    return (
        environment.get("machine"),
        versions.get(framework) if isinstance(versions, dict) else None,
        used if isinstance(used, int) else threads,
    )


def repeat_key(run: Measurement) -> str:
    """What makes runs repeats of one measurement: the measured profile (everything but its name
    and sweep), the artifact, the machine, and the architecture, framework version and threads
    used (`measured_identity`, `machine_identity` and `runtime_identity`, the identities a study
    resumes by)."""
    p = run.profile
    return json.dumps(
        [
            measured_identity(p), run.artifact.get("key"), machine_identity(run.environment),
            runtime_identity(run.environment, p.framework, p.threads),
        ],
        sort_keys=True, default=str,
    )


# -- the FP32 baseline of a run ---------------------------------------------------------------------
def effective_threads(run: Measurement) -> Any:
    """The threads the run used (the environment records them; `threads = 0` means all)."""
    used = run.environment.get("threads")
    return used if isinstance(used, int) else run.profile.threads


def baseline_machine_identity(run: Measurement) -> tuple[Any, ...]:
    """The machine and runtime a run and its FP32 baseline must share: host name, architecture,
    CPU, board, the user's device label and the framework's version."""
    env = run.environment
    versions = env.get("frameworks") or {}
    return (
        env.get("hostname"), env.get("machine"), env.get("cpu_model"), env.get("board_model"),
        env.get("device") or None, versions.get(run.profile.framework),
    )


def same_weights_data_and_machine(a: Measurement, b: Measurement) -> bool:
    """Same model, weights and data (source, count, seed, kind, classes, input; their digests
    when both runs record them) on the same `baseline_machine_identity`."""
    p, q = a.profile, b.profile
    da, db = a.provenance.get("weights_digest"), b.provenance.get("weights_digest")
    xa, xb = a.provenance.get("data_digest"), b.provenance.get("data_digest")
    return (
        p.model == q.model and p.weights == q.weights
        and (p.dataset.source, p.dataset.count, p.dataset.seed) == (q.dataset.source, q.dataset.count, q.dataset.seed)
        and (p.dataset.kind, p.dataset.classes, p.input or InputSpec()) == (q.dataset.kind, q.dataset.classes, q.input or InputSpec())
        and (da is None or db is None or da == db)
        and (xa is None or xb is None or xa == xb)
        and baseline_machine_identity(a) == baseline_machine_identity(b)
    )


def same_setup_but_precision(a: Measurement, b: Measurement) -> bool:
    """True when two runs differ at most in precision: model, framework, scenario, mode, threads
    used, batch size, warm-up, weights, data (source, count, seed, performance sample count),
    LoadGen settings and device all equal."""
    p, q = a.profile, b.profile
    return (
        (p.framework, p.scenario, p.mode, p.batch_size, p.warmup_queries, p.loadgen)
        == (q.framework, q.scenario, q.mode, q.batch_size, q.warmup_queries, q.loadgen)
        and p.dataset.performance_sample_count == q.dataset.performance_sample_count
        and effective_threads(a) == effective_threads(b)
        and same_weights_data_and_machine(a, b)
    )


# -- display: the device a run is shown under ------------------------------------------------------
def device_label(run: Measurement) -> str:
    """The device a result was measured on, as the tables name it: the user's label
    (`environment["device"]`: `--device` or the profile), else the board model (a Raspberry Pi)
    or CPU model with the host name, e.g. "AMD EPYC 9B14 (bench-1)"."""
    env = run.environment
    label = env.get("device")
    if isinstance(label, str) and label.strip():
        return one_line(label).strip()
    model = env.get("board_model") or env.get("cpu_model") or env.get("machine")
    text = one_line(model).strip() if isinstance(model, str) and model.strip() else UNKNOWN_DEVICE
    host = env.get("hostname")
    return f"{text} ({one_line(host).strip()})" if isinstance(host, str) and host.strip() else text


def device_matches(run: Measurement, wanted: str) -> bool:
    """The `--device` filter: `wanted` equals (ignoring case) the result's device label, its
    user label, host name, board or CPU model."""
    env = run.environment
    names = (device_label(run), env.get("device"), env.get("hostname"), env.get("board_model"), env.get("cpu_model"))
    key = wanted.strip().casefold()
    return any(isinstance(n, str) and n.strip().casefold() == key for n in names)
