"""Preprocessing of spectra: blank subtraction, baseline, smoothing, energy axis, noise level.

Every function is pure: it takes a :class:`~flowqd.analysis.spectrum.Spectrum` and returns a new one (or numbers),
never modifying its input. Baseline models are registered in :data:`BASELINE_METHODS` and selected with
``method=`` in :func:`correct_baseline`, which returns ``(corrected, fit)`` in the pybaselines style.

Public objects
--------------
- :func:`subtract_blank`: sample minus blank interpolated onto the sample grid.
- :func:`correct_baseline`, :data:`BASELINE_METHODS`, :class:`BaselineFit`: baseline fitted in a window where the
  dots do not absorb (default 750–850 nm) and subtracted everywhere.
- :func:`smooth`: Savitzky–Golay with the window given in nm.
- :func:`to_energy`, :func:`resample_energy`: energy axis; the Jacobian λ²/hc is applied only on request.
- :func:`noise_level`: robust standard deviation of the residual to a smooth fit in a flat window.

References
----------
- A. Savitzky and M. J. E. Golay, Anal. Chem. 1964, 36, 1627.
- J. Mooney and P. Kambhampati, J. Phys. Chem. Lett. 2013, 4, 3316 (the λ²/hc Jacobian for emission spectra).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError
from flowqd.units import HC_EV_NM

__all__ = [
    "BASELINE_METHODS",
    "BaselineFit",
    "correct_baseline",
    "noise_level",
    "resample_energy",
    "smooth",
    "subtract_blank",
    "to_energy",
    "trapezoid_weights",
]

#: Robust-std factor: σ = 1.4826 · median(|r - median(r)|) for Gaussian noise.
MAD_TO_STD = 1.482602218505602


def _src(spectrum: Spectrum) -> str | None:
    return spectrum.source or None


def subtract_blank(sample: Spectrum, blank: Spectrum) -> Spectrum:
    """Sample minus blank, the blank linearly interpolated onto the sample's wavelengths.

    The result lives on the part of the sample grid that the blank covers (no extrapolation of the blank);
    ``metadata['blank']`` records the blank's source. Grids that do not overlap on at least 8 sample points are an
    error.

    Parameters
    ----------
    sample, blank : Spectrum
        Same ``kind`` (absorbance minus absorbance, counts minus dark counts).

    Returns
    -------
    Spectrum

    Examples
    --------
    >>> wl = np.arange(400.0, 500.0, 10.0)
    >>> s = subtract_blank(Spectrum(wl, np.full(10, 0.5)), Spectrum(wl + 5.0, np.full(10, 0.2)))
    >>> float(s.wavelength_nm[0]), round(float(s.values[0]), 3), s.n_points
    (410.0, 0.3, 9)
    """
    if sample.kind != blank.kind:
        raise SpectrumError(f"cannot subtract a {blank.kind} blank from a {sample.kind} sample", source=_src(sample))
    lo, hi = blank.wavelength_nm[0], blank.wavelength_nm[-1]
    keep = (sample.wavelength_nm >= lo) & (sample.wavelength_nm <= hi)
    if np.count_nonzero(keep) < 8:
        raise SpectrumError(
            f"blank {blank.source or ''} ({lo:g}-{hi:g} nm) does not overlap the sample "
            f"({sample.wavelength_nm[0]:g}-{sample.wavelength_nm[-1]:g} nm) on 8 points or more",
            source=_src(sample),
        )
    wl = sample.wavelength_nm[keep]
    values = sample.values[keep] - np.interp(wl, blank.wavelength_nm, blank.values)
    return Spectrum(wl, values, kind=sample.kind, source=sample.source,
                    metadata={**sample.metadata, "blank": blank.source})


@dataclass(frozen=True)
class BaselineFit:
    """A baseline fitted in a window and subtracted everywhere.

    Attributes
    ----------
    method : str
        Key of :data:`BASELINE_METHODS`.
    window_nm : tuple of float
        Fit window.
    coefficients : tuple of float
        ``(a,)`` constant, ``(a, b)`` for ``a + b·λ`` (linear) or ``a + b·λ⁻⁴`` (rayleigh), λ in nm.
    rms_residual : float
        Root-mean-square residual of the fit inside the window, in the spectrum's units.
    n_points : int
        Points used in the fit.
    """

    method: str
    window_nm: tuple[float, float]
    coefficients: tuple[float, ...]
    rms_residual: float
    n_points: int

    def evaluate(self, wavelength_nm: npt.ArrayLike) -> np.ndarray:
        """Baseline at the given wavelengths (nm)."""
        wl = np.asarray(wavelength_nm, dtype=float)
        return BASELINE_METHODS[self.method](wl) @ np.asarray(self.coefficients)


def _basis_constant(wl: np.ndarray) -> np.ndarray:
    return np.ones((wl.size, 1))


def _basis_linear(wl: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(wl.size), wl])


def _basis_rayleigh(wl: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(wl.size), wl**-4.0])


#: Baseline models: name -> basis builder (columns multiplied by the fitted coefficients).
BASELINE_METHODS: Mapping[str, Callable[[np.ndarray], np.ndarray]] = {
    "constant": _basis_constant,
    "linear": _basis_linear,
    "rayleigh": _basis_rayleigh,
}


def correct_baseline(
    spectrum: Spectrum,
    window_nm: tuple[float, float] = (750.0, 850.0),
    method: str = "constant",
) -> tuple[Spectrum, BaselineFit]:
    """Fit a baseline where the sample does not absorb (or emit) and subtract it over the whole range.

    Methods (:data:`BASELINE_METHODS`): ``"constant"`` (offset, e.g. cuvette mismatch), ``"linear"``
    (``a + b·λ``, drift) and ``"rayleigh"`` (``a + b·λ⁻⁴``, scattering by particles small against λ, extrapolated
    to the blue). The fit is linear least squares on the points inside ``window_nm``.

    Parameters
    ----------
    spectrum : Spectrum
    window_nm : (float, float)
        Fit window in nm, inside the spectrum's range; 750–850 nm suits InP dots with the first exciton below
        ~650 nm.
    method : {"constant", "linear", "rayleigh"}

    Returns
    -------
    corrected : Spectrum
        ``spectrum`` minus the baseline (``metadata['baseline']`` records the fit).
    fit : BaselineFit

    Examples
    --------
    >>> wl = np.arange(400.0, 900.0, 5.0)
    >>> s = Spectrum(wl, 0.02 + 3.0e9 * wl**-4.0)
    >>> corrected, fit = correct_baseline(s, (700.0, 895.0), method="rayleigh")
    >>> [f"{c:.6g}" for c in fit.coefficients], round(float(np.max(np.abs(corrected.values))), 9)
    (['0.02', '3e+09'], 0.0)
    """
    if method not in BASELINE_METHODS:
        raise SpectrumError(
            f"unknown baseline method {method!r} (use one of {', '.join(BASELINE_METHODS)})", source=_src(spectrum)
        )
    lo, hi = (float(v) for v in window_nm)
    if not lo < hi:
        raise SpectrumError(f"baseline window {lo:g}-{hi:g} nm is empty", source=_src(spectrum))
    wl, y = spectrum.wavelength_nm, spectrum.values
    inside = (wl >= lo) & (wl <= hi)
    n_needed = {"constant": 3, "linear": 4, "rayleigh": 4}[method]
    if np.count_nonzero(inside) < n_needed:
        raise SpectrumError(
            f"baseline window {lo:g}-{hi:g} nm holds {np.count_nonzero(inside)} points (need {n_needed}); "
            f"the spectrum covers {wl[0]:g}-{wl[-1]:g} nm",
            source=_src(spectrum),
        )
    basis = BASELINE_METHODS[method](wl[inside])
    # Column scaling for conditioning (λ⁻⁴ is ~1e-11 nm⁻⁴); undone on the coefficients.
    scale = np.max(np.abs(basis), axis=0)
    coef_scaled, *_ = np.linalg.lstsq(basis / scale, y[inside], rcond=None)
    coefficients = coef_scaled / scale
    residual = y[inside] - basis @ coefficients
    fit = BaselineFit(
        method=method,
        window_nm=(lo, hi),
        coefficients=tuple(float(c) for c in coefficients),
        rms_residual=float(np.sqrt(np.mean(residual**2))),
        n_points=int(np.count_nonzero(inside)),
    )
    corrected = spectrum.with_values(y - fit.evaluate(wl), metadata={**spectrum.metadata, "baseline": method})
    return corrected, fit


def _check_grid(spectrum: Spectrum, what: str) -> float:
    """Median spacing in nm; refuse grids too irregular for a point-based filter."""
    d = np.diff(spectrum.wavelength_nm)
    step = float(np.median(d))
    if np.max(d) > 1.5 * np.min(d):
        raise SpectrumError(
            f"{what} needs a near-uniform wavelength grid (steps {np.min(d):.3g}-{np.max(d):.3g} nm); "
            "resample it first",
            source=_src(spectrum),
        )
    return step


def smooth(spectrum: Spectrum, window_nm: float, polyorder: int = 2) -> Spectrum:
    """Savitzky–Golay smoothing with the window given in nm.

    The window in points is ``window_nm`` divided by the median step, rounded to the nearest odd integer. The grid
    must be near-uniform (largest step ≤ 1.5 × smallest), since the filter assumes equal spacing; edges use a
    polynomial fit to the edge window (``mode="interp"``).

    Parameters
    ----------
    spectrum : Spectrum
    window_nm : float
        Full width of the filter window, nm.
    polyorder : int
        Polynomial order, < window length in points.

    Returns
    -------
    Spectrum

    Examples
    --------
    >>> wl = np.arange(400.0, 600.0, 1.0)
    >>> s = smooth(Spectrum(wl, 1e-4 * (wl - 500.0) ** 2), window_nm=11.0, polyorder=2)
    >>> round(float(s.values[100]), 9)  # a parabola passes unchanged
    0.0
    """
    from scipy.signal import savgol_filter

    step = _check_grid(spectrum, "smooth")
    n = round(window_nm / step)
    n += 1 - n % 2
    if window_nm <= 0 or n <= polyorder or n < 3:
        raise SpectrumError(
            f"smoothing window {window_nm:g} nm is {n} points at {step:.3g} nm steps; needs more than "
            f"polyorder={polyorder} and at least 3",
            source=_src(spectrum),
        )
    if n > spectrum.n_points:
        raise SpectrumError(
            f"smoothing window {window_nm:g} nm ({n} points) is longer than the spectrum ({spectrum.n_points})",
            source=_src(spectrum),
        )
    return spectrum.with_values(np.asarray(savgol_filter(spectrum.values, n, polyorder, mode="interp"), dtype=float))


def _density_flag(spectrum: Spectrum, density: bool | None) -> bool:
    if density is None:
        if spectrum.kind == "intensity":
            raise SpectrumError(
                "an intensity spectrum on an energy axis: say density=True (counts per nm -> per eV, Jacobian "
                "λ²/hc) or density=False (plain interpolation)",
                source=_src(spectrum),
            )
        return False
    if density and spectrum.kind != "intensity":
        raise SpectrumError(f"{spectrum.kind} is not a spectral density; use density=False", source=_src(spectrum))
    return bool(density)


def to_energy(spectrum: Spectrum, *, density: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The spectrum on its own points as a function of photon energy, ascending.

    Parameters
    ----------
    spectrum : Spectrum
    density : bool or None
        ``True``: the values are a spectral density per nm (an emission spectrum); they are multiplied by the
        Jacobian :math:`|dλ/dE| = λ^2/hc` (nm per eV), giving a density per eV. ``False``: values kept (absorbance
        is not a density). ``None``: ``False`` for absorbance and transmittance, an error for intensity spectra,
        which must say which they are.

    Returns
    -------
    energy_ev : ndarray, ascending
    values : ndarray

    Examples
    --------
    >>> s = Spectrum(np.arange(400.0, 480.0, 10.0), np.ones(8), kind="intensity")
    >>> e, v = to_energy(s, density=True)
    >>> round(float(e[-1]), 4), round(float(v[-1]), 2)  # 400 nm: λ²/hc = 129.05 nm/eV
    (3.0996, 129.05)
    """
    use_jacobian = _density_flag(spectrum, density)
    energy = spectrum.energy_ev
    values = spectrum.values * (spectrum.wavelength_nm**2 / HC_EV_NM) if use_jacobian else spectrum.values.copy()
    return energy[::-1].copy(), values[::-1].copy()


def resample_energy(
    spectrum: Spectrum, energy_ev_grid: npt.ArrayLike, *, density: bool | None = None
) -> np.ndarray:
    """Values of ``spectrum`` interpolated (linearly, in energy) onto an ascending energy grid.

    The grid must be strictly ascending and lie inside the spectrum's energy range (no extrapolation).
    ``density`` is as in :func:`to_energy`.

    Returns
    -------
    ndarray, shape of ``energy_ev_grid``
    """
    grid = np.asarray(energy_ev_grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
        raise SpectrumError("energy grid must be 1-D, finite and strictly ascending", source=_src(spectrum))
    energy, values = to_energy(spectrum, density=density)
    if grid[0] < energy[0] - 1e-12 or grid[-1] > energy[-1] + 1e-12:
        raise SpectrumError(
            f"energy grid {grid[0]:.4g}-{grid[-1]:.4g} eV outside the spectrum's {energy[0]:.4g}-{energy[-1]:.4g} eV",
            source=_src(spectrum),
        )
    return np.interp(grid, energy, values)


def noise_level(spectrum: Spectrum, window_nm: tuple[float, float], *, polyorder: int = 2) -> float:
    """Robust standard deviation of the noise in a flat window.

    A polynomial of degree ``polyorder`` is fitted to the points in ``window_nm`` (a smooth model of the slowly
    varying signal) and the noise is ``1.4826 · MAD`` of the residual, which equals the standard deviation for
    Gaussian noise and ignores a few spikes.

    Parameters
    ----------
    spectrum : Spectrum
    window_nm : (float, float)
        A window without sharp features (e.g. 750–850 nm for absorbance of InP dots), ≥ 8 points.
    polyorder : int
        Degree of the smooth fit.

    Returns
    -------
    float
        In the spectrum's units.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> wl = np.arange(700.0, 900.0, 0.5)
    >>> s = Spectrum(wl, 0.05 + 1e-4 * (wl - 700.0) + rng.normal(0.0, 0.002, wl.size))
    >>> round(noise_level(s, (700.0, 900.0)), 4)
    0.0021
    """
    lo, hi = (float(v) for v in window_nm)
    inside = (spectrum.wavelength_nm >= lo) & (spectrum.wavelength_nm <= hi)
    n = int(np.count_nonzero(inside))
    if n < max(8, polyorder + 4):
        raise SpectrumError(
            f"noise window {lo:g}-{hi:g} nm holds {n} points (need {max(8, polyorder + 4)})", source=_src(spectrum)
        )
    wl, y = spectrum.wavelength_nm[inside], spectrum.values[inside]
    t = (wl - wl.mean()) / (np.ptp(wl) or 1.0)
    residual = y - np.polyval(np.polyfit(t, y, polyorder), t)
    return float(MAD_TO_STD * np.median(np.abs(residual - np.median(residual))))


def trapezoid_weights(x: np.ndarray) -> np.ndarray:
    """Weights w with ``Σ w·y`` the trapezoid integral of samples ``y`` on the grid ``x`` (1 for one point).

    >>> trapezoid_weights(np.array([0.0, 1.0, 3.0])).tolist()
    [0.5, 1.5, 1.0]
    """
    if x.size == 1:
        return np.ones(1)
    d = np.diff(x)
    w = np.zeros_like(x)
    w[:-1] += d / 2
    w[1:] += d / 2
    return w
