"""The profiling pass of a run profile: its artifact (from the cache, or prepared now), profiled
by its runtime (`qtui.core.explain.collect`), saved into the results folder's `explain/` and its
summary kept per artifact (`cite.summary_path`). Apart from the package so that what only reads
profiles (the HTML report, `explain.offline`) never reaches the runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtui.core import explain as ex
from qtui.core.explain import Profile


def profile_and_save(run_profile: Any, folder: Path, runs: int = 5, on_event: Any = None,
                     stop: Any = None) -> tuple[Profile, Path]:
    """The profiling pass of a run profile's artifact (prepared, or found in the cache): its
    profile, saved into `folder`, and its summary stored beside the artifact; the saved path.

    With `stop` (a threading.Event; the TUI's worker) setting it cancels the preparation and the
    profiled runs the way a run is cancelled (`threads.Cancelled` is raised, nothing is saved);
    without it everything runs in this thread (the CLI interrupts it with KeyboardInterrupt)."""
    from qtui.core.runner import prepare_only, resolve_threads
    from qtui.core.threads import run_cancellable

    artifact, _ = prepare_only(run_profile, on_event, stop)
    threads = resolve_threads(run_profile.threads)
    if stop is None:
        made = ex.collect(artifact, run_profile.model, threads, runs)
    else:
        if on_event is not None:
            from qtui.core import events as ev

            on_event(ev.Preparing(f"profiling {runs} batch-1 inferences (not a timed run)"))
        made = run_cancellable("profiling", lambda: ex.collect(artifact, run_profile.model, threads, runs), stop)
    path = ex.save(made, folder)
    ex.save_summary_with_artifact(made, artifact.directory.name)
    return made, path
