"""Plausibility checks of an inverted particle-size distribution: mass at the grid edges, isolated spikes.

A regularised inversion (:func:`flowqd.analysis.psd.invert_psd`) fits whatever the spectrum holds. Two artefacts
of a noisy or badly corrected spectrum survive the regularisation and look like particles:

- **mass at a grid edge** — the distribution does not fall to zero at the smallest or largest diameter of the size
  grid: either the grid cuts a real population, or the inversion explains a baseline offset, scattering or a
  feature outside the fit window with particles of the extreme size (a rise at the 6 nm edge of the InP grid);
- **isolated spikes** — a narrow peak (a few grid points) standing far above its neighbourhood, away from the
  main mode: the inversion fitting noise with one size class (a spike at 1.9 nm).

:func:`psd_warnings` returns one plain-English line per finding (empty list: nothing suspicious). The thresholds
are fractions of the distribution's maximum and of its volume, so they hold for any grid spacing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["EDGE_LEVEL", "EDGE_MASS", "SPIKE_LEVEL", "SPIKE_MASS", "psd_warnings"]

#: q3 at the first or last grid point above this fraction of max(q3): the distribution is cut by the grid.
EDGE_LEVEL: float = 0.05
#: Volume fraction within the outer 3 % of the diameter range (either end) above which the edge is flagged.
EDGE_MASS: float = 0.01
#: A spike stands above the running median of its neighbourhood by more than this fraction of max(q3) ...
SPIKE_LEVEL: float = 0.10
#: ... and holds more than this fraction of the volume.
SPIKE_MASS: float = 0.005
#: Running-median window (grid points) against which spikes are measured.
_MEDIAN_POINTS = 9


def _running_median(q: np.ndarray, width: int) -> np.ndarray:
    half = width // 2
    padded = np.pad(q, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.median(windows, axis=-1)


def psd_warnings(diameter_nm: npt.ArrayLike, q3: npt.ArrayLike,
                 solved_range_nm: tuple[float, float] | None = None) -> list[str]:
    """Warnings about a volume-weighted PSD ``q3(diameter_nm)``: mass at the grid edges, isolated spikes.

    Parameters
    ----------
    diameter_nm : array_like
        Size grid, nm, ascending.
    q3 : array_like
        Volume density on the grid (any normalisation; negative values count as zero).
    solved_range_nm : tuple of float, optional
        The diameters the inversion solved for (:attr:`PSDResult.solved_range_nm`): the edges checked are then
        those of this range, where a fit window that ends near the exciton cuts the grid (a CdSe spectrum that
        ends at 600 nm resolves up to ~3.8 nm of an 8 nm grid).

    Returns
    -------
    list of str
        One line per finding; empty when the distribution looks clean.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.linspace(1.5, 6.0, 181)
    >>> clean = np.exp(-0.5 * ((d - 3.0) / 0.25) ** 2)
    >>> psd_warnings(d, clean)
    []
    >>> spiky = clean.copy(); spiky[16] = 0.6          # one grid point at 1.9 nm
    >>> psd_warnings(d, spiky)
    ['isolated spike at 1.90 nm: 2.3 % of the volume, the inversion may be fitting noise']
    >>> edge = clean + 0.3 * np.exp((d - 6.0) / 0.05)  # a rise at the 6 nm edge
    >>> psd_warnings(d, edge)[0]
    'mass at the upper grid edge (6.0 nm): 2.8 % of the volume within 0.14 nm of it, q3 there 30 % of its maximum'
    """
    d = np.asarray(diameter_nm, dtype=float)
    q = np.clip(np.nan_to_num(np.asarray(q3, dtype=float)), 0.0, None)
    edge, digits = "grid edge", 1
    if solved_range_nm is not None and np.all(np.isfinite(solved_range_nm)) and d.shape == q.shape:
        inside = (d >= solved_range_nm[0] - 1e-9) & (d <= solved_range_nm[1] + 1e-9)
        if inside.sum() < d.size:
            d, q = d[inside], q[inside]
            edge, digits = "edge of the solved size range", 2
    if d.ndim != 1 or d.shape != q.shape or d.size < 2 * _MEDIAN_POINTS:
        return []
    weights = np.gradient(d)  # cell widths (trapezoid-like), any spacing
    total = float(np.sum(q * weights))
    top = float(np.max(q))
    if not (total > 0 and top > 0):
        return []
    out: list[str] = []
    span = 0.03 * (d[-1] - d[0])
    for name, at, sel in (("lower", d[0], d <= d[0] + span), ("upper", d[-1], d >= d[-1] - span)):
        level = float(q[0] if name == "lower" else q[-1]) / top
        mass = float(np.sum(q[sel] * weights[sel])) / total
        if level > EDGE_LEVEL or mass > EDGE_MASS:
            out.append(f"mass at the {name} {edge} ({at:.{digits}f} nm): {100 * mass:.1f} % of the volume within "
                       f"{span:.2f} nm of it, q3 there {100 * level:.0f} % of its maximum")
    # Spikes: points far above the running median, grouped into contiguous runs (edges are handled above).
    excess = q - _running_median(q, _MEDIAN_POINTS)
    flagged = (excess > SPIKE_LEVEL * top) & (q > 2.0 * (q - excess))
    flagged[:2] = flagged[-2:] = False
    i = 0
    while i < d.size:
        if not flagged[i]:
            i += 1
            continue
        j = i
        while j + 1 < d.size and flagged[j + 1]:
            j += 1
        run = slice(i, j + 1)
        mass = float(np.sum(excess[run] * weights[run])) / total
        if mass > SPIKE_MASS:
            centre = float(np.sum(d[run] * excess[run]) / np.sum(excess[run]))
            out.append(f"isolated spike at {centre:.2f} nm: {100 * mass:.1f} % of the volume, the inversion may be "
                       "fitting noise")
        i = j + 1
    return out
