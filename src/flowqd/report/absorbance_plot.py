"""Figure of an absorbance analysis: spectrum + PSD fit + residual, and the PSD q3 (cf. Wang & Segets 2023,
Fig. 2c / 3b). matplotlib (Agg) is imported inside the function."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_absorbance_results"]


def plot_absorbance_results(results: Sequence[Any], path: str | Path, *, labels: Sequence[str] | None = None,
                            title: str | None = None) -> Path:
    """Write a PNG/PDF/SVG with three panels for one or more :class:`~flowqd.analysis.absorbance.AbsorbanceResult`:
    corrected spectrum with the fitted model, fit residual, and the volume distribution q3 (with x13 marked).

    More than eight spectra (a growth series) are coloured in order along a colour map and at most eight of them
    are named in the legends; the q3 axis spans the diameters that carry weight. ``title``: e.g. the file's name
    when ``labels`` are its column labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = Path(path)
    n = len(results)
    fig = plt.figure(figsize=(11, 4.5), constrained_layout=True)
    if title:
        fig.suptitle(title, fontsize=10)
    gs = fig.add_gridspec(2, 2, height_ratios=[3, 1])
    ax_s = fig.add_subplot(gs[0, 0])
    ax_r = fig.add_subplot(gs[1, 0], sharex=ax_s)
    ax_q = fig.add_subplot(gs[:, 1])
    cmap = plt.get_cmap("viridis")
    named = set(np.linspace(0, n - 1, min(n, 8)).round().astype(int).tolist())
    lo, hi = np.inf, -np.inf
    for i, r in enumerate(results):
        name = labels[i] if labels else (Path(r.source).name if r.source else f"spectrum {i + 1}")
        c = f"C{i % 10}" if n <= 8 else cmap(i / max(n - 1, 1))
        shown = i in named
        ax_s.plot(r.corrected.wavelength_nm, r.corrected.values, color=c, lw=1.0, alpha=0.6,
                  label=name if shown else None)
        ax_s.plot(r.psd.wavelength_nm, r.psd.fitted, color=c, lw=1.6, ls="--")
        ax_r.plot(r.psd.wavelength_nm, r.psd.residual, color=c, lw=0.8)
        ax_q.plot(r.psd.diameter_nm, r.psd.q3, color=c, lw=1.6,
                  label=f"{name}: x13 = {r.psd.x13_nm:.2f} nm, RSD = {100 * r.psd.rsd:.1f} %" if shown else None)
        ax_q.axvline(r.psd.x13_nm, color=c, lw=0.8, ls=":")
        q = np.asarray(r.psd.q3)
        if np.any(q > 0):
            w = np.asarray(r.psd.diameter_nm)[q > 1e-3 * q.max()]
            lo, hi = min(lo, float(w.min())), max(hi, float(w.max()))
    if np.isfinite(lo):
        ax_q.set_xlim(max(0.0, lo - 0.3), hi + 0.3)
    ax_s.set_ylabel("absorbance (baseline-corrected)")
    ax_s.legend(fontsize=7, title="data (solid), PSD fit (dashed)", title_fontsize=7)
    ax_r.axhline(0.0, color="k", lw=0.5)
    ax_r.set_xlabel("wavelength (nm)")
    ax_r.set_ylabel("residual")
    ax_q.set_xlabel("diameter x (nm)")
    ax_q.set_ylabel("q3 (1/nm)")
    ax_q.set_title("volume-weighted PSD from UV-vis (Segets method)", fontsize=10)
    ax_q.legend(fontsize=7)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
