"""What `qtui fleet check` makes of what a device says (no ssh: what a device reports)."""

from __future__ import annotations

from qtui.fleet.cli import _throttled


def test_throttling_flags_from_the_pi_firmware() -> None:
    from qtui.core.environment import throttling

    assert _throttled(None) == "n/a"  # no Pi firmware: cannot tell
    assert _throttled(throttling(lambda _: "throttled=0x0\n")) == "no"
    # under-voltage now and since boot, soft temperature limit since boot only
    assert _throttled(throttling(lambda _: "throttled=0x80001\n")) == "!uv,temp"
