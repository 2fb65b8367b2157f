"""First excitonic absorption peak of a quantum-dot absorbance spectrum.

The first excitonic (1S) transition is the reddest clear feature of a QD absorbance spectrum. When the size
distribution is narrow it is a local **maximum**; when it is broad it degrades into a **shoulder** on the rising
background, and it is then located at the minimum of the (smoothed) second derivative with respect to photon
energy. :func:`find_exciton` reports which of the two it used.

References
----------
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316 (first exciton at 518-590 nm for InP QDs of 2.7-3.4 nm).
- D. Segets et al., ACS Nano 2009, 3, 1703 (the spectrum features that carry the size information).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError
from flowqd.units import HC_EV_NM

__all__ = [
    "SATURATION_ABSORBANCE", "ExcitonResult", "NoExcitonError", "find_exciton", "median_rows",
    "noise_level_estimate", "noise_level_estimate_rows",
]

#: Absorbance above which a spectrometer reading is treated as saturated (stray light dominates).
SATURATION_ABSORBANCE: float = 3.0


class NoExcitonError(SpectrumError):
    """No first exciton in the search window. ``absorbing`` is True when the spectrum does absorb there but
    is featureless (a very broad size distribution), False when it is flat."""

    absorbing: bool = False


@dataclass(frozen=True)
class ExcitonResult:
    """Position of the first excitonic transition.

    Attributes
    ----------
    wavelength_nm, energy_ev : float
        Position of the peak (or shoulder).
    method : {"maximum", "second-derivative"}
        ``"maximum"`` for a local maximum refined by a parabola through three smoothed points,
        ``"second-derivative"`` for a shoulder (minimum of d²A/dE²).
    absorbance : float
        Smoothed absorbance at that position.
    """

    wavelength_nm: float
    energy_ev: float
    method: Literal["maximum", "second-derivative"]
    absorbance: float


def noise_level_estimate(values: np.ndarray) -> float:
    """Robust white-noise standard deviation from second differences (MAD / 0.6745 / sqrt(6)).

    >>> rng = np.random.default_rng(0)
    >>> round(noise_level_estimate(np.sin(np.linspace(0, 3, 4000)) + rng.normal(0, 0.01, 4000)), 3)
    0.01
    """
    d2 = np.diff(np.asarray(values, dtype=float), 2)
    if d2.size == 0:
        return 0.0
    return float(noise_level_estimate_rows(d2[None, :], differenced=True)[0])


def median_rows(x: np.ndarray) -> np.ndarray:
    """Median of each row of a 2-D array, equal to ``np.median(x, axis=1)`` but ~4× faster.

    One ``np.partition`` at the upper middle and a max over the lower half (numpy's two-index partition for even
    lengths is much slower than one index).

    >>> median_rows(np.array([[3.0, 1.0, 2.0, 10.0], [5.0, 4.0, 6.0, 0.0]])).tolist()
    [2.5, 4.5]
    """
    n = x.shape[1]
    h = n // 2
    p = np.partition(x, h, axis=1)
    if n % 2:
        return p[:, h]
    return 0.5 * (p[:, h] + p[:, :h].max(axis=1))


def noise_level_estimate_rows(values: np.ndarray, *, differenced: bool = False) -> np.ndarray:
    """:func:`noise_level_estimate` of each row of ``values`` (B, N) at once (or of its second differences
    when ``differenced``); the batched PSD inversion's noise level for island pruning."""
    d2 = values if differenced else np.diff(np.asarray(values, dtype=float), 2, axis=1)
    if d2.shape[1] == 0:
        return np.zeros(d2.shape[0])
    return median_rows(np.abs(d2 - median_rows(d2)[:, None])) / 0.6745 / np.sqrt(6.0)


def _savgol_points(window_nm: float, wavelength_nm: np.ndarray) -> int:
    """Odd number of points spanning ``window_nm`` on the grid, at most the largest odd count the grid holds."""
    n = round(window_nm / float(np.median(np.diff(wavelength_nm)))) | 1
    size = wavelength_nm.size
    return min(n, (size - 1) | 1 if size % 2 == 0 else size)


def _smooth(y: np.ndarray, wavelength_nm: np.ndarray, window_nm: float) -> np.ndarray:
    from scipy.signal import savgol_filter

    n = _savgol_points(window_nm, wavelength_nm)
    if n < 5:
        return y.copy()
    return np.asarray(savgol_filter(y, n, 3), dtype=float)


def find_exciton(
    spectrum: Spectrum,
    *,
    search_nm: tuple[float, float] = (420.0, 750.0),
    smooth_nm: float = 12.0,
    saturation: float = SATURATION_ABSORBANCE,
) -> ExcitonResult:
    """Locate the first excitonic absorption peak.

    Parameters
    ----------
    spectrum : Spectrum
        Absorbance spectrum (baseline-corrected or not; only the shape inside ``search_nm`` matters).
    search_nm : tuple of float
        Wavelength window searched, nm.
    smooth_nm : float
        Savitzky-Golay (cubic) window in nm used before locating extrema.
    saturation : float
        Absorbance above which the reading is refused as saturated.

    Returns
    -------
    ExcitonResult

    Raises
    ------
    SpectrumError
        Not an absorbance spectrum, too few points in the window, saturated at the exciton, or no maximum and no
        shoulder in the window.

    Examples
    --------
    >>> wl = np.linspace(400, 800, 801)
    >>> a = np.exp(-0.5 * ((1239.84 / wl - 2.3935) / 0.08) ** 2) + 0.5 * (1239.84 / wl > 2.6)
    >>> r = find_exciton(Spectrum(wl, a))
    >>> round(r.wavelength_nm), r.method
    (518, 'maximum')
    """
    src = spectrum.source or None
    if spectrum.kind != "absorbance":
        raise SpectrumError(f"exciton search needs an absorbance spectrum, got {spectrum.kind}", source=src)
    lo, hi = search_nm
    wl = spectrum.wavelength_nm
    sel = (wl >= lo) & (wl <= hi)
    if np.count_nonzero(sel) < 9:
        raise SpectrumError(f"no exciton in range: fewer than 9 points within {lo:g}-{hi:g} nm", source=src)
    # Smooth on a slightly larger window so that the edges of the search range are well defined.
    pad = (wl >= lo - 3 * smooth_nm) & (wl <= hi + 3 * smooth_nm)
    w_all = wl[pad]
    y_all = _smooth(spectrum.values[pad], w_all, smooth_nm)
    inside = (w_all >= lo) & (w_all <= hi)
    idx = np.flatnonzero(inside)
    noise = noise_level_estimate(spectrum.values[pad])
    y = y_all[idx]
    top = float(np.max(spectrum.values[sel]))
    span = float(np.max(y) - np.min(y))

    def _none(why: str, absorbing: bool = True) -> SpectrumError:
        if top > saturation:
            return SpectrumError(
                f"absorbance saturated ({top:.2f} > {saturation:g}) and no exciton found in {lo:g}-{hi:g} nm; "
                "dilute the sample",
                source=src,
            )
        err = NoExcitonError(f"no exciton in range {lo:g}-{hi:g} nm: {why}", source=src)
        err.absorbing = absorbing
        return err

    if span < max(10.0 * noise, 1e-3):
        raise _none(f"the spectrum is flat there (span {span:.2g})", absorbing=False)

    # 1) local maxima of the smoothed spectrum strictly inside the window, with a prominence that stands out
    #    against the noise; the first exciton is the reddest of them.
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(y_all, prominence=max(3.0 * noise, 0.01 * span))
    peaks = peaks[(peaks > idx[0]) & (peaks < idx[-1])]
    best = int(peaks[np.argmax(w_all[peaks])]) if peaks.size else None
    if best is not None:
        i = best
        y0, y1, y2 = y_all[i - 1], y_all[i], y_all[i + 1]
        den = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / den if den < 0 else 0.0
        shift = float(np.clip(shift, -1.0, 1.0))
        w_pk = float(np.interp(i + shift, np.arange(w_all.size), w_all))
        a_pk = float(y1 - 0.25 * (y0 - y2) * shift)
        method: Literal["maximum", "second-derivative"] = "maximum"
    else:
        # 2) shoulder: the minimum of the second derivative, from a cubic Savitzky-Golay fit over a
        #    window three times wider, among points that absorb clearly above the red tail: by 20 noise or a
        #    twentieth of the window's range, whichever is larger, but never more than a fifth of the range (a weak
        #    shoulder on a steep rise in the UV still counts; on a noisy one the bar is no higher than before).
        from scipy.signal import savgol_filter

        n2 = _savgol_points(3 * smooth_nm, w_all)
        if n2 < 7:
            raise _none("too few points for a second derivative")
        # only d2 inside the search window is used: where the filter's half window fits between it and the ends
        # of the padded range, the edge treatment cannot reach it and the cheap "nearest" mode gives the same d2
        half = n2 // 2
        edge_free = idx[0] >= half and idx[-1] <= w_all.size - 1 - half
        d2 = np.asarray(savgol_filter(spectrum.values[pad], n2, 3, deriv=2, mode="nearest" if edge_free else "interp"),
                        dtype=float)
        j = idx[2:-2]
        ok = y_all[j] > np.min(y) + min(0.2 * span, max(20.0 * noise, 0.05 * span))
        if not np.any(ok):
            raise _none("neither a maximum nor a shoulder")
        jj = j[ok]
        d2_noise = 5.0 * noise_level_estimate(d2[idx])
        i = int(jj[np.argmin(d2[jj])])
        if d2[i] >= -d2_noise or i in (jj[0], jj[-1]):
            raise _none("neither a maximum nor a shoulder")
        w_pk = float(w_all[i])
        a_pk = float(y_all[i])
        method = "second-derivative"
    near = np.abs(wl - w_pk) <= 2.0 * smooth_nm
    a_near = float(np.max(spectrum.values[near])) if np.any(near) else a_pk
    if max(a_pk, a_near) > saturation:
        raise SpectrumError(
            f"absorbance saturated at the exciton ({max(a_pk, a_near):.2f} > {saturation:g}); dilute the sample",
            source=src,
        )
    return ExcitonResult(w_pk, float(HC_EV_NM / w_pk), method, a_pk)
