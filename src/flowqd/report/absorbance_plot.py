"""Figure of an absorbance analysis: spectrum + PSD fit + residual, and the PSD q3 (cf. Wang & Segets 2023,
Fig. 2c / 3b). matplotlib (Agg) is imported inside the function."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_absorbance_results"]


def plot_absorbance_results(results: Sequence[Any], path: str | Path, *, labels: Sequence[str] | None = None) -> Path:
    """Write a PNG/PDF/SVG with three panels for one or more :class:`~flowqd.analysis.absorbance.AbsorbanceResult`:
    corrected spectrum with the fitted model, fit residual, and the volume distribution q3 (with x13 marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig = plt.figure(figsize=(11, 4.5), constrained_layout=True)
    gs = fig.add_gridspec(2, 2, height_ratios=[3, 1])
    ax_s = fig.add_subplot(gs[0, 0])
    ax_r = fig.add_subplot(gs[1, 0], sharex=ax_s)
    ax_q = fig.add_subplot(gs[:, 1])
    for i, r in enumerate(results):
        name = labels[i] if labels else (Path(r.source).name if r.source else f"spectrum {i + 1}")
        c = f"C{i % 10}"
        ax_s.plot(r.corrected.wavelength_nm, r.corrected.values, color=c, lw=1.0, alpha=0.6, label=f"{name}")
        ax_s.plot(r.psd.wavelength_nm, r.psd.fitted, color=c, lw=1.6, ls="--")
        ax_r.plot(r.psd.wavelength_nm, r.psd.residual, color=c, lw=0.8)
        ax_q.plot(r.psd.diameter_nm, r.psd.q3, color=c, lw=1.6,
                  label=f"{name}: x13 = {r.psd.x13_nm:.2f} nm, RSD = {100 * r.psd.rsd:.1f} %")
        ax_q.axvline(r.psd.x13_nm, color=c, lw=0.8, ls=":")
    ax_s.set_ylabel("absorbance (baseline-corrected)")
    ax_s.legend(fontsize=8, title="data (solid), PSD fit (dashed)", title_fontsize=8)
    ax_r.axhline(0.0, color="k", lw=0.5)
    ax_r.set_xlabel("wavelength (nm)")
    ax_r.set_ylabel("residual")
    ax_q.set_xlabel("diameter x (nm)")
    ax_q.set_ylabel("q3 (1/nm)")
    ax_q.set_title("volume-weighted PSD from UV-vis (Segets method)", fontsize=10)
    ax_q.legend(fontsize=8)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
