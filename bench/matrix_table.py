"""The quantization matrix as one table, from saved results: model × framework × precision with
Offline samples/s (and the GOP/s it amounts to, with its share of the CPU's nominal peak where the
environment gives the clock), SingleStream p90, fidelity against FP32 torch (SQNR, centred top-1 agreement;
from accuracy-mode runs), artifact size, preparation time and peak memory, and the precision the
runtime actually executed.

    .venv/bin/qtui run paper-matrix --results-dir R                       # Offline + SingleStream
    .venv/bin/qtui run paper-matrix --results-dir R --set mode=accuracy \\
        --set 'sweep.scenarios=["Offline"]'                                # fidelity
    .venv/bin/python bench/matrix_table.py R [--format markdown|text]

The newest ok/invalid result of each (model, framework, precision, scenario, mode) is used.
Preparation figures come from the artifact's metadata (when it was made: a cached artifact keeps
the figures of the run that prepared it).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qtui.core.catalog import FRAMEWORK_TITLES, MODEL_TITLES, PRECISION_TITLES
from qtui.core.ops import MODEL_MACS, fraction_text, run_efficiency
from qtui.core.profile import FRAMEWORKS, MODELS, PRECISIONS
from qtui.core.results import RunResult, load_results


def newest(results: list[RunResult]) -> dict[tuple[str, str, str, str, str], RunResult]:
    out: dict[tuple[str, str, str, str, str], RunResult] = {}
    for r in results:  # oldest first: later ones win
        if r.status in ("ok", "invalid"):
            p = r.profile
            out[(p.model, p.framework, p.precision, p.scenario, p.mode)] = r
    return out


def fmt(value: Any, pattern: str) -> str:
    return "–" if value is None else format(value, pattern)


def peak_text(art: dict[str, Any]) -> str:
    """Peak RSS of the preparing process, and (+Δ) what preparing added over its start."""
    peak, start = art.get("prepare_peak_rss_bytes"), art.get("prepare_start_rss_bytes")
    if not peak:
        return "–"
    return f"{peak / 1e9:.2f}" + (f" (+{max(0, peak - start) / 1e9:.2f})" if start else "")


def limit_text(model: str, fw: str, prec: str, off: RunResult | None) -> tuple[str, str]:
    """Achieved GOP/s of the Offline run (2 × the model's counted MACs × samples/s) and its
    share of the CPU's nominal peak for the arithmetic that executed (the run's recorded
    `efficiency`, else qtui.core.ops from its executed precision), '–' where unknown; '≤' when
    the clock behind the peak may be below the real one."""
    if off is None or not off.throughput.get("samples_per_s") or model not in MODEL_MACS:
        return "–", "–"
    eff = off.efficiency
    if eff is None:
        env = dict(off.environment or {})
        env.setdefault("threads", off.profile.threads or None)
        eff = run_efficiency(model, float(off.throughput["samples_per_s"]), env, prec,
                             off.artifact.get("executed_precision"), fw)
    if eff is None:
        return "–", "–"
    gops, fraction = eff.get("achieved_gops"), eff.get("fraction_of_nominal_peak")
    share = "–" if fraction is None else fraction_text(float(fraction), eff.get("fraction_is_upper_bound") is True)
    return f"{float(gops):.0f}", share


def rows(results: list[RunResult]) -> list[list[str]]:
    best = newest(results)
    table = []
    for model in MODELS:
        for fw in FRAMEWORKS:
            for prec in PRECISIONS:
                off = best.get((model, fw, prec, "Offline", "performance"))
                ss = best.get((model, fw, prec, "SingleStream", "performance"))
                acc = best.get((model, fw, prec, "Offline", "accuracy")) or best.get((model, fw, prec, "SingleStream", "accuracy"))
                if not (off or ss or acc):
                    continue
                any_run = off or ss or acc
                assert any_run is not None
                art = any_run.artifact
                fid = (acc.accuracy or {}).get("fidelity") if acc else None
                executed = str(art.get("executed_precision") or "–")
                table.append([
                    MODEL_TITLES.get(model, model),
                    FRAMEWORK_TITLES.get(fw, fw),
                    PRECISION_TITLES.get(prec, prec),
                    fmt(off.throughput.get("samples_per_s") if off else None, ".0f"),
                    fmt(ss.latency_ms.get("p90") if ss else None, ".2f"),
                    *limit_text(model, fw, prec, off),
                    "ref" if (fid and prec == "fp32" and fw == "torch") else fmt((fid or {}).get("sqnr_db"), ".1f"),
                    fmt((fid or {}).get("centred_top1_agreement"), ".2f"),
                    fmt((art.get("size_bytes") or 0) / 1e6 or None, ".1f"),
                    fmt(art.get("prepare_seconds"), ".1f"),
                    peak_text(art),
                    executed[:90] + ("…" if len(executed) > 90 else ""),
                ])
    return table


HEADER = ["model", "framework", "precision", "Offline /s", "SS p90 ms", "GOP/s", "nominal peak", "SQNR dB", "centred agr.",
          "MB", "prep s", "prep peak GB (+Δ)", "executed"]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("results_dir", type=Path)
    ap.add_argument("--format", choices=["markdown", "text"], default="markdown")
    args = ap.parse_args()
    table = rows(load_results(args.results_dir))
    if args.format == "markdown":
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
        for row in table:
            print("| " + " | ".join(row) + " |")
    else:
        for row in [HEADER, *table]:
            print("  ".join(row))


if __name__ == "__main__":
    main()
