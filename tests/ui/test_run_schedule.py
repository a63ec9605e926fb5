"""The run screen's time left and progress follow LoadGen's stopping rule, and Offline speaks of
samples (its one query) and batches, never of queries it does not have."""

from __future__ import annotations

from qtui.core import events as ev
from qtui.core.profile import LoadGenSpec
from qtui.ui.app import QtuiApp
from qtui.ui.screens.run import progress_fraction, throughput_text, timing_text
from tests.conftest import small_profile
from tests.ui.conftest import start_run, wait_for


def _progress(**values: object) -> ev.Progress:
    base: dict[str, object] = {
        "completed_queries": 10, "completed_samples": 80, "elapsed_s": 2.0,
        "percentiles_ms": {}, "samples_per_s": 40.0,
        "histogram": ev.HistogramSnapshot((), ()), "expected_samples": 24576,
    }
    return ev.Progress(**(base | values))  # type: ignore[arg-type]


def test_time_left_is_the_runners_not_a_sample_count_guess() -> None:
    # 2 s in, LoadGen's rule says 598 s left (min duration), whatever the sample count says
    p = _progress(left_s=598.0)
    assert timing_text(p) == "2.0s elapsed, ~9m58s left"
    assert progress_fraction(p) == 2.0 / 600.0
    assert timing_text(_progress(left_s=0.1)) == "2.0s elapsed, finishing"
    assert timing_text(_progress(left_s=None)) == "2.0s elapsed"


def test_offline_counts_batches_not_queries() -> None:
    assert "10 batches" in throughput_text(_progress(), offline=True)
    assert "queries" not in throughput_text(_progress(), offline=True)
    assert "10 queries" in throughput_text(_progress())


async def test_offline_run_log_states_loadgens_rule_in_samples() -> None:
    app = QtuiApp(profile=small_profile(scenario="Offline", loadgen=LoadGenSpec(preset="quick", min_duration_ms=0, min_query_count=64)))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await start_run(pilot, app)
        await wait_for(pilot, lambda: screen.phase == "done")
        log = "\n".join(strip.text for strip in screen.query_one("#log").lines)
        assert "LoadGen started: 64 samples in one query" in log
        assert "queries" not in log.split("LoadGen started:")[1].splitlines()[0]
