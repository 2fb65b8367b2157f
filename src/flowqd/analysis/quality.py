"""Quality gates: a spectrum must look like what its analysis expects before any number is derived from it.

Garbage in must not give confident numbers out. Each gate raises :class:`~flowqd.errors.SpectrumError` with one
line naming the file and the likely mistake (wrong kind of spectrum, sign, no signal):

- :func:`check_absorbance`: finite signal above the noise, mostly non-negative, values an absorbance can take
  (a value over 10 is a %T or a count), and a shape that is not an emission band (absorbance of dots rises to the
  blue; an emission band falls on both sides).
- :func:`check_emission`: positive signal, a band standing above the noise (signal-to-noise at least
  :data:`MIN_SNR`), not a single-pixel spike.
- :func:`check_chromaticity`: CIE 1931 xy inside the spectral locus (a colour no light can have is refused).
- :func:`check_emission_band`: a PLQY sample must show an emission band above the blank's noise.

The command line reports these as one red line (exit code 2); the platform stores the analysis as ``rejected``
with the reason.
"""

from __future__ import annotations

import numpy as np

from flowqd.analysis.exciton import noise_level_estimate
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError

__all__ = [
    "MAX_ABSORBANCE",
    "MIN_SNR",
    "check_absorbance",
    "check_chromaticity",
    "check_emission",
    "check_emission_band",
]

#: Largest value an absorbance reading can take (commercial spectrophotometers stop at 5-8; 10 leaves margin).
MAX_ABSORBANCE: float = 10.0
#: Smallest signal-to-noise ratio (peak over robust noise) at which a band counts as detected.
MIN_SNR: float = 10.0


def _src(spectrum: Spectrum) -> str | None:
    return spectrum.source or None


def _check_smooth(spectrum: Spectrum) -> None:
    """Neighbouring readings of a spectrum agree: a signal whose point-to-point jumps are a large part of its range
    (a sawtooth, shuffled columns) is not a spectrum."""
    y = spectrum.values
    span = float(np.max(y) - np.min(y))
    if y.size >= 7 and span > 0:
        rough = float(np.sqrt(np.mean((y[1:-1] - 0.5 * (y[:-2] + y[2:])) ** 2)))
        if rough > 0.15 * span:
            raise SpectrumError(f"values jump between neighbouring points by {rough / span:.0%} of their range: "
                                "not a spectrum (wrong column or corrupt file?)", source=_src(spectrum))


def _kind_named_in_file_name(src: str | None) -> str | None:
    """What the file's name says the spectrum is ("Run 4 FL excitation.csv [30 s]" -> "excitation"), or None."""
    if not src:
        return None
    from pathlib import Path

    from flowqd.analysis.io import kind_hint

    return kind_hint(Path(src.rsplit(" [", 1)[0]).stem.replace("_", " ").replace("-", " "))


def check_absorbance(spectrum: Spectrum) -> None:
    """Refuse a spectrum that cannot be the absorbance of a dot dispersion, naming what it looks like.

    >>> wl = np.arange(400.0, 800.0, 1.0)
    >>> pl = Spectrum(wl, 1e4 * np.exp(-0.5 * ((wl - 600) / 15) ** 2), source="pl.csv")
    >>> check_absorbance(pl)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flowqd.errors.SpectrumError: pl.csv: values up to 1e+04 cannot be absorbances ...: this looks like an emission...
    """
    src = _src(spectrum)
    y = spectrum.values
    top = float(np.max(y))
    if top > MAX_ABSORBANCE:
        lo = float(np.min(y))
        rising_red = float(np.mean(y[-max(3, y.size // 10):])) > float(np.mean(y[: max(3, y.size // 10)]))
        named = _kind_named_in_file_name(src)
        if named == "excitation":
            what = "a PL excitation spectrum, as its file name says (neither absorbance nor emission)"
        elif named == "intensity":
            what = "an emission/intensity spectrum, as its file name says; use flowqd analyze pl"
        elif lo >= -1.0 and top <= 105.0 and rising_red:
            what = "a percent transmittance (%T) spectrum; convert it, A = 2 - log10(%T)"
        else:
            what = "an emission/intensity spectrum (counts); use flowqd analyze pl"
        raise SpectrumError(f"values up to {top:.3g} cannot be absorbances (they stop below {MAX_ABSORBANCE:g}): "
                            f"this looks like {what}", source=src)
    span, noise = top - float(np.min(y)), noise_level_estimate(y)  # values are float64: the same subtraction
    _check_smooth(spectrum)
    if span <= 0 or span < MIN_SNR * noise:
        raise SpectrumError(f"no signal above the noise (range {span:.2g}, noise {noise:.2g}): nothing to analyse",
                            source=src)
    if np.median(y) < 0 and top < 0.5 * abs(float(np.min(y))):
        raise SpectrumError(f"absorbance is negative over most of the spectrum (min {float(np.min(y)):.3g}): "
                            "sign flipped, or sample and blank swapped?", source=src)
    # shape: the absorbance of dots grows to the blue; an emission band falls back to the baseline on its blue side
    n = y.size
    edge = max(3, n // 20)
    i_max = int(np.argmax(y))
    blue, red = float(np.median(y[:edge])), float(np.median(y[-edge:]))
    base = min(blue, red)
    if edge < i_max < n - edge and (blue - base) < 0.2 * (top - base) and (red - base) < 0.2 * (top - base):
        raise SpectrumError(
            f"a single band at {spectrum.wavelength_nm[i_max]:.0f} nm falling to the baseline on both sides: this "
            "looks like an emission (PL) spectrum, not absorbance (wrong command or wrong file?)", source=src)


def check_emission(spectrum: Spectrum) -> None:
    """Refuse an emission spectrum without a band: noise, a negative (sign-flipped) signal or a lone spike.

    >>> wl = np.arange(400.0, 800.0, 1.0)
    >>> noise = Spectrum(wl, np.random.default_rng(1).normal(0, 1, wl.size), kind="intensity", source="n.csv")
    >>> check_emission(noise)
    Traceback (most recent call last):
    ...
    flowqd.errors.SpectrumError: n.csv: no emission band above the noise (signal-to-noise 3.2 < 10)
    """
    src = _src(spectrum)
    y = spectrum.values
    top = float(np.max(y))
    if top <= 0 or (np.median(y) < 0 and top < 0.5 * abs(float(np.min(y)))):
        raise SpectrumError(f"emission is negative (max {top:.3g}, min {float(np.min(y)):.3g}): sign flipped, or "
                            "dark above signal?", source=src)
    base = float(np.median(y))
    noise = noise_level_estimate(y)
    snr = (top - base) / noise if noise > 0 else np.inf
    if snr < MIN_SNR:
        raise SpectrumError(f"no emission band above the noise (signal-to-noise {snr:.2g} < {MIN_SNR:g})",
                            source=src)
    _check_smooth(spectrum)
    i_top = int(np.argmax(y))
    if i_top in (0, y.size - 1):
        raise SpectrumError(f"maximum at the edge of the range ({spectrum.wavelength_nm[i_top]:.0f} nm): "
                            "no complete emission band (an absorbance spectrum, or the band outside the range?)",
                            source=src)
    lo = float(np.min(y))
    edge_n = max(3, y.size // 50)
    blue_edge = float(np.median(y[:edge_n]))
    if blue_edge - lo > 0.3 * (top - lo) and blue_edge >= float(np.max(y[edge_n:max(i_top // 2, edge_n + 1)])):
        raise SpectrumError(f"the signal rises towards the blue end of the range ({blue_edge / top:.0%} of the peak "
                            f"at {spectrum.wavelength_nm[0]:.0f} nm): not a lone emission band (an absorbance "
                            "spectrum, or excitation light in the window?)", source=src)
    if min(float(np.min(y[:i_top])), float(np.min(y[i_top:]))) - lo > 0.5 * (top - lo):
        raise SpectrumError(f"the signal does not fall to half its height on both sides of its maximum at "
                            f"{spectrum.wavelength_nm[i_top]:.0f} nm: not an emission band (an absorbance spectrum?)",
                            source=src)
    above = y - base > 0.5 * (top - base)
    if np.count_nonzero(above) < 3:
        raise SpectrumError(f"a single-pixel spike at {spectrum.wavelength_nm[i_top]:.1f} nm, not an emission band "
                            "(cosmic ray or hot pixel?)", source=src)


def check_chromaticity(x: float, y: float, *, source: str | None = None) -> None:
    """Refuse CIE 1931 (x, y) outside the spectral locus (no light has such a colour: the spectrum is not light).

    >>> check_chromaticity(0.33, 0.33)
    >>> check_chromaticity(1.872, 1.826, source="noise.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flowqd.errors.SpectrumError: noise.csv: CIE (1.872, 1.826) lies outside the spectral locus: ...
    """
    from flowqd.analysis.cie import spectral_locus_xy

    if not (np.isfinite(x) and np.isfinite(y)) or not _inside(spectral_locus_xy(), x, y):
        raise SpectrumError(f"CIE ({x:.4g}, {y:.4g}) lies outside the spectral locus: not the colour of any light "
                            "(negative or noise-only spectrum?)", source=source)


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull (Andrew's monotone chain) of 2-D points."""
    pts = sorted(set(map(tuple, np.round(points, 12))))

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for q in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (q[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (q[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(q)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _inside(poly: np.ndarray, x: float, y: float, tol: float = 2e-3) -> bool:
    """Point inside the gamut: the convex hull of the spectral locus (closed by the line of purples), or within
    ``tol`` of its boundary (the red end of the locus is a straight line, x + y = 1, within the integration error of
    a broad red band). The locus itself doubles back at its ends (tiny colour-matching values), so the hull,
    not the raw polygon, is the gamut."""
    hull = _convex_hull(poly)
    px, py = hull[:, 0], hull[:, 1]
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    ex, ey = qx - px, qy - py
    cross = ex * (y - py) - ey * (x - px)  # > 0: left of each counter-clockwise edge = inside
    if np.all(cross >= 0):
        return True
    t = np.clip(((x - px) * ex + (y - py) * ey) / np.maximum(ex * ex + ey * ey, 1e-300), 0.0, 1.0)
    return bool(np.min(np.hypot(px + t * ex - x, py + t * ey - y)) <= tol)


def check_emission_band(sample: Spectrum, blank: Spectrum, band_nm: tuple[float, float]) -> None:
    """A PLQY sample must emit: inside ``band_nm`` the sample must stand above the blank by ``MIN_SNR`` noise."""
    lo, hi = band_nm
    wl = sample.wavelength_nm
    sel = (wl >= lo) & (wl <= hi)
    if np.count_nonzero(sel) < 5:
        raise SpectrumError(f"fewer than 5 points in the emission band {lo:g}-{hi:g} nm", source=_src(sample))
    diff = sample.values[sel] - np.interp(wl[sel], blank.wavelength_nm, blank.values)
    bwl = blank.wavelength_nm
    blank_in_band = blank.values[(bwl >= lo) & (bwl <= hi)]  # the blank may be on its own grid
    noise = max(noise_level_estimate(sample.values[sel]), noise_level_estimate(blank_in_band), 1e-300)
    peak = float(np.max(diff)) - float(np.median(diff))
    if peak < MIN_SNR * noise or np.count_nonzero(diff - np.median(diff) > 0.5 * peak) < 3:
        raise SpectrumError(f"no emission band detected in {lo:g}-{hi:g} nm (sample above blank by "
                            f"{peak / noise:.2g} noise levels, need {MIN_SNR:g}): PLQY would be noise",
                            source=_src(sample))
