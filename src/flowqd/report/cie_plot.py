"""Figures for PL results: the CIE 1931 chromaticity diagram (like Fig. 4b of Wang & Segets 2023) and PL spectra.

matplotlib (Agg backend) and colour-science's plotting are imported inside the functions, so importing this module
is cheap and never opens a window. (colour 0.4.7 renamed the ``standalone`` argument of its plotting functions to
``show``; ``show=False`` returns the figure without displaying it.)

References
----------
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316, Fig. 4b.
- colour-science 0.4.7, ``colour.plotting.plot_chromaticity_diagram_CIE1931``.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from flowqd.analysis.pl import PLResult
from flowqd.analysis.spectrum import Spectrum

__all__ = ["plot_chromaticity", "plot_pl"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_chromaticity(
    points: Sequence[tuple[str, float, float]],
    path: str | PathLike[str],
    spectra: Sequence[Spectrum] | None = None,
    *,
    quantity: str = "photon",
) -> Path:
    """Write a CIE 1931 chromaticity diagram with labelled points as PNG.

    Parameters
    ----------
    points : sequence of (label, x, y)
        Chromaticities to mark.
    path : str or path-like
        Output PNG.
    spectra : sequence of Spectrum, optional
        Emission spectra whose chromaticity is computed (:func:`~flowqd.analysis.cie.chromaticity_xy`) and marked
        too, labelled by file stem.
    quantity : {"photon", "power"}
        What ``spectra`` hold.

    Returns
    -------
    Path
    """
    plt = _pyplot()
    import colour.plotting

    from flowqd.analysis.cie import chromaticity_xy

    marks = list(points)
    for s in spectra or ():
        x, y = chromaticity_xy(s, quantity=quantity)
        marks.append((Path(s.source).stem if s.source else "spectrum", x, y))
    fig, ax = colour.plotting.plot_chromaticity_diagram_CIE1931(show=False, title="CIE 1931 chromaticity")
    try:
        for label, x, y in marks:
            ax.plot(x, y, "o", markersize=6, markerfacecolor="white", markeredgecolor="black", zorder=10)
            ax.annotate(label, (x, y), xytext=(6, 6), textcoords="offset points", fontsize=8, zorder=11)
        ax.set_xlim(-0.05, 0.8)
        ax.set_ylim(-0.05, 0.9)
        out = Path(path)
        fig.savefig(out, dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out


def plot_pl(spectra_and_results: Sequence[tuple[Spectrum, PLResult]], path: str | PathLike[str]) -> Path:
    """Write normalised PL spectra with their FWHM marked (a horizontal bar between the half-maximum crossings).

    Parameters
    ----------
    spectra_and_results : sequence of (Spectrum, PLResult)
        Each spectrum as analysed (photon counts after any baseline subtraction are plotted from the spectrum's own
        values, normalised to the result's peak height).
    path : str or path-like
        Output PNG.

    Returns
    -------
    Path
    """
    plt = _pyplot()
    from flowqd.analysis.pl import to_photon_counts

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    try:
        for spectrum, result in spectra_and_results:
            photons = spectrum if result.quantity == "photon" else to_photon_counts(spectrum)
            y = (photons.values - result.baseline_offset) / result.peak_height
            label = (f"{Path(result.source).stem or 'PL'}: {result.peak_wavelength_nm:.1f} nm, "
                     f"FWHM {result.fwhm_nm:.1f} nm / {result.fwhm_mev:.0f} meV")
            (line,) = ax.plot(photons.wavelength_nm, y, lw=1.2, label=label)
            ax.plot([result.half_max_left_nm, result.half_max_right_nm], [0.5, 0.5], "-|", color=line.get_color(),
                    lw=1.0, markersize=8)
            ax.axvline(result.peak_wavelength_nm, color=line.get_color(), lw=0.6, ls=":")
        ax.set_xlabel("wavelength (nm)")
        ax.set_ylabel("PL, photon counts (normalised)")
        ax.set_ylim(min(-0.05, float(ax.get_ylim()[0])), 1.15)
        ax.legend(fontsize=7, frameon=False)
        out = Path(path)
        fig.savefig(out, dpi=150, bbox_inches="tight")
    finally:
        plt.close(fig)
    return out
