"""`qtui compare` between two studies of one results folder (the runs each study or sweep made,
by its profile's name before the "/"), and the sides a folder offers the TUI's compare view."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from qtui.cli import main
from qtui.core.compare import sides_in, study_name
from qtui.core.results import load_results
from tests.core.test_compare import _stream


def test_two_studies_of_one_folder_compare_by_name(tmp_path: Path) -> None:
    _stream("a1", 10.0, 1, tmp_path, name="before/mobilenet_v2-onnxruntime-fp32-SingleStream")
    _stream("b1", 11.0, 2, tmp_path, name="after/mobilenet_v2-onnxruntime-fp32-SingleStream")
    _stream("single", 5.0, 3, tmp_path, name="quick")
    pool = load_results(tmp_path)
    assert [study_name(r) for r in pool] == ["before", "after", None]
    assert sides_in(pool) == [("device", "Test CPU (bench-1)"), ("study", "after"), ("study", "before")]
    out = CliRunner().invoke(main, ["compare", "before", "after", "--results-dir", str(tmp_path)], env={"COLUMNS": "80"})
    assert out.exit_code == 0, out.output
    assert "A: study before (1 result)" in out.output and "B: study after (1 result)" in out.output
    assert " test" in out.output  # the table's column: which test each cell used
    (row,) = [line for line in out.output.splitlines() if "slower" in line and "SS" in line]
    assert row.split()[-1] == "queries"  # per-query latencies, not the repeats
    bad = CliRunner().invoke(main, ["compare", "before", "nowhere", "--results-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "studies: after, before" in bad.output
