"""``flowqd analyze``: PL peak/FWHM/colour and PLQY from spectrum files.

The ``absorbance`` command of the same group lives in :mod:`flowqd.cli.analyze_absorbance` (registered here when
that module exists). numpy, scipy, colour and matplotlib are imported inside the commands, so ``flowqd --help``
stays fast. Outputs (CSV, plots) are written only after every input file has been analysed: one bad file stops the
command with its name in a one-line error (exit code 2) and nothing is written. Bad options raise
:class:`~flowqd.errors.FlowqdError` too (not ``fail()``/``typer.Exit``), so ``run_cli`` maps them to exit code 2.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from flowqd.cli._common import (
    analyze_files,
    check_output,
    console,
    err_console,
    exit_if_skipped,
    print_json,
    print_table,
)
from flowqd.errors import FlowqdError

__all__ = ["PL_JSON_KEYS", "register"]

#: Keys of each object printed by ``flowqd analyze pl --json`` (stable; also the CSV columns).
PL_JSON_KEYS: tuple[str, ...] = (
    "file", "peak_wavelength_nm", "fwhm_nm", "fwhm_mev", "cie_x", "cie_y", "dominant_wavelength_nm",
    "integrated_intensity", "quantity",
)


def _band(text: str, option: str) -> tuple[float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise FlowqdError(f"{option} must be two numbers 'MIN,MAX' in nm (got {text!r})") from None
    if not lo < hi:
        raise FlowqdError(f"{option} must have MIN < MAX (got {text!r})")
    return lo, hi


def pl(
    files: Annotated[
        list[Path], typer.Argument(help="PL spectrum files (CSV/TSV, JCAMP-DX, OceanView, AvaSoft).")
    ],
    quantity: str = typer.Option(
        "photon", "--quantity", help="What the values are: 'photon' (CCD counts, default) or 'power' (radiometric)."
    ),
    baseline_window: str = typer.Option(
        None, "--baseline-window", help="Subtract a constant fitted in this emission-free window, 'MIN,MAX' nm."
    ),
    smooth_nm: float = typer.Option(
        None, "--smooth", help="Find peak and FWHM on a Savitzky-Golay-smoothed copy with this window (nm)."
    ),
    file_format: str = typer.Option("auto", "--format", help="auto, csv, jcamp, oceanview or avantes."),
    wavelength_unit: str | None = typer.Option(None, "--wavelength-unit",
                                        help="Declare the wavelength unit (nm, um, ev, cm-1); default nm, checked."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list (one object per file)."),
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Also write the results table to this CSV file.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the PL plot to OUT.png and the CIE diagram to OUT-cie.png.")
    ] = None,
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip files that cannot be analysed (one warning line "
                                  "each, exit code 1) instead of stopping at the first."),
) -> None:
    """Peak wavelength, FWHM (nm, meV), CIE 1931 xy and dominant wavelength of PL spectra."""

    from flowqd.analysis.io import read_spectrum
    from flowqd.analysis.pl import analyze_pl

    window = _band(baseline_window, "--baseline-window") if baseline_window else None
    check_output(csv_out, "--csv")
    check_output(plot, "--plot")
    def analyze(f: Path) -> tuple[Any, Any]:
        spectrum = read_spectrum(f, kind="intensity", format=file_format, wavelength_unit=wavelength_unit)
        return spectrum, analyze_pl(spectrum, quantity=quantity, baseline_window_nm=window, smooth_window_nm=smooth_nm)

    results, skipped = analyze_files(files, analyze, skip_bad=skip_bad, label="PL", quiet=json_out)
    analysed = [r for _, r in results]
    done = [f for f, _ in results]
    rows: list[dict[str, Any]] = []
    for (_, r), f in zip(analysed, done, strict=True):
        rows.append({
            "file": str(f), "peak_wavelength_nm": r.peak_wavelength_nm, "fwhm_nm": r.fwhm_nm,
            "fwhm_mev": r.fwhm_mev, "cie_x": r.cie_x, "cie_y": r.cie_y,
            "dominant_wavelength_nm": r.dominant_wavelength_nm, "integrated_intensity": r.integrated_intensity,
            "quantity": r.quantity,
        })
    if plot is not None:
        from flowqd.report.cie_plot import plot_chromaticity, plot_pl

        plot_pl(analysed, plot)
        plot_chromaticity([(Path(row["file"]).stem, row["cie_x"], row["cie_y"]) for row in rows],
                          plot.with_name(f"{plot.stem}-cie{plot.suffix or '.png'}"))
    if csv_out is not None:
        import csv

        with csv_out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(PL_JSON_KEYS))
            writer.writeheader()
            writer.writerows(rows)
    if json_out:
        print_json(rows)
        exit_if_skipped(skipped)
        return
    print_table(f"PL ({quantity} counts)" if quantity == "photon" else "PL (power)",
                ["file", "peak\n(nm)", "FWHM\n(nm)", "FWHM\n(meV)", "CIE\nx", "CIE\ny", "dominant\nλ (nm)"],
                [[Path(row["file"]).name, f"{row['peak_wavelength_nm']:.1f}", f"{row['fwhm_nm']:.1f}",
                  f"{row['fwhm_mev']:.0f}", f"{row['cie_x']:.4f}", f"{row['cie_y']:.4f}",
                  f"{row['dominant_wavelength_nm']:.0f}"] for row in rows], right=range(1, 7), fold=(0,))
    exit_if_skipped(skipped)


def plqy(
    blank: Annotated[Path, typer.Option(
        "--blank", help="two-measurement: solvent blank in the beam. de-mello: sample in the sphere, out of the "
        "beam (b).")],
    sample: Annotated[Path, typer.Option("--sample", help="Sample in the beam (de-mello: measurement c).")],
    empty: Annotated[Path | None, typer.Option("--empty", help="de-mello only: empty sphere (a).")] = None,
    excitation_band: str = typer.Option("390,410", "--excitation-band", help="Excitation band 'MIN,MAX' nm."),
    emission_band: str = typer.Option("450,800", "--emission-band", help="Emission band 'MIN,MAX' nm."),
    quantity: str = typer.Option("photon", "--quantity", help="'photon' (CCD counts, default) or 'power'."),
    poisson: bool = typer.Option(False, "--poisson", help="Spectra are raw counts: give the shot-noise 1σ."),
    file_format: str = typer.Option("auto", "--format", help="auto, csv, jcamp, oceanview or avantes."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    method: str = typer.Option("two-measurement", "--method", help="'two-measurement' or 'de-mello'."),
) -> None:
    """PL quantum yield from integrating-sphere spectra (de Mello 1997, or blank vs sample)."""
    from flowqd.analysis.io import read_spectrum
    from flowqd.analysis.plqy import plqy_from_spectra
    from flowqd.analysis.spectrum import Spectrum

    exc = _band(excitation_band, "--excitation-band")
    emi = _band(emission_band, "--emission-band")
    if method == "de-mello" and empty is None:  # the library's message names its keyword (empty=), not the option
        raise FlowqdError("--method de-mello needs --empty FILE: the empty-sphere spectrum (measurement a)")

    def read(p: Path) -> Spectrum:
        return read_spectrum(p, kind="intensity", format=file_format)

    result = plqy_from_spectra(
        method, blank=read(blank), sample=read(sample), empty=read(empty) if empty is not None else None,
        excitation_band_nm=exc, emission_band_nm=emi, quantity=quantity, poisson=poisson,
    )
    out = {
        "plqy": result.plqy, "absorptance": result.absorptance, "method": result.method,
        "uncertainty": result.uncertainty, "absorbed": result.absorbed, "emitted": result.emitted,
        "warnings": list(result.warnings), "quantity": quantity,
    }
    if json_out:
        print_json(out)
        return
    unc = f" ± {result.uncertainty:.4f} (shot noise)" if result.uncertainty is not None else ""
    console.print(f"PLQY {result.plqy:.4f}{unc}   absorptance {result.absorptance:.4f}   ({result.method})",
                  highlight=False)
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(str(w))}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` group (``pl``, ``plqy``, and ``absorbance`` when its module exists) to ``app``."""
    analyze_app = typer.Typer(
        name="analyze", help="Analyse spectra: PL, PLQY, absorbance.", no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    analyze_app.command("pl")(pl)
    analyze_app.command("plqy")(plqy)
    # import_module, not "from flowqd.cli import …": flowqd.cli may still be initialising
    importlib.import_module("flowqd.cli.analyze_absorbance").register(analyze_app)
    app.add_typer(analyze_app, name="analyze")
