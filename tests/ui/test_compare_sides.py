"""The compare view (`v` on the results table) on stand-in results written by the test: two
devices (B's SingleStream 10 % slower, an INT8 cell on A only) and a study each. It opens on the
two devices, computes in a worker, shows what differs at the top, the per-cell table with ratio,
interval and verdict, the one-side cell and the geometric mean at 80×24 (scrolling to the end);
menus switch the sides, `x` swaps them, and `b` then `v` compares two marked runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import Select

from qtui.ui.app import QtuiApp
from qtui.ui.screens.compare_sides import CompareSidesScreen, default_sides
from tests.core.test_compare import _stream
from tests.ui.conftest import open_results, screen_text, select_row, wait_for


def _write(root: Path) -> None:
    """pi-4: SingleStream FP32 at 10 ms and INT8 at 5 ms; pi-5: SingleStream FP32 at 11 ms, a
    newer onnxruntime; each side's runs made by its own study."""
    _stream("a-fp32", 10.0, 1, root, device="pi-4", name="before/x")
    _stream("a-int8", 5.0, 2, root, device="pi-4", name="before/y", precision="int8_static")
    b = _stream("b-fp32", 11.0, 3, root, device="pi-5", name="after/x")
    b.environment = {**b.environment, "frameworks": {"onnxruntime": "1.22"}}
    from qtui.core.results import save_result

    save_result(b, root / "b-fp32")


def _body(app: QtuiApp) -> str:
    return screen_text(app)


async def _comparison(pilot: object, screen: CompareSidesScreen) -> None:
    await wait_for(pilot, lambda: screen.comparison is not None and screen.worker is not None  # type: ignore[arg-type]
                   and screen.worker.is_finished)


def test_default_sides_prefer_two_devices_then_two_studies() -> None:
    options = [("device", "pi-4"), ("device", "pi-5"), ("study", "after"), ("study", "before"), ("run", "r1")]
    assert default_sides(options, None, None) == (("device", "pi-4"), ("device", "pi-5"))
    assert default_sides(options[2:], None, None) == (("study", "after"), ("study", "before"))
    assert default_sides(options, ("run", "r1"), None) == (("run", "r1"), ("device", "pi-4"))


async def test_compare_view_shows_differences_cells_verdicts_and_geomean_at_80x24() -> None:
    _write(Path(os.environ["QTUI_RESULTS_DIR"]))
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        results = await open_results(pilot)
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareSidesScreen)
        await _comparison(pilot, screen)
        cmp = screen.comparison
        assert cmp is not None and (cmp.a.name, cmp.b.name) == ("pi-4", "pi-5")
        verdicts = {c.key[2]: c.verdict for c in cmp.cells}
        assert verdicts == {"fp32": "slower", "int8_static": "only in A"}
        await wait_for(pilot, lambda: "Geometric" in _body(app) or "only in A" in _body(app))
        text = _body(app)
        lines = text.splitlines()
        assert all(len(line) <= 80 for line in lines)
        assert "onnxruntime version: 1.20 → 1.22" in text  # what differs, at the top
        (row,) = [line for line in lines if "FP32" in line and "SS" in line]
        assert "slower" in row and "1.1" in row and "–" in row  # ratio, interval, verdict
        assert "only in A" in text
        # the footer lines (geometric mean) are below the fold at 24 rows: scroll to them
        body = screen.query_one("#sides-body")
        body.scroll_end(animate=False)
        await wait_for(pilot, lambda: "Geometric mean over 1 cell" in _body(app))

        # swap: B/A inverts, pi-5 is A now
        await pilot.press("x")
        await _comparison(pilot, screen)
        await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.a.name == "pi-5")
        assert {c.key[2]: c.verdict for c in screen.comparison.cells} == {"fp32": "faster", "int8_static": "only in B"}

        # a study on each side, from the menus
        screen.query_one("#sides-a", Select).value = ("study", "before")
        screen.query_one("#sides-b", Select).value = ("study", "after")
        await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.a.what == "study"
                       and screen.comparison.b.name == "after")
        await _comparison(pilot, screen)
        assert {c.key[2]: c.verdict for c in screen.comparison.cells} == {"fp32": "slower", "int8_static": "only in A"}

        # back to the table: mark a run as A (b), select another, v compares the two runs
        await pilot.press("escape")
        await pilot.pause()
        select_row(results, "a-int8")
        await pilot.press("b")
        assert "A: a-int8" in screen_text(app)
        select_row(results, "b-fp32")
        await pilot.press("v")
        await pilot.pause()
        runs = app.screen
        assert isinstance(runs, CompareSidesScreen)
        await _comparison(pilot, runs)
        cmp = runs.comparison
        assert cmp is not None and (cmp.a.what, cmp.a.name, cmp.b.name) == ("run", "a-int8", "b-fp32")
        (cell,) = cmp.cells  # two runs of one scenario: compared, the precision named as the difference
        assert cell.verdict == "slower" and ("precision", "int8_static", "fp32") in cell.differs
        # the keys panel of the results screen lists both keys (the 80-column footer has no room)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f1")
        await wait_for(pilot, lambda: "Compare A/B" in screen_text(app) and "Mark as A" in screen_text(app))


async def test_the_view_stays_usable_while_comparing_and_the_newest_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """A comparison that takes long (held by the test) leaves the screen usable: `x` swaps the
    sides and that comparison is shown; the held one, released later, does not replace it."""
    import threading

    import qtui.ui.screens.compare_sides as view

    _write(Path(os.environ["QTUI_RESULTS_DIR"]))
    gate, released = threading.Event(), threading.Event()
    real = view.compare

    def held(a: object, b: object) -> object:
        if getattr(a, "name", None) != "pi-4":
            return real(a, b)  # type: ignore[arg-type]
        gate.wait(60)
        try:
            return real(a, b)  # type: ignore[arg-type]
        finally:
            released.set()

    monkeypatch.setattr(view, "compare", held)
    app = QtuiApp()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await open_results(pilot)
            await pilot.press("v")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, CompareSidesScreen)
            await wait_for(pilot, lambda: "comparing device pi-4 → device pi-5…" in screen_text(app))
            await pilot.press("x")  # handled while pi-4's comparison is held
            await wait_for(pilot, lambda: screen.comparison is not None)
            assert screen.comparison.a.name == "pi-5"
            gate.set()
            await wait_for(pilot, released.is_set)
            await pilot.pause(0.2)
            assert screen.comparison.a.name == "pi-5"  # the older choice never replaces it
            await wait_for(pilot, lambda: "A: device pi-5 (" in screen_text(app))
    finally:
        gate.set()


async def test_another_results_folder_is_a_side(tmp_path: Path) -> None:
    """`f` asks for a folder (refusing one that is not there) and the side it takes; its results
    are compared with the side left, its damaged file named under the table."""
    _write(Path(os.environ["QTUI_RESULTS_DIR"]))
    other = tmp_path / "last-month"
    _stream("old-fp32", 9.0, 7, other, device="pi-5")
    (other / "broken").mkdir()
    (other / "broken" / "result.json").write_text("{", encoding="utf-8")
    app = QtuiApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_results(pilot)
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareSidesScreen)
        await _comparison(pilot, screen)
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"/nowhere/at-all", "enter")
        await wait_for(pilot, lambda: "not a folder" in screen_text(app))
        app.screen.query_one("#folder-path").value = str(other)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.comparison is not None and screen.comparison.b.what == "results folder")
        await _comparison(pilot, screen)
        cmp = screen.comparison
        assert (cmp.a.name, cmp.b.name) == ("pi-4", str(other))
        assert {c.key[2]: c.verdict for c in cmp.cells} == {"fp32": "faster", "int8_static": "only in A"}
        assert any("broken" in note for note in cmp.notes)
