"""Saved per-layer profiles read back with no runtime: `qtui explain` and the TUI save each
profile (bounded: `explain.MAX_ROWS`, `MAX_TEXT`) into the results folder's `explain/`, beside
the runs, so a results folder copied from another machine (a Pi) carries them. `report` over
such a folder cites each quantized cell's executed precision from them (`summaries`) where this
machine's cache has no summary of that artifact, and `report --format html` shows them side by
side per model (`html_sections`). Reads files only: never a runtime, never the runner."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from qtui.core.explain import ExplainError, Profile, load, render, side_by_side, summarize

#: Under the side-by-side tables of the HTML report.
HTML_LEGEND = ("One row per source layer of the model, one column per artifact: the operator that ran, the "
               "precision it executed in and the layer's median time (batch 1, ms, with its bias, activation "
               "and (de)quantize nodes); - where the artifact has no node of that layer. Made by each runtime's "
               "own profiler with `qtui explain`, never a timed run: the figures of the study tables stay LoadGen's.")
#: Most profile files read per results folder (the newest first).
MAX_FILES = 200


def saved_profiles(roots: Iterable[Path], warn: Callable[[str], None] | None = None) -> list[Profile]:
    """The profiles saved in each results folder's `explain/` (one per file name: the first root
    that has it wins), oldest first; a damaged file is skipped with a one-line `warn`."""
    seen: set[str] = set()
    found: list[tuple[float, str, Profile]] = []
    for root in roots:
        folder = Path(root) / "explain"
        try:
            files = sorted(folder.glob("explain-*.json"), key=lambda p: -p.stat().st_mtime)[:MAX_FILES] if folder.is_dir() else []
        except OSError as exc:
            if warn is not None:
                warn(f"warning: cannot list saved profiles in {folder}: {exc}")
            continue
        for path in files:
            if path.name in seen:
                continue
            try:
                profile = load(path)
                mtime = path.stat().st_mtime
            except (ExplainError, OSError) as exc:
                if warn is not None:
                    warn(f"warning: skipping saved profile: {exc}")
                continue
            seen.add(path.name)
            found.append((mtime, path.name, profile))
    return [p for _, _, p in sorted(found, key=lambda t: (t[0], t[1]))]


def summaries(profiles: Iterable[Profile]) -> dict[str, dict[str, Any]]:
    """`{artifact key: executed-precision summary}` of saved profiles (the newest per artifact)."""
    return {p.artifact: summarize(p) for p in profiles}


def html_sections(profiles: list[Profile], models: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per model (of `models`, the model labels of the report's runs; every one when None), its
    saved profiles for the HTML report: each profile's summary lines, and one side-by-side table
    (one row per source layer, one column per artifact; 'op precision ms' per cell)."""
    from qtui.core.model_source import model_label

    wanted = None if models is None else {model_label(m) for m in models}
    by_model: dict[str, list[Profile]] = {}
    for p in profiles:
        label = model_label(p.model)
        if wanted is None or label in wanted:
            by_model.setdefault(label, []).append(p)
    out = []
    for model, group in sorted(by_model.items(), key=lambda kv: kv[0].casefold()):
        group.sort(key=lambda p: (p.framework, p.precision))
        layers, _ = side_by_side(group)
        out.append({
            "model": model,
            "summaries": [{"label": render.column_label(p), "lines": render.summary_lines(p)} for p in group],
            "header": render.side_headers(group, compact=False),
            "rows": [[("" if c is None else str(c)) for c in row] for row in render.side_rows(group, compact=False)] if layers else [],
        })
    return out
