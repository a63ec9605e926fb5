"""A device whose results disagree with the other devices' (another qtui version, other model
weights, another framework version) is flagged in the merged tables (`report`, `recommend`) and in
`fleet status`/`pull`, never mixed in silently. Results written by the test (no ssh)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qtui.cli import main
from qtui.core.device_flags import FLAG_MARK, flag_devices
from qtui.core.results import RunResult, save_result
from qtui.fleet.cli import status_rows
from qtui.fleet.engine import HostOutcome
from tests.ui.conftest import fake_result


def run(device: str, precision: str, p90: float, qtui_version: str = "0.1.0", ort: str = "1.20.1", weights: str = "a" * 64) -> RunResult:
    r = fake_result(f"{device}-{precision}", "2026-01-02T10:00:00+00:00", precision, p90=p90)
    r.environment.update({"device": device, "qtui_version": qtui_version, "frameworks": {"onnxruntime": ort, "torch": "2.13.0"}})
    r.provenance["weights_digest"] = weights
    return r


def fleet_folders(root: Path, odd: dict[str, str]) -> list[str]:
    """Three devices' results folders, pi-c with `odd` (run() keywords) on both its runs."""
    dirs = []
    for device in ("pi-a", "pi-b", "pi-c"):
        for precision, p90 in (("fp32", 20.0), ("int8_static", 8.0)):
            r = run(device, precision, p90, **(odd if device == "pi-c" else {}))
            save_result(r, root / device / r.run_id)
        dirs += ["--results-dir", str(root / device)]
    return dirs


def qtui(*args: str) -> str:
    r = CliRunner().invoke(main, list(args), env={"COLUMNS": "100"}, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_what_a_device_disagrees_on() -> None:
    same = [run(d, "fp32", 20.0) for d in ("pi-a", "pi-b", "pi-c")]
    assert flag_devices(same) == {}
    assert flag_devices(same[:1] + [run("pi-a", "int8_static", 8.0, qtui_version="0.2.0")]) == {}  # one device: no others
    odd = [*same[:2], run("pi-c", "fp32", 20.0, qtui_version="0.2.0", ort="1.19.0", weights="b" * 64)]
    assert flag_devices(odd) == {"pi-c": [
        "qtui 0.2.0 (the others: 0.1.0)", "onnxruntime 1.19.0 (the others: 1.20.1)",
        f"mobilenet_v2 weights {'b' * 12} (the others: {'a' * 12})",
    ]}
    # two devices, two versions: no majority, both are flagged
    assert flag_devices([same[0], run("pi-b", "fp32", 20.0, qtui_version="0.2.0")]) == {
        "pi-a": ["qtui 0.1.0 (the others: 0.2.0)"], "pi-b": ["qtui 0.2.0 (the others: 0.1.0)"],
    }
    # a framework's version matters where the device ran it: torch's (not run) never flags
    torch_odd = run("pi-c", "fp32", 20.0)
    torch_odd.environment["frameworks"]["torch"] = "2.0.0"
    assert flag_devices([*same[:2], torch_odd]) == {}


def test_report_and_recommend_flag_the_odd_device(tmp_path: Path) -> None:
    dirs = fleet_folders(tmp_path, {"qtui_version": "0.2.0", "ort": "1.19.0"})
    study = qtui("report", *dirs, "--format", "study", "--markdown")
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in study.splitlines() if line.startswith("| ")]
    column = cells[0].index("device")
    assert sorted(row[column] for row in cells[1:]) == ["pi-a", "pi-b", f"pi-c {FLAG_MARK}"], study
    assert f"{FLAG_MARK} pi-c: qtui 0.2.0 (the others: 0.1.0); onnxruntime 1.19.0 (the others: 1.20.1)" in study
    table = qtui("report", *dirs)
    assert f"pi-c {FLAG_MARK}" in table and f"{FLAG_MARK} pi-c: qtui 0.2.0" in table, table
    assert "pi-a ⚑" not in table and "pi-b ⚑" not in table
    # formats read by programs keep the results as they are, the flags go to stderr
    r = CliRunner().invoke(main, ["report", *dirs, "--format", "csv"], catch_exceptions=False)
    assert FLAG_MARK not in r.stdout and f"{FLAG_MARK} pi-c: qtui 0.2.0" in r.stderr
    rec = qtui("recommend", *dirs)
    assert f"{FLAG_MARK} pi-c: qtui 0.2.0 (the others: 0.1.0)" in rec, rec
    # devices that agree: nothing flagged
    assert FLAG_MARK not in qtui("report", *fleet_folders(tmp_path / "same", {}), "--format", "study", "--markdown")


def test_fleet_status_flags_a_device_running_another_qtui() -> None:
    def device(name: str, version: str) -> HostOutcome:
        return HostOutcome(name, results={"status": {"stdout": f"hash 01\nversion qtui, version {version}\nstate running\nstep \n--- log\n"}})

    rows, notes, bad = status_rows({"pi-a": device("pi-a", "0.1.0"), "pi-b": device("pi-b", "0.1.0"), "pi-c": device("pi-c", "0.2.0")})
    assert [r[0] for r in rows] == ["pi-a", "pi-b", f"pi-c {FLAG_MARK}"]
    assert notes == [f"{FLAG_MARK} pi-c: qtui 0.2.0 (the others: 0.1.0)"] and not bad
