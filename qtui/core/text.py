"""Text from files, made safe for a terminal: `clean_text` removes terminal control sequences
(ESC/CSI/OSC/DCS, 8-bit C1 forms), C0/C1 control characters, bidirectional overrides and lone
surrogates; `one_line` also folds line breaks and tabs into spaces, for table cells.

Every string that came from a file (a result's run id, message, LoadGen verdict, environment, a
path in a warning) passes through here before qtui prints or draws it. This module only strips
characters: Rich markup (`[bold]`) is left as it is, so the CLI and UI must render such text as
`rich.text.Text`, never as markup.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

# ESC sequences first (7-bit and 8-bit forms), then any control character left over.
_SEQUENCES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?        # CSI ... final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])                       # OSC, DCS, SOS, PM, APC ...
      [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?                        # ... up to BEL or ST
    | \x1b [\x20-\x2f]* [\x30-\x7e]?                                # other escapes (nF, Fp, Fe, Fs)
    """,
    re.VERBOSE,
)
# C0 except tab and newline, DEL, C1, bidirectional embeddings/overrides/isolates.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile(r"[\t\n]")


def clean_text(value: object) -> str:
    """`value` as a string with no terminal control sequences or control characters (tabs and
    newlines are kept); lone surrogates, which no terminal can print, become "?"."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to remove
        return text
    text = _CONTROLS.sub("", _SEQUENCES.sub("", text))
    return text.encode("utf-8", "replace").decode("utf-8")


def one_line(value: object) -> str:
    """`clean_text`, with tabs and line breaks as spaces: for a table cell or a warning line."""
    return _BREAKS.sub(" ", clean_text(value))


#: Unicode categories a name that qtui stores must not contain: controls, format characters
#: (bidi overrides, zero-width joiners), surrogates, private use, unassigned, line separators.
_NOT_PLAIN = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


def is_plain(value: str) -> bool:
    """True when `value` is one line of ordinary printable text (a strict check for names and
    keys read from files, e.g. a bundle's manifest: such a value is refused, not cleaned)."""
    return all(unicodedata.category(ch) not in _NOT_PLAIN for ch in value)


def format_duration(seconds: float, decimals: int = 1) -> str:
    """A duration for people: `12.3s` (with `decimals` under a minute), `3m48s`, `1h02m`."""
    if seconds < 60:
        return f"{seconds:.{decimals}f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def plural(count: int, noun: str, plural_form: str | None = None, *, with_count: bool = True) -> str:
    """"1 run", "3 runs", "1 repeat", "0 repeats" (`plural_form` when adding "s" is wrong); the
    noun alone with `with_count=False`."""
    word = noun if count == 1 else (plural_form or noun + "s")
    return f"{count} {word}" if with_count else word


def json_text(data: Any) -> str:
    """`--json` output: strict JSON, never the bare `Infinity`/`NaN` that json.dumps writes and
    other JSON readers refuse; a figure that is not finite (the SQNR of identical outputs) is null."""

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(v) for v in value]
        return value

    return json.dumps(finite(json.loads(json.dumps(data, default=str))), indent=2, allow_nan=False)
