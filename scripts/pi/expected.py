"""What the README promises on a Raspberry Pi for the pairs `scripts/pi-check` runs, and the
verdict on what `qtui doctor --json` says on an emulated board.

README (section "Raspberry Pi"): with the Pi's extras (onnxruntime, tflite, torch, openvino)
installed and the TFLite / OpenVINO INT8 artifacts imported from a bundle, ONNX Runtime, TFLite
and PyTorch run FP32 and INT8 static on a Pi 4 and a Pi 5, OpenVINO runs FP32 and INT8 (weight
only) on both, and OpenVINO INT8 static runs only where the CPU has dot-product instructions
(`asimddp`: the Pi 5); on the Pi 4 qtui refuses it and says why. A pair the README says runs
that `qtui doctor` does not offer is a failure of the check, never a skip.

usage: python3 expected.py DOCTOR_JSON BOARD FRAMEWORK PRECISION
prints `run` (run it), `refuse` (qtui must refuse it, with its reason) or `FAIL: <why>`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

BOARDS = {"pi4": "Raspberry Pi 4", "pi5": "Raspberry Pi 5"}


def expected(board: str, framework: str, precision: str) -> str:
    """'runs' or 'refused': what the README says of this pair on this board."""
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r} (one of {', '.join(BOARDS)})")
    if (framework, precision) == ("openvino", "int8_static") and board == "pi4":
        return "refused"
    return "runs"


def verdict(doctor: dict[str, Any], board: str, framework: str, precision: str) -> str:
    """`run`, `refuse` or `FAIL: <why>` for this pair, from `qtui doctor --json` on the board."""
    combos = doctor.get("combinations") or []
    combo = next((c for c in combos if c.get("framework") == framework and c.get("precision") == precision), None)
    pair = f"{framework} {precision}"
    if combo is None:
        return f"FAIL: qtui doctor does not list {pair}"
    reason = str(combo.get("reason") or "")
    available = combo.get("available") is True
    if expected(board, framework, precision) == "runs":
        if available:
            return "run"
        return f"FAIL: the README says {pair} runs on a {BOARDS[board]}, but qtui doctor says: {reason}"
    if available:
        return f"FAIL: the README says {pair} is refused on a {BOARDS[board]} (no asimddp), but qtui doctor offers it"
    if "asimddp" not in reason:
        return f"FAIL: {pair} is refused on a {BOARDS[board]}, but not for the README's reason (asimddp): {reason}"
    return "refuse"


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("FAIL: usage: expected.py DOCTOR_JSON BOARD FRAMEWORK PRECISION")
        return 2
    path, board, framework, precision = argv
    try:
        with open(path, encoding="utf-8") as f:
            doctor = json.load(f)
        print(verdict(doctor, board, framework, precision))
    except (OSError, ValueError) as exc:
        print(f"FAIL: cannot judge {framework} {precision} on {board}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
