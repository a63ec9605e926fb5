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
