"""Plots of twin predictions: one condition (spectrum + PSD) and Fig. 3-style grids (matplotlib Agg)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_grid", "plot_prediction"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_prediction(pred: Any, path: str | Path) -> Path:
    """Absorbance (and PL for shells) and the outlet q3 PSD of one :class:`~flowqd.twin.Prediction`."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(pred.absorbance_wavelength_nm, pred.absorbance, label="absorbance (1 mm)")
    ax1.axvline(pred.peak_wavelength_nm, ls=":", color="grey")
    lo, hi = getattr(pred, "peak_wavelength_nm_interval", (float("nan"), float("nan")))
    if math.isfinite(lo) and math.isfinite(hi):
        ax1.axvspan(lo, hi, color="grey", alpha=0.2, label="peak, 90 % interval")
        ax1.legend(loc="upper right", fontsize=8)
    if pred.conditions.shell:
        ax1b = ax1.twinx()
        ax1b.plot(pred.pl_wavelength_nm, pred.pl_intensity, color="tab:red", label="PL")
        ax1b.set_ylabel("PL (norm.)")
    ax1.set_xlabel("wavelength (nm)")
    ax1.set_ylabel("absorbance")
    c = pred.conditions
    ax1.set_title(f"{c.core_temperature_c:g} °C, {c.core_flow_ml_min:g} mL/min: peak {pred.peak_wavelength_nm:.0f} nm")
    ax2.plot(pred.psd_diameter_nm, pred.psd_q3)
    ax2.set_xlim(1.0, 6.0)
    ax2.set_xlabel("diameter x (nm)")
    ax2.set_ylabel("q3 (1/nm)")
    title = f"x1,3 = {pred.x13_nm:.2f} nm, RSD = {100 * pred.rsd:.1f} %"
    xlo, xhi = getattr(pred, "x13_nm_interval", (float("nan"), float("nan")))
    if math.isfinite(xlo) and math.isfinite(xhi):
        ax2.axvspan(xlo, xhi, color="grey", alpha=0.2, label="x1,3, 90 % interval")
        ax2.axvline(pred.x13_nm, ls=":", color="grey")
        ax2.legend(loc="upper right", fontsize=8)
        rlo, rhi = pred.rsd_interval
        title = (f"x1,3 = {pred.x13_nm:.2f} nm [{xlo:.2f}-{xhi:.2f}], RSD = {100 * pred.rsd:.1f} % "
                 f"[{100 * rlo:.1f}-{100 * rhi:.1f}]")
    ax2.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_grid(parts: Sequence[Any], out_dir: str | Path) -> list[Path]:
    """Fig. 3-style panels from a list of :class:`~flowqd.twin.BatchPrediction` (one per temperature).

    Writes ``spectra.png`` (a/d), ``psd.png`` (b/e) and ``x13_rsd.png`` (c/f: x1,3 and RSD against T at each
    flow and against τ at each T).
    """
    plt = _plt()
    out_dir = Path(out_dir)
    preds = [p[i] for p in parts for i in range(len(p))]
    temps = sorted({p.conditions.core_temperature_c for p in preds})
    flows = sorted({p.conditions.core_flow_ml_min for p in preds})
    cmap = plt.get_cmap("viridis")
    paths = []
    for name, xkey, ykey, xlab, ylab, xlim in (
            ("spectra.png", "absorbance_wavelength_nm", "absorbance", "wavelength (nm)", "absorbance", (400, 750)),
            ("psd.png", "psd_diameter_nm", "psd_q3", "diameter (nm)", "q3 (1/nm)", (1.5, 5.0))):
        fig, axes = plt.subplots(1, len(flows), figsize=(3.2 * len(flows), 3.2), squeeze=False, sharey=True)
        for ax, q in zip(axes[0], flows, strict=True):
            for p in preds:
                if p.conditions.core_flow_ml_min != q:
                    continue
                k = temps.index(p.conditions.core_temperature_c) / max(len(temps) - 1, 1)
                label = f"{p.conditions.core_temperature_c:g} °C"
                ax.plot(getattr(p, xkey), getattr(p, ykey), color=cmap(k), label=label)
            ax.set_xlim(*xlim)
            ax.set_title(f"{q:g} mL/min")
            ax.set_xlabel(xlab)
        axes[0][0].set_ylabel(ylab)
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        paths.append(out_dir / name)
    # x1,3 (left axis, squares, solid) and RSD in % (its own right axis, circles, dashed), one colour per flow
    # (left panel, against T) or per temperature (right panel, against τ): the same colour for both quantities.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, groups, key, xlab in ((ax1, flows, "flow", "temperature (°C)"), (ax2, temps, "temp", "mean residence "
                                                                                          "time τ (min)")):
        rsd_ax = ax.twinx()
        for j, g in enumerate(groups):
            color = cmap(j / max(len(groups) - 1, 1) * 0.85)
            if key == "flow":
                sel = sorted((p for p in preds if p.conditions.core_flow_ml_min == g),
                             key=lambda p: p.conditions.core_temperature_c)
                x = [p.conditions.core_temperature_c for p in sel]
                tag = f"{g:g} mL/min"
            else:
                sel = sorted((p for p in preds if p.conditions.core_temperature_c == g),
                             key=lambda p: p.residence_time_min)
                x = [p.residence_time_min for p in sel]
                tag = f"{g:g} °C"
            ax.plot(x, [p.x13_nm for p in sel], "s-", color=color, label=f"x1,3 {tag}")
            rsd_ax.plot(x, [100 * p.rsd for p in sel], "o--", color=color, mfc="white", label=f"RSD {tag}")
        ax.set_xlabel(xlab)
        ax.set_ylabel("x1,3 (nm)  [■, solid]")
        rsd_ax.set_ylabel("RSD (%)  [○, dashed]")
        handles = ax.get_legend_handles_labels()[0] + rsd_ax.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=6, ncol=2, loc="upper left")
    fig.tight_layout()
    fig.savefig(out_dir / "x13_rsd.png", dpi=110)
    plt.close(fig)
    paths.append(out_dir / "x13_rsd.png")
    return [Path(p) for p in paths]
