"""The machine an artifact is prepared for: this one, or a device of another architecture.

Two recipes depend on the CPU an artifact will run on: ONNX Runtime's INT8 static (U8S8 on x86,
with 7-bit weights where the CPU has no VNNI, S8S8 on ARM) and PyTorch's INT8 (packed and
calibrated for the x86 engine or QNNPACK). Both are ordinary code that runs on any CPU, so a
controller of `qtui fleet study` can make a Raspberry Pi's artifact on an x86 laptop:
`preparing_for(Target("aarch64"))` around the preparation makes those recipes read the target's
architecture (`machine()`, and `target().vnni` for x86) instead of this machine's, and the tools record (part of the
cache key) says the target's recipe, so the artifact is cached apart from this machine's own.
Outside the context nothing changes: every recipe reads this machine.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """A device an artifact is made for: its `platform.machine()` and, for x86, whether its CPU
    has VNNI (None: this machine's answer is not asked; an x86 target without it is given the
    safe side, as for a CPU whose flags cannot be read)."""

    machine: str
    vnni: bool | None = None


#: `qtui bundle export --for NAME`: the devices a bundle can be made for by name.
NAMED: dict[str, Target] = {
    "aarch64": Target("aarch64"),  # a Raspberry Pi 4/5 (64-bit OS), any ARM64 board
    "x86_64": Target("x86_64", vnni=False),  # an x86 CPU without VNNI (7-bit weights for ORT U8S8)
    "x86_64-vnni": Target("x86_64", vnni=True),  # an x86 CPU with AVX512-VNNI or AVX-VNNI
}

_TARGET: ContextVar[Target | None] = ContextVar("qtui_prepare_target", default=None)


def target() -> Target | None:
    """The device being prepared for, or None: this machine."""
    return _TARGET.get()


def machine() -> str:
    """The architecture the artifact being prepared will run on (`platform.machine()` spelling)."""
    current = _TARGET.get()
    return current.machine if current is not None else platform.machine()


@contextmanager
def preparing_for(device: Target | None) -> Iterator[None]:
    """Within the block, the architecture-bound recipes are the device's (None: this machine's,
    as outside any block)."""
    token = _TARGET.set(device)
    try:
        yield
    finally:
        _TARGET.reset(token)
