"""A one-line progress display without animation: stage label, a plain bar with its percentage,
and a note (elapsed/remaining). Unlike Textual's ProgressBar it has no timer and no
indeterminate animation, and it repaints only when what it shows changes."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

BAR = "━"


class _Keep:
    """Marks an argument left out (None is a meaningful fraction: "unknown")."""


KEEP = _Keep()


def bar_text(fraction: float, width: int) -> tuple[str, str]:
    """The filled and the empty part of a `width`-cell bar."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return BAR * filled, BAR * (width - filled)


class StageProgress(Widget):
    """`stage label   ━━━━━━━━━━━━━━━━━━━━  45%   note`; the bar only when a fraction is known."""

    COMPONENT_CLASSES = {"stage-progress--done", "stage-progress--todo"}
    DEFAULT_CSS = """
    StageProgress { height: 1; width: 1fr; }
    StageProgress > .stage-progress--done { color: $accent; }
    StageProgress > .stage-progress--todo { color: $foreground 20%; }
    """
    #: The label gets at least this many cells, the bar at most BAR_WIDTH and at least
    #: MIN_BAR_WIDTH; the label takes what the bar and the note leave, so a long stage name
    #: ("calibrating (NNCF statistics)") is read whole at 80 columns.
    MIN_LABEL_WIDTH = 20
    BAR_WIDTH = 22
    MIN_BAR_WIDTH = 10

    def __init__(self, label: str | Text = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._label: str | Text = label
        self._fraction: float | None = None
        self._note = ""
        self._styles: dict[tuple[str, str], Style] = {}

    @property
    def label(self) -> str:
        return str(self._label)

    @property
    def fraction(self) -> float | None:
        return self._fraction

    def show(
        self,
        label: str | Text | None = None,
        fraction: float | None | _Keep = KEEP,
        note: str | None = None,
    ) -> None:
        """Change what is shown (arguments left out keep their value); repaint if it changed."""
        before = (str(self._label), self._shown_fraction(), self._note)
        if label is not None:
            self._label = label
        if not isinstance(fraction, _Keep):
            self._fraction = fraction
        if note is not None:
            self._note = note
        if (str(self._label), self._shown_fraction(), self._note) != before or isinstance(label, Text):
            self.refresh()  # (a Text label may change colour only)

    def _shown_fraction(self) -> int | None:
        """The fraction as drawn (bar cells and whole percent): finer changes don't repaint."""
        return None if self._fraction is None else round(self._fraction * 1000)

    def _style(self, name: str) -> Style:
        key = (self.app.theme, name)
        if key not in self._styles:
            self._styles[key] = self.get_component_rich_style(name)
        return self._styles[key]

    def _widths(self, label_len: int) -> tuple[int, int]:
        """(label cells, bar cells) for this width: the label whole when it fits, the bar
        shrinking to MIN_BAR_WIDTH to make room for it, then left out."""
        total = self.size.width or 80
        note = len(self._note) + 1 if self._note else 0
        pct = 6 if self._fraction is not None else 0
        room = total - note - pct - 1
        if self._fraction is None or label_len + 1 + self.MIN_BAR_WIDTH > room:
            # no room for both: the words win, the percentage stays, the bar goes
            return max(self.MIN_LABEL_WIDTH, min(label_len + 1, room)), 0
        bar = min(self.BAR_WIDTH, room - label_len - 1)
        return label_len + 1, bar

    def render(self) -> Text:
        label = self._label if isinstance(self._label, Text) else Text(self._label)
        label = label.copy()
        label_width, bar_width = self._widths(label.cell_len)
        label.truncate(label_width - 1, overflow="ellipsis", pad=True)
        line = Text(no_wrap=True, overflow="crop")
        line.append_text(label)
        line.append(" ")
        if self._fraction is not None:
            done, todo = bar_text(self._fraction, bar_width)
            if bar_width:
                line.append(done, style=self._style("stage-progress--done"))
                line.append(todo, style=self._style("stage-progress--todo"))
            line.append(f" {self._fraction * 100:3.0f}% ")
        line.append(f" {self._note}" if self._note else "")
        return line
