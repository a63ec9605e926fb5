"""Where a failed run broke is kept in the result's own `traceback` field (it was filed under
`loadgen`, which holds LoadGen's figures), and survives a save and a load."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qtui.core.results import load_result
from qtui.core.runner import run
from tests.conftest import small_profile


def test_a_framework_error_keeps_its_traceback_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    import qtui.core.backends as backends

    class Broken:
        def load(self, *args: Any) -> None:
            raise RuntimeError("the runtime fell over")

    monkeypatch.setattr(backends, "get_backend", lambda framework: Broken())
    result = run(small_profile())
    assert result.status == "failed" and "RuntimeError: the runtime fell over" in result.message
    assert "the runtime fell over" in result.traceback and "Traceback" in result.traceback
    assert "traceback" not in result.loadgen
    from qtui.core.paths import results_dir

    path = results_dir() / result.run_id / "result.json"
    assert json.loads(path.read_text())["traceback"] == result.traceback
    assert load_result(path).traceback == result.traceback
