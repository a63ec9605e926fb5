"""Textual messages that carry the core's run events from the worker thread to the run screen.

The runner's `on_event` callback wraps each event with `wrap()` and posts it; nothing else crosses
the thread boundary. Progress snapshots (and repeated steps of one preparation stage) merge in the
message queue: when the UI falls behind, only the newest one is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from qtui.core import events as ev


@dataclass
class RunPreparing(Message):
    """A preparation step and its progress."""

    event: ev.Preparing

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunPreparing) and message.event.step == self.event.step


@dataclass
class RunStarted(Message):
    """LoadGen started: the timed part begins."""

    event: ev.Started


@dataclass
class RunProgress(Message):
    """A progress snapshot of the timed part (the newest one supersedes queued ones)."""

    event: ev.Progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgress)


@dataclass
class RunLog(Message):
    """A line for the log panel."""

    event: ev.Log


@dataclass
class RunFinished(Message):
    """The run ended (ok, invalid or cancelled) and its result was saved."""

    event: ev.Finished


@dataclass
class RunFailed(Message):
    """The run failed; the event's message is meant for the user."""

    event: ev.Failed


@dataclass
class StudyStepped(Message):
    """A study moved on to its next cell or run."""

    event: ev.StudyStep


_WRAPPERS: dict[type, type[Message]] = {
    ev.Preparing: RunPreparing,
    ev.Started: RunStarted,
    ev.Progress: RunProgress,
    ev.Log: RunLog,
    ev.Finished: RunFinished,
    ev.Failed: RunFailed,
    ev.StudyStep: StudyStepped,
}


def wrap(event: ev.Event) -> Message:
    """The Textual message for a core event."""
    return _WRAPPERS[type(event)](event)  # type: ignore[call-arg]
