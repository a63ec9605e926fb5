"""Every run's per-query latencies, saved beside its result and read back with numpy alone.

`save_latencies` writes `<run dir>/latencies.npz` (`numpy.savez_compressed`): `latency_ns`, a
1-D int64 array of nanoseconds in arrival order (per query; per batch in Offline, as the
recorder sees them), and `total`, the number of queries the run recorded. The file is bounded:
at most `MAX_SAVED_LATENCIES` values (8 MB before compression); a longer run keeps every
`stride`-th query (an evenly spaced sample in arrival order) and says so (`stride`, `capped`).
The result records what was written in its `raw_latencies` table (`save_latencies`' return).

`load_latencies` reads such a file back, refusing anything that is not one (not a regular
file, larger than any file qtui writes, a member whose uncompressed size exceeds the bound, a
pickled object, the wrong dtype or shape): a results folder may come from another machine.

`latency_summary` is the summary every result carries in `latency_ms` beyond the percentiles:
min, mean, max and the standard deviation.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qtui.core.files import atomic_write, open_regular

RAW_LATENCIES_FILE = "latencies.npz"
#: The most latencies a run saves: a 600-s run of 100 000 queries saves all of them; a run of
#: millions of sub-millisecond queries saves an evenly spaced sample of this many.
MAX_SAVED_LATENCIES = 1_000_000
#: A latencies file larger than this is not one qtui wrote (int64 values + the zip's overhead).
MAX_FILE_BYTES = 8 * MAX_SAVED_LATENCIES + 64 * 1024


class LatencyFileError(ValueError):
    """A file that is not a latencies file qtui can read; the message says why."""


@dataclass(frozen=True)
class RawLatencies:
    """Latencies read back: `latency_ns` (every `stride`-th of the `total` the run recorded)."""

    latency_ns: np.ndarray
    total: int
    stride: int

    @property
    def capped(self) -> bool:
        return self.stride > 1


def latency_summary(latencies_ns: np.ndarray) -> dict[str, float | None]:
    """min, mean, max and the (population) standard deviation in ms; None without latencies."""
    if latencies_ns.size == 0:
        return {"min": None, "mean": None, "max": None, "std": None}
    data = latencies_ns.astype(np.float64)
    return {
        "min": float(data.min()) / 1e6,
        "mean": float(data.mean()) / 1e6,
        "max": float(data.max()) / 1e6,
        "std": float(data.std()) / 1e6,
    }


def save_latencies(run_dir: Path, latencies_ns: np.ndarray, cap: int = MAX_SAVED_LATENCIES) -> dict[str, Any]:
    """Write `latencies_ns` (at most `cap` of them: every `stride`-th beyond) to
    `run_dir/latencies.npz` atomically; returns what the result records about it. Raises
    OSError when the file cannot be written."""
    data = np.asarray(latencies_ns, dtype=np.int64).ravel()
    total = int(data.size)
    stride = max(1, math.ceil(total / cap)) if cap > 0 else 1
    kept = data[::stride]
    path = Path(run_dir) / RAW_LATENCIES_FILE
    atomic_write(path, lambda fh: np.savez_compressed(fh, latency_ns=kept, total=np.int64(total), stride=np.int64(stride)),
                 make_folder=False)  # a run folder that is gone is not made again
    return {
        "file": RAW_LATENCIES_FILE,
        "unit": "ns",
        "total": total,
        "saved": int(kept.size),
        "stride": stride,
        "capped": stride > 1,
        "bytes": path.stat().st_size,
    }


def _member(archive: zipfile.ZipFile, name: str, limit: int) -> np.ndarray:
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise LatencyFileError(f"no '{name}' array") from None
    if info.file_size > limit:
        raise LatencyFileError(f"'{name}' is {info.file_size} bytes uncompressed, more than {limit}")
    with archive.open(info) as fh:
        try:
            return np.lib.format.read_array(fh, allow_pickle=False)  # type: ignore[no-any-return]
        except (ValueError, OSError, EOFError) as exc:
            raise LatencyFileError(f"'{name}' is not a numpy array ({exc})") from None


def load_latencies(path: Path) -> RawLatencies:
    """The latencies saved at `path` (a `latencies.npz`); `LatencyFileError` when it is not
    such a file, OSError when it cannot be read."""
    with open_regular(path) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise LatencyFileError(f"{size} bytes, more than a latencies file can be ({MAX_FILE_BYTES})")
        try:
            with zipfile.ZipFile(fh) as archive:
                values = _member(archive, "latency_ns", 8 * MAX_SAVED_LATENCIES + 1024)
                total = _member(archive, "total", 1024)
                stride = _member(archive, "stride", 1024)
        except zipfile.BadZipFile as exc:
            raise LatencyFileError(f"not a .npz file ({exc})") from None
    if values.dtype != np.int64 or values.ndim != 1:
        raise LatencyFileError(f"'latency_ns' is {values.dtype} of shape {values.shape}, not a 1-D int64 array")
    if values.size and int(values.min()) < 0:
        raise LatencyFileError("'latency_ns' holds a negative latency")
    counts = []
    for name, arr in (("total", total), ("stride", stride)):
        if arr.shape != () or arr.dtype.kind not in "iu" or int(arr) < 0:
            raise LatencyFileError(f"'{name}' is not a count")
        counts.append(int(arr))
    n_total, n_stride = counts
    if n_stride < 1 or values.size != len(range(0, n_total, n_stride)):
        raise LatencyFileError(f"{values.size} latencies do not match total {n_total} and stride {n_stride}")
    return RawLatencies(values, n_total, n_stride)


def run_folder(run_id: str, roots: list[Path], log_dir: Any = None) -> Path | None:
    """The folder of run `run_id` under one of `roots` (`<root>/<run id>`, where qtui saves a
    run), else the folder the run recorded as LoadGen's log dir; None when neither holds it."""
    candidates = [Path(root) / run_id for root in roots] if run_id not in ("", ".", "..") and "/" not in run_id else []
    if isinstance(log_dir, str) and log_dir:
        candidates.append(Path(log_dir))
    for folder in candidates:
        if (folder / "result.json").is_file():
            return folder
    return None


# -- exports (`qtui report --format percentiles|latencies`) -------------------------------------
#: The percentiles every export lists, in µs.
PERCENTILE_KEYS = ("p50", "p90", "p95", "p99", "p99.9")
PERCENTILE_COLUMNS = (
    "run_id", "model", "framework", "precision", "scenario", "status", "device", "basis", "queries",
    *(f"{k}_us" for k in PERCENTILE_KEYS), "max_us", "mean_us", "std_us", "min_us",
    "raw_saved", "raw_capped",
)


def _us(value: Any) -> float | None:
    """A figure in ms as µs, to 0.001 µs (the recorder's resolution is 1 ns); None if absent."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round(float(value) * 1000.0, 3)


def percentile_rows(results: list[Any], device_label: Any) -> list[dict[str, Any]]:
    """One row per result (`PERCENTILE_COLUMNS`): every percentile, max, mean, std and min in
    µs, and how many raw latencies were saved (empty for results saved before they were)."""
    from qtui.core.text import one_line

    rows = []
    for r in results:
        lat, raw = r.latency_ms, r.raw_latencies or {}
        rows.append({
            "run_id": one_line(r.run_id), "model": r.profile.model, "framework": r.profile.framework,
            "precision": r.profile.precision, "scenario": r.profile.scenario, "status": r.status,
            "device": device_label(r), "basis": one_line(lat.get("basis") or ""),
            "queries": r.throughput.get("queries"),
            **{f"{k}_us": _us(lat.get(k)) for k in PERCENTILE_KEYS},
            **{f"{k}_us": _us(lat.get(k)) for k in ("max", "mean", "std", "min")},
            "raw_saved": raw.get("saved") if raw.get("file") else None,
            "raw_capped": raw.get("capped") if raw.get("file") else None,
        })
    return rows


def latency_rows(results: list[Any], roots: list[Path], warn: Any) -> Any:
    """(run id, query index, latency µs) for every saved latency of `results`, run by run; a
    run without a readable latencies file is named through `warn` and skipped. The index is
    the query's position in the run (`stride` apart when the run's file was capped)."""
    from qtui.core.text import one_line

    for r in results:
        folder = run_folder(r.run_id, roots, r.loadgen.get("log_dir"))
        path = folder / RAW_LATENCIES_FILE if folder is not None else None
        if path is None or not path.exists():
            if r.raw_latencies is not None or r.status != "failed":
                warn(f"{one_line(r.run_id)}: no raw latencies saved beside its result")
            continue
        try:
            raw = load_latencies(path)
        except (OSError, ValueError) as exc:
            warn(f"{path}: {exc}")
            continue
        if raw.capped:
            warn(f"{one_line(r.run_id)}: {raw.latency_ns.size} of {raw.total} latencies saved (every {raw.stride}th)")
        us = raw.latency_ns / 1000.0
        for i, value in enumerate(us.tolist()):
            yield one_line(r.run_id), i * raw.stride, round(value, 3)


def to_csv_text(columns: tuple[str, ...], rows: Any) -> str:
    """Rows (dicts or tuples) as CSV; text cells through `sinks.for_csv`."""
    import csv
    import io

    from qtui.core.sinks import for_csv

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        values = [row[c] for c in columns] if isinstance(row, dict) else list(row)
        writer.writerow(["" if v is None else v if isinstance(v, (int, float)) else for_csv(v) for v in values])
    return buf.getvalue()
