"""The one function per place text read from a file can end up: a terminal, a shell command,
a CSV cell, a Markdown table. Text from a result, profile, bundle manifest or the system
(`/proc`, sysfs) reaches each of those only through the function made for it here:

- `for_terminal`: no control characters, ESC/CSI/OSC sequences or bidi overrides (see
  `qtui.core.text.clean_text`); one line unless `multiline`.
- `shell_command`: an argv as one command line, every argument shell-quoted (`shlex.quote`), so
  that pasting it runs exactly that argv; an argument that could not be shown on a terminal as
  it is (a control character) is refused, since cleaning it would change the command.
- `for_csv`: a text cell on one line and, when a spreadsheet would read it as a formula (it
  starts with `=`, `+`, `-`, `@`, a tab or a carriage return, after any spaces), with a leading
  `'` (OWASP's advice); numbers, booleans and empty cells are left as they are.
- `for_markdown`: a table cell or heading on one line with HTML (`<`, `>`, `&`) escaped, `\\` and
  `|` escaped so the cell stays one cell, and `](` escaped so no link or image can be formed.

The HTML report escapes through its own template engine (`qtui.core.report_html`).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from qtui.core.text import clean_text, one_line

#: What makes a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a formula.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def for_terminal(value: object, *, multiline: bool = False) -> str:
    """`value` as text safe to print: no control characters or sequences; tabs and line breaks
    become spaces unless `multiline` (then they are kept, for a block of text qtui assembled)."""
    return clean_text(value) if multiline else one_line(value)


def shell_command(argv: Sequence[str]) -> str:
    """`argv` as a command line a POSIX shell splits back into exactly `argv` (`shlex.split` of
    the result is `list(argv)`). Raises ValueError for an argument that holds a character a
    terminal would not show as it is (it would reach the terminal raw inside the quotes)."""
    for arg in argv:
        if clean_text(arg) != arg or "\n" in arg or "\t" in arg:
            raise ValueError(f"not printable as a command argument: {arg!r}")
    return " ".join(shlex.quote(arg) for arg in argv)


def for_csv(cell: object) -> object:
    """A CSV cell: numbers (int, float; not bool-as-text), booleans and None unchanged; any other
    value as one line of text, prefixed with `'` when a spreadsheet would take it for a formula
    (a negative figure in a numeric column is a number and stays one)."""
    if cell is None or isinstance(cell, (bool, int, float)):
        return cell
    text = one_line(cell)
    if text.lstrip(" ").startswith(CSV_FORMULA_STARTS):
        return "'" + text
    return text


def for_markdown(value: object) -> str:
    """`value` as the text of one Markdown table cell (or heading): one line, HTML escaped, `|`
    and `\\` escaped, no link or image syntax."""
    text = one_line(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("](", "]\\(")
