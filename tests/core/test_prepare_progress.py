"""Every preparation stage longer than a second shows progress: OpenVINO's NNCF calibration says
what it does before its first batch and then a percentage per batch (it showed no progress for
about 10 s)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from qtui.core.catalog import framework_installed
from qtui.core.profile import DatasetSpec
from qtui.core.runner import prepare_only
from tests.conftest import primed_cache, small_profile


@pytest.mark.skipif(not framework_installed("openvino"), reason="openvino not installed")
def test_openvino_calibration_reports_a_percentage(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from qtui.core import events as ev
    from qtui.core.prepare import openvino as ovprep

    if ovprep.unavailable_reason("int8_static") or ovprep.runtime_unavailable_reason("int8_static"):
        pytest.skip("OpenVINO INT8 static cannot be prepared on this CPU")
    monkeypatch.setenv("QTUI_CACHE_DIR", str(primed_cache(tmp_path / "cache")))  # prepare for real, not a cache hit
    profile = replace(
        small_profile(framework="openvino", precision="int8_static"),
        dataset=DatasetSpec(count=32, performance_sample_count=32, calibration_count=24),
    )
    events: list[Any] = []
    _, hit = prepare_only(profile, events.append)
    assert not hit
    steps = [(e.step, e.fraction) for e in events if isinstance(e, ev.Preparing)]
    names = [s for s, _ in steps]
    assert "NNCF: analysing the model for quantization" in names
    calibration = [f for s, f in steps if s == ovprep.CALIBRATION_STEP]
    assert calibration and all(f is not None for f in calibration)  # 3 batches of 8: a share each
    assert calibration[0] == 0.0 and max(calibration) == pytest.approx(2 / 3)
    assert names.index("NNCF: analysing the model for quantization") < names.index(ovprep.CALIBRATION_STEP)
