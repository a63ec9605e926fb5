"""`qtui compare A B` on synthetic results whose speed each test sets: per-query latencies saved
beside stream results (the runner's `latencies.npz`), repeats for Offline. A 10 % slower side is
"slower" with the interval excluding 1, identical sides are "no difference", a single Offline
run a side gives no verdict, a setup difference is named, cells on one side are listed, and
`--fail-on-regression` exits 1 only when a cell is slower by more than its figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.cli import main
from qtui.core.compare import Side, compare, regressions
from qtui.core.raw_latencies import save_latencies
from qtui.core.results import RunResult, save_result
from tests.core.test_study_table import make_run


def _latencies(median_ms: float, seed: int, n: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.lognormal(np.log(median_ms * 1e6), 0.1, n)).astype(np.int64)


def _stream(run_id: str, median_ms: float, seed: int, root: Path | None = None, **kw: Any) -> RunResult:
    """A SingleStream (or `scenario=`) result whose saved per-query latencies have `median_ms`."""
    result = make_run(run_id, kw.pop("precision", "fp32"), median_ms, **kw)
    if root is not None:
        folder = root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        result.raw_latencies = save_latencies(folder, _latencies(median_ms, seed))
        save_result(result, folder)
    return result


def _offline(run_id: str, samples_per_s: float, root: Path | None = None, **kw: Any) -> RunResult:
    result = make_run(run_id, kw.pop("precision", "fp32"), samples_per_s, scenario="Offline", **kw)
    if root is not None:
        save_result(result, root / run_id)
    return result


def _side(root: Path) -> Side:
    from qtui.core.compare import _folders
    from qtui.core.results import load_results

    results = load_results(root)
    return Side(str(root), "results folder", results, _folders(results, [root]))


def _only(cmp: Any, scenario: str = "SingleStream") -> Any:
    (cell,) = [c for c in cmp.cells if c.key[3] == scenario]
    return cell


def test_ten_percent_slower_stream_side_is_slower_with_the_interval_above_one(tmp_path: Path) -> None:
    _stream("a1", 10.0, seed=1, root=tmp_path / "a")
    _stream("b1", 11.0, seed=2, root=tmp_path / "b")
    cell = _only(compare(_side(tmp_path / "a"), _side(tmp_path / "b")))
    assert cell.basis == "queries" and "per-query latencies" in cell.basis_text
    assert cell.verdict == "slower"
    assert cell.ratio == pytest.approx(1.1, rel=0.02)
    assert 1.0 < cell.low < 1.1 < cell.high
    assert cell.p_value is None or cell.p_value < 0.05  # Mann-Whitney, when scipy is there


def test_identical_sides_are_no_difference(tmp_path: Path) -> None:
    for side in ("a", "b"):
        _stream(f"{side}1", 10.0, seed=7, root=tmp_path / side)
        for k, sps in enumerate((100.0, 101.0, 99.0)):
            _offline(f"{side}-off-{k}", sps, root=tmp_path / side)
    cmp = compare(_side(tmp_path / "a"), _side(tmp_path / "b"))
    for scenario in ("SingleStream", "Offline"):
        cell = _only(cmp, scenario)
        assert cell.verdict == "no difference", (scenario, cell)
        assert cell.low < 1.0 < cell.high and cell.ratio == pytest.approx(1.0)
    assert _only(cmp, "Offline").basis == "repeats"
    assert cmp.differences == []
    assert cmp.geomean == pytest.approx(1.0) and cmp.geomean_low < 1.0 < cmp.geomean_high


def test_offline_repeats_ten_percent_slower_and_a_single_run_gives_no_verdict(tmp_path: Path) -> None:
    for k, sps in enumerate((100.0, 101.0, 99.0)):
        _offline(f"a-{k}", sps, root=tmp_path / "a")
        _offline(f"b-{k}", sps / 1.1, root=tmp_path / "b")
    cell = _only(compare(_side(tmp_path / "a"), _side(tmp_path / "b")), "Offline")
    assert cell.verdict == "slower" and cell.ratio == pytest.approx(1.1)
    assert cell.low > 1.0 and "repeats of samples/s" in cell.basis_text
    _offline("c-0", 100.0, root=tmp_path / "c")
    _offline("d-0", 50.0, root=tmp_path / "d")
    single = _only(compare(_side(tmp_path / "c"), _side(tmp_path / "d")), "Offline")
    assert single.verdict == "cannot say" and single.low is None
    assert single.ratio == pytest.approx(2.0)  # the figure is shown, the verdict withheld
    assert "needs 3 repeats a side" in single.reason


def test_stream_results_without_saved_latencies_fall_back_to_repeats() -> None:
    a = [_stream(f"a{k}", v, seed=k) for k, v in enumerate((10.0, 10.1, 9.9))]
    b = [_stream(f"b{k}", v * 1.2, seed=k) for k, v in enumerate((10.0, 10.1, 9.9))]
    cell = _only(compare(Side("A", "results folder", a), Side("B", "results folder", b)))
    assert cell.basis == "repeats" and "no per-query latencies saved" in cell.basis_text
    assert cell.verdict == "slower" and cell.ratio == pytest.approx(1.2)


def test_setup_differences_are_named_at_the_top_and_per_cell(tmp_path: Path) -> None:
    _stream("a1", 10.0, 1, tmp_path / "a")
    b = [_stream("b1", 10.0, 1, tmp_path / "b", threads=4, weights="torchvision")]
    b[0].environment = {**b[0].environment, "threads": 4, "frameworks": {"onnxruntime": "1.21"}, "kernel": "6.8.0"}
    save_result(b[0], tmp_path / "b" / "b1")
    cmp = compare(_side(tmp_path / "a"), _side(tmp_path / "b"))
    items = {item: (va, vb) for item, va, vb in cmp.differences}
    assert items["threads"] == ("2", "4")
    assert items["onnxruntime version"] == ("1.20", "1.21")
    assert items["kernel"] == ("unknown", "6.8.0")
    assert "weights" in items
    cell_items = [item for item, _, _ in _only(cmp).differs]
    assert "threads" in cell_items and "weights" in cell_items
    assert "kernel" not in cell_items  # machine-wide: said once, at the top


def test_cells_on_one_side_only_are_listed(tmp_path: Path) -> None:
    _stream("a1", 10.0, 1, tmp_path / "a")
    _stream("a2", 5.0, 2, tmp_path / "a", precision="int8_static")
    _stream("b1", 10.0, 3, tmp_path / "b")
    _stream("b2", 8.0, 4, tmp_path / "b", framework="torch")
    cmp = compare(_side(tmp_path / "a"), _side(tmp_path / "b"))
    verdicts = {(c.key[1], c.key[2]): c.verdict for c in cmp.cells}
    assert verdicts[("onnxruntime", "int8_static")] == "only in A"
    assert verdicts[("torch", "fp32")] == "only in B"
    assert verdicts[("onnxruntime", "fp32")] in ("no difference", "faster", "slower")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(factor=st.one_of(st.floats(0.5, 0.9), st.floats(1.1, 2.0), st.just(1.0)), seed=st.integers(0, 2**16))
def test_a_scaled_copy_gives_its_factor_and_the_right_verdict(factor: float, seed: int) -> None:
    """B's latencies are A's times `factor`: the ratio is the factor, the interval holds it, and
    the verdict follows its side of 1 (an exact copy: no difference)."""
    lat = _latencies(10.0, seed, n=500)
    a = Side("A", "run", [make_run("a", "fp32", 10.0)])
    b = Side("B", "run", [make_run("b", "fp32", 10.0 * factor)])
    import qtui.core.compare as compare_module

    saved = {"a": lat, "b": np.round(lat * factor).astype(np.int64)}
    original = compare_module._latencies
    compare_module._latencies = lambda side, runs: [saved[r.run_id] for r in runs]  # type: ignore[assignment]
    try:
        cell = _only(compare(a, b, resamples=400))
    finally:
        compare_module._latencies = original  # type: ignore[assignment]
    assert cell.ratio == pytest.approx(factor, rel=1e-3)
    assert cell.low <= factor * 1.001 and cell.high >= factor * 0.999
    expected = "no difference" if factor == 1.0 else "slower" if factor > 1 else "faster"
    assert cell.verdict == expected


def _write_sides(tmp_path: Path, slower: float) -> tuple[Path, Path]:
    for side, scale in (("a", 1.0), ("b", slower)):
        _stream(f"{side}-ss", 10.0 * scale, 1 if side == "a" else 2, tmp_path / side)
        _stream(f"{side}-ms", 20.0, 3 if side == "a" else 4, tmp_path / side, scenario="MultiStream")
    return tmp_path / "a", tmp_path / "b"


@pytest.mark.parametrize(("slower", "pct", "code"), [(1.10, 5, 1), (1.10, 20, 0), (1.0, 0, 0), (0.8, 0, 0)])
def test_fail_on_regression_exits_1_only_when_a_cell_is_slower_by_more(tmp_path: Path, slower: float, pct: float, code: int) -> None:
    a, b = _write_sides(tmp_path, slower)
    out = CliRunner().invoke(main, ["compare", str(a), str(b), "--fail-on-regression", str(pct)])
    assert out.exit_code == code, out.output
    assert ("regression: mobilenet_v2 onnxruntime fp32 SingleStream: B slower by" in out.output) == (code == 1)
    if code == 1:
        assert "MultiStream: B slower" not in out.output  # only the cell that regressed


def test_compare_output_formats_and_bad_input(tmp_path: Path) -> None:
    a, b = _write_sides(tmp_path, 1.10)
    runner = CliRunner()
    data = json.loads(runner.invoke(main, ["compare", str(a), str(b), "--format", "json"]).output)
    cells = {c["scenario"]: c for c in data["cells"]}
    assert cells["SingleStream"]["verdict"] == "slower" and cells["SingleStream"]["low"] > 1
    assert data["ratio"].startswith("time B/A") and data["geometric_mean"]["cells"] == 2
    csv_text = runner.invoke(main, ["compare", str(a), str(b), "--format", "csv"]).output
    assert csv_text.splitlines()[0].startswith("model,framework,precision,scenario,verdict,ratio,low,high")
    md = runner.invoke(main, ["compare", str(a), str(b), "--format", "markdown"]).output
    assert "| mobilenet_v2 | onnxruntime | fp32 | SingleStream |" in md and "slower" in md
    table = runner.invoke(main, ["compare", str(a), str(b)], env={"COLUMNS": "80"})
    assert table.exit_code == 0 and "slower" in table.output and "Geometric mean" in table.output
    assert all(len(line) <= 80 for line in table.output.splitlines()), table.output
    for args in (["compare", str(a), "nowhere"], ["compare", str(a), str(b), "--fail-on-regression", "nan"],
                 ["compare", str(a), str(b), "--fail-on-regression", "-1"]):
        bad = runner.invoke(main, args)
        assert bad.exit_code == 2, (args, bad.output)
    assert "not a results folder, a run id, a device or a study" in runner.invoke(main, ["compare", str(a), "nowhere"]).output


def test_two_devices_of_one_folder_and_two_run_ids(tmp_path: Path) -> None:
    root = tmp_path / "all"
    _stream("pi4-run", 20.0, 1, root, device="pi-4")
    _stream("pi5-run", 10.0, 2, root, device="pi-5")
    runner = CliRunner()
    by_device = json.loads(runner.invoke(main, ["compare", "pi-4", "pi-5", "--results-dir", str(root), "--format", "json"]).output)
    (cell,) = by_device["cells"]
    assert cell["verdict"] == "faster" and cell["ratio"] == pytest.approx(0.5, rel=0.03)
    assert {"item": "device", "a": "pi-4", "b": "pi-5"} in by_device["differences"]
    by_run = json.loads(runner.invoke(main, ["compare", "pi5-run", "pi4-run", "--results-dir", str(root), "--format", "json"]).output)
    assert by_run["a"]["kind"] == "run" and by_run["cells"][0]["verdict"] == "slower"


def test_regressions_use_the_interval_not_the_point_estimate(tmp_path: Path) -> None:
    a, b = _write_sides(tmp_path, 1.10)
    cmp = compare(_side(a), _side(b))
    cell = _only(cmp)
    assert regressions(cmp, (cell.low - 1) * 100 - 0.5) == [cell]
    assert regressions(cmp, (cell.low - 1) * 100 + 0.5) == []  # the point estimate is above it


def test_hostile_text_in_a_result_reaches_the_table_cleaned(tmp_path: Path) -> None:
    _stream("a1", 10.0, 1, tmp_path / "a")
    _stream("b1", 10.0, 1, tmp_path / "b", device="\x1b]8;;http://x\x07evil\x1b[31m")
    out = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert out.exit_code == 0 and "\x1b" not in out.output and "evil" in out.output
    md = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "markdown"]).output
    assert "\x1b" not in md



def test_two_runs_of_other_precisions_are_compared_and_the_precision_named(tmp_path: Path) -> None:
    root = tmp_path / "r"
    _stream("fp32-run", 10.0, 1, root)
    _stream("int8-run", 5.0, 2, root, precision="int8_static")
    out = CliRunner().invoke(main, ["compare", "fp32-run", "int8-run", "--results-dir", str(root), "--format", "json"])
    (cell,) = json.loads(out.output)["cells"]
    assert cell["verdict"] == "faster" and cell["differs"].startswith("precision fp32 → int8_static")


def test_run_to_run_spread_widens_the_interval(tmp_path: Path) -> None:
    """Three runs a side whose medians spread ±5 %: B 2 % slower is within that spread, so no
    difference (pooling the 3 000 queries a side as one sample would call it slower)."""
    for side, scale in (("a", 1.0), ("b", 1.02)):
        for k, median in enumerate((9.5, 10.0, 10.5)):
            _stream(f"{side}{k}", median * scale, seed=10 * k + (side == "b"), root=tmp_path / side)
    cell = _only(compare(_side(tmp_path / "a"), _side(tmp_path / "b")))
    assert cell.basis == "runs" and "3+3 runs" in cell.basis_text and "Welch's t" in cell.basis_text
    assert cell.ratio == pytest.approx(1.02, rel=0.02)  # middle runs' medians: 10.26 / 9.93 ms
    assert cell.verdict == "no difference" and cell.low < 1.0 < cell.high
    assert cell.value_a == pytest.approx(9.93, rel=0.001)  # the median of the runs' medians, ms


def test_two_identical_setups_measured_three_times_a_side_are_told_apart_5_percent_of_the_time() -> None:
    """The stream verdict's "95 %": 2000 simulated comparisons of one setup against itself,
    3 runs a side, each run 400 queries with a 3 % run-to-run spread of its median (a quiet
    machine). The interval must hold 1 about 95 % of the time. Bootstrapping runs and then
    queries (what `compare` did) held it 82 % of the time: "slower" at 95 % was 1 in 5 false."""
    from qtui.core.compare import stream_ratio

    rng = np.random.default_rng(5)
    sims, hits = 2000, 0
    for k in range(sims):
        sides = [[np.exp(rng.normal(0.0, 0.03) + rng.normal(0.0, 0.1, 400)) * 1e6 for _ in range(3)] for _ in range(2)]
        r = stream_ratio(sides[0], sides[1], np.random.default_rng(k), resamples=200)
        assert r.basis == "runs"
        hits += r.low <= 1.0 <= r.high
    assert 0.93 <= hits / sims <= 0.975, hits / sims


def test_fewer_than_three_runs_a_side_say_what_the_interval_leaves_out(tmp_path: Path) -> None:
    for side, scale in (("a", 1.0), ("b", 1.02)):
        for k, median in enumerate((9.5, 10.5)):
            _stream(f"{side}{k}", median * scale, seed=10 * k + (side == "b"), root=tmp_path / side)
    cmp = compare(_side(tmp_path / "a"), _side(tmp_path / "b"))
    cell = _only(cmp)
    assert cell.basis == "queries" and "2+2 runs" in cell.basis_text
    assert cell.basis_text.endswith("fewer than 3 runs a side: run-to-run variation is not covered")
    from qtui.core.compare import footer_lines

    assert "  (fewer than 3 runs a side: the interval does not cover run-to-run variation)" in footer_lines(cmp)


def test_html_page_escapes_text_from_results_and_fetches_nothing(tmp_path: Path) -> None:
    _stream("a1", 10.0, 1, tmp_path / "a", device="<script>alert(1)</script>")
    _stream("b1", 11.0, 2, tmp_path / "b", device="pi-5")
    page = tmp_path / "cmp.html"
    out = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "html", "-o", str(page)])
    assert out.exit_code == 0, out.output
    html = page.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<tr class="slower">' in html and "Geometric mean" in html
    assert "http" not in html and "src=" not in html
    refused = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(page)])
    assert refused.exit_code == 2


def test_a_damaged_latencies_file_is_named_and_the_repeats_used(tmp_path: Path) -> None:
    _stream("a1", 10.0, 1, tmp_path / "a")
    _stream("b1", 11.0, 2, tmp_path / "b")
    (tmp_path / "b" / "b1" / "latencies.npz").write_bytes(b"PK\x03\x04 not really")
    cell = _only(compare(_side(tmp_path / "a"), _side(tmp_path / "b")))
    assert cell.basis == "repeats" and "run b1's latencies unreadable" in cell.basis_text
    assert cell.verdict == "cannot say" and "needs 3 repeats a side" in cell.reason


def test_a_disturbed_run_marks_its_cell(tmp_path: Path) -> None:
    _stream("a1", 10.0, 1, tmp_path / "a")
    b = _stream("b1", 11.0, 2, tmp_path / "b")
    b.environment = {**b.environment, "warnings": [
        "other processes kept 1.84 of 2 cores busy during the measurement (92 % of the CPU): figures are likely low"]}
    save_result(b, tmp_path / "b" / "b1")
    data = json.loads(CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "json"]).output)
    assert data["cells"][0]["disturbed_runs"] == ["b1"]
    table = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b")]).output
    assert "slower ⚠" in table and "measured while disturbed" in table and "b1" in table


class _StandIn:
    """A stand-in backend whose speed the test sets: every batch takes `delay_s` and answers
    zeros (the real backend is kept only for what the runner asks besides `predict`)."""

    def __init__(self, inner: Any, delay_s: float) -> None:
        self.inner, self.delay_s, self.max_batch = inner, delay_s, inner.max_batch

    def predict(self, batch: np.ndarray) -> np.ndarray:
        import time

        time.sleep(self.delay_s)
        return np.zeros((len(batch), 1000), dtype=np.float32)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_runs_of_a_stand_in_backend_twice_as_slow_compare_as_slower(tmp_path: Path) -> None:
    """End to end: the runner saves each run's latencies, `qtui compare` reads them back and
    finds B (8 ms a query) slower than A (4 ms) per query, and --fail-on-regression trips."""
    from qtui.core.profile import LoadGenSpec
    from qtui.core.runner import RunOptions, run
    from tests.conftest import small_profile

    profile = small_profile(loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64))
    for side, delay in (("a", 0.004), ("b", 0.008)):
        result = run(profile, None, None, RunOptions(results_root=tmp_path / side, wrap_backend=lambda inner, d=delay: _StandIn(inner, d)))
        assert result.status == "ok", result.message
        assert (tmp_path / side / result.run_id / "latencies.npz").is_file()
    out = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--format", "json", "--fail-on-regression", "10"])
    assert out.exit_code == 1, out.output
    cell = json.loads(out.output[: out.output.rindex("}") + 1])["cells"][0]
    assert cell["verdict"] == "slower" and cell["low"] > 1.1 and "per-query latencies (64 vs 64 queries" in cell["test"]
