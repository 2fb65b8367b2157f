"""``flowqd analyze absorbance``: first exciton, PSD (Segets method), concentration and yield from UV-vis files.

Heavy imports (numpy, scipy, matplotlib) happen inside the command. Every file is analysed before anything is
written: one bad file stops the command with a single red line naming it (exit code 2) and no output file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from flowqd.cli._common import (
    analyze_files,
    check_output,
    exit_if_skipped,
    print_json,
    print_table,
    report_skipped,
)
from flowqd.errors import FlowqdError

__all__ = ["CSV_COLUMNS", "register"]

#: Scalar columns of ``--csv`` (the JSON adds the ``psd`` object).
CSV_COLUMNS: tuple[str, ...] = (
    "file", "label", "peak_wavelength_nm", "peak_method", "x13_nm", "sigma_nm", "rsd", "x13_uncertainty_nm",
    "rsd_uncertainty", "fit_residual_rms", "volume_fraction", "concentration_mg_ml", "concentration_mol_l",
    "yield", "production_mg_h", "material", "sizing_curve", "baseline", "fit_residual_relative",
)


def _window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(p) for p in text.replace(" ", "").split(","))
    except ValueError:
        raise FlowqdError(f"--baseline-window must be 'MIN,MAX' in nm (got {text!r})") from None
    if not lo < hi:
        raise FlowqdError(f"--baseline-window must have MIN < MAX (got {text!r})")
    return lo, hi


def absorbance(
    files: Annotated[list[Path], typer.Argument(help="Absorbance spectrum files (CSV/TSV, JCAMP-DX, OceanView...).")],
    material: str = typer.Option("InP", "--material", help="Material (InP, CdSe or a .toml path)."),
    sizing_curve: str | None = typer.Option(
        None, "--sizing-curve", help="Sizing curve of the material (InP: wang-segets-2023 (default), almeida-2023; "
        "CdSe: yu-2003 (default), jasieniak-2009); every result names the curve used."),
    column: str | None = typer.Option(
        None, "--column", help="Analyse only this spectrum of a multi-column file (label or 0-based index); "
        "default: every column, one result each."),
    solvent: str = typer.Option("hexane", "--solvent", help="Dispersion solvent (name or refractive index)."),
    path_mm: float = typer.Option(1.0, "--path-mm", help="Optical path length, mm."),
    dilution: float = typer.Option(1.0, "--dilution", help="Dilution factor of the measured sample (>= 1)."),
    in_feed_mmol_l: float = typer.Option(None, "--in-feed-mmol-l", help="In concentration in the feed (mmol/L)."),
    outlet_flow_ml_min: float = typer.Option(None, "--outlet-flow-ml-min", help="Reactor outlet flow (mL/min)."),
    wavelength_star_nm: float | None = typer.Option(
        None, "--wavelength-star", help="λ* of the concentration (nm); default: the material's (InP 413.3, CdSe 350)."),
    baseline_window: str | None = typer.Option(
        None, "--baseline-window", help="Absorption-free window 'MIN,MAX' nm; default: found in each spectrum past "
        "the absorption onset, else the fit carries an offset (result: baseline fitted)."),
    method: str = typer.Option("pdas", "--method", help="PSD method: pdas (default), nnls-gcv (scipy) or lognormal."),
    wavelength_unit: str | None = typer.Option(None, "--wavelength-unit",
                                        help="Declare the wavelength unit (nm, um, ev, cm-1); default nm, checked."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list (one object per file)."),
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write a CSV table of the results.")] = None,
    plot_out: Annotated[
        Path | None, typer.Option("--plot", help="Write a figure (spectrum + fit + residual, PSD q3).")
    ] = None,
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip files that cannot be analysed (one warning line "
                                  "each, exit code 1) instead of stopping at the first."),
) -> None:
    """First exciton, PSD (x13, σ, RSD; Segets method), concentration, yield and production rate."""

    from flowqd.analysis.absorbance import analyze_absorbance
    from flowqd.analysis.io import read_spectra
    from flowqd.analysis.psd import PSD_METHODS
    from flowqd.materials import get_material

    if method not in PSD_METHODS:
        raise FlowqdError(f"unknown --method {method!r}; choose one of {', '.join(PSD_METHODS)}")
    check_output(csv_out, "--csv")
    check_output(plot_out, "--plot")
    window: Any = _window(baseline_window) if baseline_window is not None else "auto"
    mat = get_material(material).with_sizing_curve(sizing_curve)
    feed = None if in_feed_mmol_l is None else in_feed_mmol_l / 1000.0
    pick: int | str | None = int(column) if column is not None and column.strip().isdigit() else column

    column_skipped: list[str] = []

    def analyze(f: Path) -> Any:
        out = []
        for s in read_spectra(f, kind="absorbance", wavelength_unit=wavelength_unit, column=pick):
            try:
                out.append(analyze_absorbance(
                    s, material=mat, solvent=solvent, path_mm=path_mm, dilution=dilution,
                    wavelength_star_nm=wavelength_star_nm, in_feed_mol_l=feed,
                    outlet_flow_ml_min=outlet_flow_ml_min, baseline_window_nm=window, psd_method=method,
                ))
            except FlowqdError as err:  # one bad column of a multi-column file: skipped like a bad file
                if not skip_bad:
                    raise
                column_skipped.append(str(err))
        return out

    per_file, skipped = analyze_files(files, analyze, skip_bad=skip_bad, label="analysing",
                                      quiet=json_out or len(files) < 2)
    if column_skipped:
        n_spectra = len(column_skipped) + sum(len(rs) for _, rs in per_file)
        report_skipped(column_skipped, n_spectra, what="spectra" if n_spectra > len(files) else "files")
        skipped = [*skipped, *column_skipped]
    results = [(f, r) for f, rs in per_file for r in rs]
    rows = [{"file": str(f), **r.to_dict()} for f, r in results]
    if csv_out is not None:
        import csv

        with open(csv_out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
            w.writeheader()
            for row in rows:
                w.writerow({k: ("" if row[k] is None else row[k]) for k in CSV_COLUMNS})
    # one multi-column file (a growth series): name it once in the title, label the rows by their column
    one_file = len({str(f) for f, _ in results}) == 1 and all(r.label for _, r in results)
    names = [r.label if one_file else f.name + (f" [{r.label}]" if r.label else "") for f, r in results]
    file_title = results[0][0].name if one_file else None
    if plot_out is not None:
        from flowqd.report.absorbance_plot import plot_absorbance_results

        plot_absorbance_results([r for _, r in results], plot_out, labels=names, title=file_title)
    if json_out:
        print_json(rows)
        exit_if_skipped(skipped)
        return
    cells = []
    for name, row in zip(names, rows, strict=True):
        pk = "—" if row["peak_wavelength_nm"] is None else f"{row['peak_wavelength_nm']:.1f}"
        ux = row["x13_uncertainty_nm"]
        ur = row["rsd_uncertainty"]
        conc = "—" if row["concentration_mg_ml"] is None else f"{row['concentration_mg_ml']:.3g}"
        rel = row["fit_residual_relative"]
        cells.append([
            name,
            pk,
            {"second-derivative": "2nd deriv."}.get(row["peak_method"], row["peak_method"]),
            f"{row['x13_nm']:.3f}" + ("" if ux is None else f"±{ux:.3f}"), f"{row['sigma_nm']:.3f}",
            f"{100 * row['rsd']:.1f}" + ("" if ur is None else f"±{100 * ur:.1f}"),
            "—" if rel is None else f"{100 * rel:.1f}", conc,
        ])
    title = f"absorbance analysis ({mat.name}, Segets PSD, sizing curve {mat.sizing.name})"
    if file_title is not None:
        title += f"\n{file_title}"
    print_table(title,
                ["spectrum" if one_file else "file", "peak\n(nm)", "peak\nby", "x13\n(nm)", "σ\n(nm)", "RSD\n(%)",
                 "fit resid.\n(% of A\npeak)", "c\n(mg/mL)"],
                cells, right=(1, 3, 4, 5, 6, 7), fold=(0,))
    exit_if_skipped(skipped)


def register(analyze_app: typer.Typer) -> None:
    """Add the ``absorbance`` command to the ``analyze`` group."""
    analyze_app.command("absorbance")(absorbance)
