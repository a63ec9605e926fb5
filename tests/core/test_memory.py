"""Peak RSS measurement sees a short-lived allocation."""

from __future__ import annotations

import numpy as np

from qtui.core.memory import PeakRSS


def test_peak_rss_sees_temporary_allocation() -> None:
    with PeakRSS() as before:
        pass
    with PeakRSS() as peak:
        block = np.ones(300 * 1024 * 1024 // 8)  # 300 MB, touched
        del block
    assert peak.bytes - before.bytes > 250 * 1024 * 1024


def test_peak_minus_start_is_what_the_block_added_even_after_a_bigger_earlier_peak() -> None:
    """In a long-lived process (a sweep, the UI) the peak counts what is already resident; the
    start RSS lets results show what preparing itself added."""
    kept = np.ones(200 * 1024 * 1024 // 8)  # 200 MB stays resident through the next block
    with PeakRSS() as peak:
        block = np.ones(100 * 1024 * 1024 // 8)
        del block
    assert peak.start_bytes >= 200 * 1024 * 1024
    assert 80 * 1024 * 1024 < peak.bytes - peak.start_bytes < 180 * 1024 * 1024
    del kept


def test_artifacts_record_preparation_peak_and_start_rss() -> None:
    from qtui.core.runner import prepare_only
    from tests.conftest import small_profile

    artifact, _ = prepare_only(small_profile())
    meta = artifact.meta
    assert 0 < meta["prepare_start_rss_bytes"] <= meta["prepare_peak_rss_bytes"]
