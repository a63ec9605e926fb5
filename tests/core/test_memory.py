"""Peak RSS measurement sees a short-lived allocation; check_fits refuses what will not fit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _in_fresh_interpreter(code: str) -> None:
    """Run `code` (asserts included) in a new Python: the kernel's peak RSS is per process, and
    in the suite's process threads other tests leave behind (a cancelled preparation finishing
    in the background, another PeakRSS resetting the peak) would be measured with it."""
    import textwrap

    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code) + "\nprint('ok')"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_peak_rss_sees_temporary_allocation() -> None:
    _in_fresh_interpreter("""
        import numpy as np
        from qtui.core.memory import PeakRSS
        with PeakRSS() as before:
            pass
        with PeakRSS() as peak:
            block = np.ones(300 * 1024 * 1024 // 8)  # 300 MB, touched
            del block
        assert peak.bytes - before.bytes > 250 * 1024 * 1024, (peak.bytes, before.bytes)
    """)


def test_peak_minus_start_is_what_the_block_added_even_after_a_bigger_earlier_peak() -> None:
    """In a long-lived process (a sweep, the UI) the peak counts what is already resident; the
    start RSS lets results show what preparing itself added."""
    _in_fresh_interpreter("""
        import numpy as np
        from qtui.core.memory import PeakRSS
        MB = 1024 * 1024
        kept = np.ones(200 * MB // 8)  # 200 MB stays resident through the next block
        with PeakRSS() as peak:
            block = np.ones(100 * MB // 8)
            del block
        assert peak.start_bytes >= 200 * MB, peak.start_bytes
        assert 80 * MB < peak.bytes - peak.start_bytes < 180 * MB, (peak.bytes, peak.start_bytes)
    """)


def test_artifacts_record_preparation_peak_and_start_rss() -> None:
    from qtui.core.runner import prepare_only
    from tests.conftest import small_profile

    artifact, _ = prepare_only(small_profile())
    meta = artifact.meta
    assert 0 < meta["prepare_start_rss_bytes"] <= meta["prepare_peak_rss_bytes"]


# -- refusing, before loading, what will not fit --------------------------------------------------

GIB = 1024**3


def test_bytes_per_sample_of_the_model_input() -> None:
    from qtui.core.memory import input_bytes_per_sample

    assert input_bytes_per_sample() == 3 * 224 * 224 * 4 == 602_112
    assert input_bytes_per_sample((3, 224, 224), itemsize=1) == 150_528


def test_check_fits_refuses_what_exceeds_available_less_the_margin() -> None:
    from qtui.core.memory import MemoryBudgetError, check_fits, input_bytes_per_sample

    per = input_bytes_per_sample()
    # 16 GiB available, 2 GiB kept free: 14 GiB usable = 24_966 samples of 602_112 B
    check_fits(24_966, per, "loading samples", available=(16 * GIB, 2 * GIB))
    with pytest.raises(MemoryBudgetError) as err:
        check_fits(24_967, per, "loading samples", "dataset.performance_sample_count", available=(16 * GIB, 2 * GIB))
    msg = str(err.value)
    assert msg.startswith("loading samples: 24_967 samples × 602_112 B = 14.0 GiB will not fit")
    assert "16.0 GiB available" in msg and "2.0 GiB kept free" in msg
    assert msg.endswith("lower dataset.performance_sample_count") and "\n" not in msg
    assert err.value.key == "dataset.performance_sample_count"
    assert err.value.need_bytes == 24_967 * per and err.value.usable_bytes == 14 * GIB
    # less available than the margin: nothing fits
    with pytest.raises(MemoryBudgetError):
        check_fits(1, 1, "x", available=(GIB, 2 * GIB))
    check_fits(0, per, "nothing", available=(GIB, 2 * GIB))
    with pytest.raises(ValueError):
        check_fits(-1, per, "x")


def test_check_fits_reads_this_machine() -> None:
    from qtui.core.memory import MemoryBudgetError, check_fits, usable_bytes

    free, margin, usable = usable_bytes()
    assert free > 0 and margin >= 256 * 1024 * 1024 and usable == max(0, free - margin)
    check_fits(1, 1024, "one small sample")
    with pytest.raises(MemoryBudgetError):  # 10**9 images: 602 TB, on any machine
        check_fits(10**9, 602_112, "loading samples")


def test_safety_margin_is_a_tenth_and_at_least_256_mib() -> None:
    from qtui.core.memory import safety_margin_bytes

    assert safety_margin_bytes(24 * GIB) == int(2.4 * GIB)
    assert safety_margin_bytes(GIB) == 256 * 1024 * 1024


def test_a_long_schedule_at_a_tiny_expected_latency_is_refused_before_loadgen() -> None:
    """Both keys are within their bounds, yet a 24 h SingleStream expected to take 1 µs a query
    makes LoadGen build 2 × 86.4e9 queries before the first one: the recipe for the runner
    (`2 ×` because LoadGen schedules twice the minimum duration in case the SUT is faster)."""
    from qtui.core.loadgen import resolve_settings
    from qtui.core.memory import LOADGEN_BYTES_PER_SAMPLE, MemoryBudgetError, check_fits
    from qtui.core.profile import RunProfile, apply_overrides
    from qtui.core.schedule import expected_samples  # what the runner checks

    p = apply_overrides(RunProfile(), ["loadgen.min_duration_ms=86400000", "loadgen.expected_latency_ms=0.001"])
    settings = resolve_settings(p, 256, measured_batch_s=0.002)
    with pytest.raises(MemoryBudgetError):
        check_fits(2 * expected_samples(settings), LOADGEN_BYTES_PER_SAMPLE, "LoadGen's query schedule")
    quick = resolve_settings(RunProfile(), 256, measured_batch_s=0.002)
    check_fits(2 * expected_samples(quick), LOADGEN_BYTES_PER_SAMPLE, "LoadGen's query schedule")


_LOADGEN_MEMORY = r"""
import sys, tempfile
import mlperf_loadgen as lg
from qtui.core.memory import PeakRSS
n = int(sys.argv[1])
def issue(qs):
    lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in qs])
sut = lg.ConstructSUT(issue, lambda: None)
qsl = lg.ConstructQSL(16, 16, lambda s: None, lambda s: None)
ts = lg.TestSettings()
ts.scenario = getattr(lg.TestScenario, sys.argv[2])
ts.mode = lg.TestMode.PerformanceOnly
ts.min_duration_ms = 0
ts.min_query_count = n
ts.single_stream_expected_latency_ns = 1_000_000
ts.offline_expected_qps = 1000
log = lg.LogSettings()
log.enable_trace = False  # as qtui runs it
log.log_output.outdir = tempfile.mkdtemp()
with PeakRSS() as peak:  # not ru_maxrss: a child inherits its parent's at fork
    lg.StartTestWithLogSettings(sut, qsl, ts, log)
print((peak.bytes - peak.start_bytes) / n)
"""


@pytest.mark.parametrize("scenario", ["SingleStream", "Offline"])
def test_loadgen_bytes_per_sample_covers_what_loadgen_allocates(scenario: str) -> None:
    pytest.importorskip("mlperf_loadgen")
    from qtui.core.memory import LOADGEN_BYTES_PER_SAMPLE

    out = subprocess.run(
        [sys.executable, "-c", _LOADGEN_MEMORY, "200000", scenario],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=True,
    )
    per_sample = float(out.stdout.strip().splitlines()[-1])
    assert 50 < per_sample <= LOADGEN_BYTES_PER_SAMPLE
