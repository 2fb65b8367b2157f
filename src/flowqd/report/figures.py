"""Figures of the run report, drawn like the paper's Fig. 3 and Fig. 4 (Wang, Segets et al. 2023).

Each function takes plain arrays, writes one PNG to ``path`` and returns the path (``None`` when there is nothing
to draw). They build :class:`matplotlib.figure.Figure` objects directly (Agg canvas, no pyplot), so they hold no
global state and do not depend on a display.

- :func:`plot_spectra`: absorbance spectra, one curve per condition (Fig. 3a/d);
- :func:`plot_psds`: particle-size distributions per condition (Fig. 3b/e);
- :func:`plot_size_rsd`: x1,3 and RSD against temperature or residence time on twin axes (Fig. 3c/f);
- :func:`plot_absorbance_pl`: absorbance and PL of one sample (Fig. 4a);
- :func:`plot_traces`: set points and sensor readings (temperature, pressure, flow) against time, with trips.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "plot_absorbance_pl",
    "plot_psds",
    "plot_size_rsd",
    "plot_spectra",
    "plot_traces",
]

Curve = tuple[Any, Any]
DPI = 110


def _figure(width: float = 5.2, height: float = 3.8, ncols: int = 1, nrows: int = 1, **kwargs: Any) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def _save(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png")
    return out


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    return [cmap(0.1 + 0.75 * i / max(n - 1, 1)) for i in range(n)]


def plot_spectra(
    curves: Mapping[str, Curve], path: str | Path, *, ylabel: str = "Absorbance (norm.)", normalise: bool = True,
    peaks_nm: Mapping[str, float | None] | None = None, title: str = "UV-vis absorption",
) -> Path | None:
    """Spectra per condition (label → (wavelength_nm, values)); normalised at the exciton peak when given."""
    if not curves:
        return None
    fig, axes = _figure()
    ax = axes[0, 0]
    for (label, (wl, y)), color in zip(curves.items(), _colors(len(curves)), strict=True):
        wl, y = np.asarray(wl, float), np.asarray(y, float)
        if normalise:
            peak = (peaks_nm or {}).get(label)
            ref = float(np.interp(peak, wl, y)) if peak is not None else float(np.max(np.abs(y)))
            y = y / ref if ref else y
        ax.plot(wl, y, color=color, lw=1.4, label=label)
        peak = (peaks_nm or {}).get(label)
        if peak is not None:
            ax.axvline(peak, color=color, lw=0.6, ls=":")
    ax.set_xlabel("Wavelength (nm)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_psds(psds: Mapping[str, Curve], path: str | Path) -> Path | None:
    """Volume-weighted PSDs q3 per condition (label → (diameter_nm, q3 in 1/nm)), as in the paper's Fig. 3b."""
    if not psds:
        return None
    fig, axes = _figure()
    ax = axes[0, 0]
    for (label, (d, q)), color in zip(psds.items(), _colors(len(psds)), strict=True):
        d, q = np.asarray(d, float), np.asarray(q, float)
        keep = q > 1e-4 * float(np.max(q)) if q.size and np.max(q) > 0 else np.ones(q.size, dtype=bool)
        lo, hi = (np.flatnonzero(keep)[[0, -1]] if np.any(keep) else (0, q.size - 1))
        ax.plot(d[max(lo - 5, 0):hi + 6], q[max(lo - 5, 0):hi + 6], color=color, lw=1.4, label=label)
    ax.set_xlabel("Diameter x (nm)")
    ax.set_ylabel("q$_3$(x) (1/nm)")
    ax.set_title("Volume-weighted particle-size distributions", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def _nan(values: Sequence[float | None] | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    return np.array([np.nan if v is None else v for v in values], float)


def plot_size_rsd(
    x: Sequence[float], x13_nm: Sequence[float | None], rsd_percent: Sequence[float | None], path: str | Path,
    *, xlabel: str = "Temperature (°C)", groups: Sequence[str] | None = None,
    x13_uncertainty_nm: Sequence[float | None] | None = None,
    rsd_uncertainty_percent: Sequence[float | None] | None = None, peak_nm: Sequence[float | None] | None = None,
) -> Path | None:
    """x1,3 (left axis) and RSD in % (right axis) against a set point, as the paper's Fig. 3c, plus the exciton peak.

    ``groups`` (one label per point, e.g. the flow of a temperature × flow sweep) draws one line per group, each
    in its own colour and sorted along x, instead of one line through all points in condition order. The
    uncertainties, where given, are drawn as ±1 u error bars. ``peak_nm`` adds a second panel: the exciton peak
    wavelength against the same set point.
    """
    xs = np.asarray(x, float)
    n = xs.size
    size, rsd = _nan(x13_nm, n), _nan(rsd_percent, n)
    if n == 0 or (np.all(np.isnan(size)) and np.all(np.isnan(rsd))):
        return None
    u_size, u_rsd, peak = _nan(x13_uncertainty_nm, n), _nan(rsd_uncertainty_percent, n), _nan(peak_nm, n)
    labels = list(groups) if groups is not None else [""] * n
    names = list(dict.fromkeys(labels))
    colors = ["black"] if names == [""] else _colors(len(names))
    with_peak = not np.all(np.isnan(peak))
    fig, axes = _figure(9.0 if with_peak else 5.6, 3.9, ncols=2 if with_peak else 1)
    ax = axes[0, 0]
    ax2 = ax.twinx()
    for name, color in zip(names, colors, strict=True):
        sel = np.array([g == name for g in labels])
        order = np.flatnonzero(sel)[np.argsort(xs[sel], kind="stable")]
        tag = f" {name}" if name else ""
        ax.errorbar(xs[order], size[order], yerr=np.where(np.isnan(u_size[order]), 0.0, u_size[order]),
                    fmt="s-", color=color, capsize=3, label=f"x$_{{1,3}}${tag}")
        ax2.errorbar(xs[order], rsd[order], yerr=np.where(np.isnan(u_rsd[order]), 0.0, u_rsd[order]),
                     fmt="o--", color=color, mfc="white", capsize=3, alpha=0.85, label=f"RSD{tag}")
        if with_peak:
            axes[0, 1].plot(xs[order], peak[order], "D-", color=color, label=name or None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Mean size x$_{1,3}$ (nm)  [■, solid]")
    ax2.set_ylabel("RSD (%)  [○, dashed]")
    ax.set_title("Mean size and RSD (±1 u)", fontsize=10)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=7, frameon=False, loc="upper center",
              bbox_to_anchor=(0.5, -0.16), ncol=2 if len(names) > 1 else 1)
    if with_peak:
        p_ax = axes[0, 1]
        p_ax.set_xlabel(xlabel)
        p_ax.set_ylabel("First exciton peak (nm)")
        p_ax.set_title("Exciton peak wavelength", fontsize=10)
        if len(names) > 1:
            p_ax.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_absorbance_pl(
    absorbance: Curve | None, pl: Curve | None, path: str | Path, *, title: str = "UV-vis and PL",
    pl_note: str | None = None,
) -> Path | None:
    """Absorbance (left axis) and PL (right axis, normalised) of one sample, as the paper's Fig. 4a.

    ``pl_note`` (e.g. "no emission detected") is written in the panel where the PL curve would be; pass
    ``pl=None`` with it rather than plotting normalised noise.
    """
    if absorbance is None and pl is None and pl_note is None:
        return None
    fig, axes = _figure()
    ax = axes[0, 0]
    if absorbance is not None:
        ax.plot(np.asarray(absorbance[0], float), np.asarray(absorbance[1], float), color="black", label="UV-vis")
        ax.set_ylabel("Absorbance")
    ax.set_xlabel("Wavelength (nm)")
    if pl is not None:
        ax2 = ax.twinx() if absorbance is not None else ax
        y = np.asarray(pl[1], float)
        top = float(np.max(y)) if y.size else 0.0
        ax2.plot(np.asarray(pl[0], float), y / top if top > 0 else y, color="tab:orange", label="PL")
        ax2.set_ylabel("PL intensity (norm.)", color="tab:orange")
    if pl_note:
        ax.text(0.97, 0.95, pl_note, transform=ax.transAxes, ha="right", va="top", fontsize=8, color="tab:orange",
                bbox={"boxstyle": "round", "fc": "white", "ec": "tab:orange"})
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


_TRACE_GROUPS = (("temperature", "Temperature (°C)"), ("pressure", "Pressure, gauge (bar)"),
                 ("flow", "Flow (mL/min)"), ("volume", "Syringe volume left (mL)"))


def trace_group(channel: str) -> str:
    """The panel (axis label with unit) of a trace channel: ``"core_pump.volume_ml"`` → syringe volume."""
    return next((label for key, label in _TRACE_GROUPS if key in channel.lower()), "Other")


def plot_traces(
    traces: Mapping[tuple[str, str], Curve], path: str | Path, *, trips_s: Sequence[float] = (),
) -> Path | None:
    """Set points (dashed) and readings against time, one panel per quantity (temperature, pressure, flow, syringe
    volume; anything else under "Other").

    ``traces`` maps ``(channel, role)`` → ``(t_s, values)``; ``trips_s`` marks interlock trips (red lines). The
    pressure is a gauge reading: a transducer reads slightly below 0 bar around zero flow (zero offset and noise);
    those values are drawn as read, not clipped, and the panel says so.
    """
    if not traces:
        return None
    groups: dict[str, list[tuple[str, str, Curve]]] = {}
    for (channel, role), curve in traces.items():
        groups.setdefault(trace_group(channel), []).append((channel, role, curve))
    order = [label for _, label in _TRACE_GROUPS if label in groups] + (["Other"] if "Other" in groups else [])
    fig, axes = _figure(7.5, 2.0 + 1.6 * len(order), nrows=len(order), sharex=True)
    for ax, name in zip(axes[:, 0], order, strict=True):
        channels = sorted({c for c, _, _ in groups[name]})
        color_of = dict(zip(channels, [f"C{i % 10}" for i in range(len(channels))], strict=True))
        lowest = np.inf
        for channel, role, (t, v) in sorted(groups[name], key=lambda g: (g[0], g[1])):
            values = np.asarray(v, float)
            lowest = min(lowest, float(np.min(values))) if values.size else lowest
            ax.plot(np.asarray(t, float) / 60.0, values, color=color_of[channel],
                    ls="--" if role == "setpoint" else "-", lw=1.0 if role == "setpoint" else 1.3,
                    drawstyle="steps-post" if role == "setpoint" else "default", label=f"{channel} ({role})")
        for t in trips_s:
            ax.axvline(t / 60.0, color="red", lw=1.2)
        if name.startswith("Pressure") and lowest < 0:
            ax.axhline(0.0, color="grey", lw=0.6)
            ax.text(0.01, 0.04, f"readings below 0 bar (down to {lowest:.3f}): transducer zero offset and noise at "
                    "low flow, shown as read", transform=ax.transAxes, fontsize=6, color="dimgrey")
        ax.set_ylabel(name, fontsize=8)
        ax.legend(fontsize=6, frameon=False, loc="best")
    axes[-1, 0].set_xlabel("Time (min)")
    return _save(fig, path)
