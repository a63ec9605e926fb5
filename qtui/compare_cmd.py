"""`qtui compare A B`: the command's work (the comparison itself is `qtui.core.compare`): resolve
the two sides, print the table (Rich, fitted to the terminal) or markdown/CSV/JSON, and exit 1
when `--fail-on-regression PCT` finds a cell slower by more than PCT % with confidence."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from qtui.core.compare import (
    CompareError,
    Comparison,
    Side,
    compare,
    regressions,
    resolve_side,
    side_from_results,
    to_csv,
    to_html,
    to_json_data,
    to_markdown,
)
from qtui.core.results import RunResult
from qtui.core.sinks import for_terminal

EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2


def print_table(cmp: Comparison) -> None:
    """The comparison on a terminal (`qtui.ui.widgets.comparison.ComparisonView`: header lines, a
    table that fits the terminal, the per-cell differences it had no room for, the footer)."""
    from rich.console import Console

    from qtui.ui.widgets.comparison import ComparisonView

    Console(file=sys.stdout).print(ComparisonView(cmp))


def _resolver(results_dirs: tuple[str, ...]) -> tuple[list[Path], Callable[[str], Side]]:
    """The folders where run ids, devices and studies are looked up, and what resolves an
    argument among them (exits 2 for one that names no results)."""
    from qtui.core.paths import results_dir
    from qtui.core.results import load_results, load_results_dirs

    def warn(message: str) -> None:
        click.echo(for_terminal(message), err=True)

    if results_dirs:
        roots = [Path(d) for d in results_dirs]
    else:
        try:
            roots = [results_dir(None)]
        except OSError as exc:
            _bad_input(f"results folder: {exc.strerror or exc}")
    pool_cache: list[Any] = []

    def pool() -> list[Any]:
        if not pool_cache:
            pool_cache.append(load_results_dirs([r for r in roots if r.is_dir()], warn))
        return pool_cache[0]  # type: ignore[no-any-return]

    def resolve(arg: str) -> Side:
        try:
            return resolve_side(arg, roots, lambda p: load_results(p, warn), pool)
        except CompareError as exc:
            _bad_input(str(exc))

    return roots, resolve


def run_compare(
    a: str, b: str, results_dirs: tuple[str, ...], fmt: str, fail_pct: float | None, output: str | None = None
) -> None:
    """The command: exits 2 for an argument that names no results, 1 for a regression beyond
    `fail_pct`, else returns (0)."""
    _, resolve = _resolver(results_dirs)
    side_a, side_b = resolve(a), resolve(b)
    for label, side in (("A", side_a), ("B", side_b)):
        if not side.results:
            _bad_input(f"{label} ({side.name}): no results there")
    if fmt == "table" and output is not None:
        _bad_input("--output: the table is for a terminal; use --format markdown, csv, json or html")
    cmp = compare(side_a, side_b)
    if fmt == "table":
        print_table(cmp)
    else:
        if fmt == "json":
            from qtui.core.text import json_text

            text = json_text(to_json_data(cmp)) + "\n"
        else:
            text = {"markdown": to_markdown, "csv": to_csv, "html": to_html}[fmt](cmp)
        if output is None:
            click.echo(for_terminal(text, multiline=True), nl=False)
        else:
            try:
                Path(output).write_text(text, encoding="utf-8")
            except OSError as exc:
                _bad_input(f"--output {output}: {exc.strerror or exc}")
            click.echo(f"wrote the comparison to {for_terminal(output)}", err=True)
    if fail_pct is None:
        return
    found = regressions(cmp, fail_pct)
    for cell in found:
        what = " ".join(cell.key)
        click.echo(
            for_terminal(
                f"regression: {what}: B slower by {cell.change_pct:.1f} % "
                f"[{((cell.low or 1) - 1) * 100:.1f}–{((cell.high or 1) - 1) * 100:.1f} %], more than {fail_pct:g} %"
            ),
            err=True,
        )
    if found:
        sys.exit(EXIT_REGRESSION)
    click.echo(f"no cell slower by more than {fail_pct:g} % with confidence", err=True)


def report_comparison(baseline: str, chosen: list[RunResult], results_dirs: tuple[str, ...]) -> Comparison:
    """`qtui report --compare-to A`: the report's results (less A's own runs) as B against A (a
    results folder, device, run id or study, as `qtui compare` takes it); exits 2 when A names
    no results or nothing of the report is left for B."""
    roots, resolve = _resolver(results_dirs)
    side_a = resolve(baseline)
    if not side_a.results:
        _bad_input(f"--compare-to {baseline}: no results there")
    in_a = {r.run_id for r in side_a.results}
    rest = [r for r in chosen if r.run_id not in in_a]
    if not rest:
        _bad_input(f"--compare-to {baseline}: the report's {len(chosen)} results are all in A; nothing is left to compare with it")
    return compare(side_a, side_from_results("results", "this report's", rest, roots))


def _bad_input(message: str) -> NoReturn:
    click.echo(f"qtui: {for_terminal(message)}", err=True)
    sys.exit(EXIT_BAD_INPUT)
