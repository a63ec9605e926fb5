"""The histogram drawing: fits the width, bars scale to the peak, percentiles and ms axis shown."""

from __future__ import annotations

import pytest

from qtui.core.events import HistogramSnapshot
from qtui.core.latency import histogram
from qtui.ui.widgets.histogram import EIGHTHS, MARKER, format_ms, histogram_lines


def _snapshot() -> HistogramSnapshot:
    import numpy as np

    rng = np.random.default_rng(0)
    lat_ns = (rng.lognormal(mean=np.log(20.0), sigma=0.3, size=500) * 1e6).astype(np.int64)
    return histogram(lat_ns)


@pytest.mark.parametrize("width", [20, 40, 76, 120])
def test_every_line_has_the_width(width: int) -> None:
    picture = histogram_lines(_snapshot(), {"p50": 20.0, "p90": 29.0, "p99": 40.0}, width, 8)
    assert len(picture.lines) == 8
    assert all(len(line) == width for line in picture.lines)
    assert picture.total == 500


@pytest.mark.parametrize("height", [8, 14, 30])
def test_a_taller_widget_draws_more_bar_rows(height: int) -> None:
    """The run screen gives the histogram the room a big terminal has: every row but the
    markers and the axis is bars, and the tallest bar still reaches the top."""
    picture = histogram_lines(_snapshot(), {"p50": 20.0}, 76, height)
    assert len(picture.bars) == height - 2 and len(picture.lines) == height
    assert "█" in picture.bars[0] and picture.bars[-1].strip()


def test_tallest_bar_reaches_the_top_and_bars_use_blocks() -> None:
    picture = histogram_lines(_snapshot(), {}, 76, 8)
    assert "█" in picture.bars[0]
    assert set("".join(picture.bars)) <= set(EIGHTHS)


def test_percentile_markers_in_order() -> None:
    picture = histogram_lines(_snapshot(), {"p50": 20.0, "p90": 29.0, "p99": 40.0}, 76, 8)
    assert picture.markers.count(MARKER) == 3
    assert picture.markers.index("p50") < picture.markers.index("p90") < picture.markers.index("p99")


def test_axis_is_labelled_in_ms_from_low_to_high() -> None:
    snap = _snapshot()
    picture = histogram_lines(snap, {}, 76, 8)
    assert picture.axis.rstrip().endswith(f"{format_ms(snap.edges_ms[-1])} ms")
    assert picture.axis.startswith(format_ms(snap.edges_ms[0]))
    values = [float(tok) for tok in picture.axis.split() if tok != "ms"]
    assert values == sorted(values) and len(values) >= 4


def test_more_bins_than_columns_are_merged() -> None:
    snap = _snapshot()
    picture = histogram_lines(snap, {}, 15, 6)
    assert all(len(line) == 15 for line in picture.lines)
    assert picture.total == sum(snap.counts)


def test_empty_histogram_draws_blank() -> None:
    picture = histogram_lines(HistogramSnapshot((), ()), {}, 30, 5)
    assert picture.total == 0
    assert all(line.strip() == "" for line in picture.lines)


@pytest.mark.parametrize(("value", "text"), [(0.5234, "0.52"), (3.162, "3.16"), (31.62, "31.6"), (316.2, "316")])
def test_format_ms(value: float, text: str) -> None:
    assert format_ms(value) == text
