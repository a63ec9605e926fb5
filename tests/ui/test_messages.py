"""Core events become Textual messages; high-rate progress merges in the queue."""

from __future__ import annotations

from qtui.core import events as ev
from qtui.ui import messages as m


def _progress(n: int) -> ev.Progress:
    return ev.Progress(n, n, 1.0, {}, 1.0, ev.HistogramSnapshot((), ()))


def test_every_event_is_wrapped() -> None:
    events = [
        ev.Preparing("warm-up", 0.5), ev.Started("id", "Offline", "performance"), _progress(1),
        ev.Log("hello"), ev.Finished("ok", "/r.json", "summary"), ev.Failed("boom"),
    ]
    wrapped = [m.wrap(e) for e in events]
    assert [type(w) for w in wrapped] == [m.RunPreparing, m.RunStarted, m.RunProgress, m.RunLog, m.RunFinished, m.RunFailed]
    assert all(w.event is e for w, e in zip(wrapped, events, strict=True))
    assert type(m.wrap(ev.StudyStep("measuring", 1, 4, "x"))) is m.StudyStepped


def test_no_event_type_lacks_a_message() -> None:
    import typing

    assert set(m._WRAPPERS) == set(typing.get_args(ev.Event))


def test_progress_is_superseded_by_newer_progress_only() -> None:
    old = m.wrap(_progress(1))
    assert old.can_replace(m.wrap(_progress(2)))
    assert not old.can_replace(m.wrap(ev.Log("x")))
    assert not m.wrap(ev.Log("x")).can_replace(m.wrap(ev.Log("y")))


def test_preparing_merges_within_one_step() -> None:
    first = m.wrap(ev.Preparing("loading samples", 0.1))
    assert first.can_replace(m.wrap(ev.Preparing("loading samples", 0.2)))
    assert not first.can_replace(m.wrap(ev.Preparing("warm-up", 0.0)))
