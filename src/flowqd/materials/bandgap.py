"""Size-dependent band gap (first excitonic transition energy) of semiconductor nanocrystals.

Functional forms are registered in :data:`BANDGAP_FORMS`. The default, ``"hyperbolic"``, is the empirical form
used throughout the Segets/Peukert and Moreels lineage of sizing curves:

.. math::  E(d) = E_\\mathrm{bulk} + \\frac{1}{a d^2 + b d + c}

with the diameter :math:`d` in nm. Coefficients are not typed in by hand: :func:`fit_bandgap` fits them,
reproducibly, to a table of (diameter, first-exciton) points that ships with each material, one citation per
point. With two points and ``c = 0`` the fit passes through both exactly.

References
----------
- D. Segets et al., ACS Nano 2012, 6, 9021 (sizing curve as the calibration of the PSD method).
- I. Moreels et al., ACS Nano 2009, 3, 3023 (the same functional form for PbS).
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316 (the InP points).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from flowqd.errors import FlowqdError, RangeError
from flowqd.units import HC_EV_NM

__all__ = ["BANDGAP_FORMS", "SizingCurve", "fit_bandgap"]


def _hyperbolic(d: np.ndarray, bulk_gap_ev: float, a: float, b: float, c: float) -> np.ndarray:
    return bulk_gap_ev + 1.0 / (a * d * d + b * d + c)


def _hyperbolic_inverse(e: np.ndarray, bulk_gap_ev: float, a: float, b: float, c: float) -> np.ndarray:
    # a d^2 + b d + (c - 1/(E - Eb)) = 0, positive root.
    # Written as 2(-q) / (b + sqrt(b^2 - 4 a q)), which stays accurate as a -> 0.
    q = c - 1.0 / (e - bulk_gap_ev)
    return -2.0 * q / (b + np.sqrt(b * b - 4.0 * a * q))


def _sphere_volume_nm3(d: np.ndarray) -> np.ndarray:
    return np.pi / 6.0 * d**3


def _power_volume(d: np.ndarray, bulk_gap_ev: float, e0_ev: float, a_ev: float, p: float) -> np.ndarray:
    # E = E0 + A V^p with V the volume (nm^3) of the equivalent sphere of diameter d (Almeida et al. 2023 form)
    return e0_ev + a_ev * _sphere_volume_nm3(d) ** p


def _power_volume_inverse(e: np.ndarray, bulk_gap_ev: float, e0_ev: float, a_ev: float, p: float) -> np.ndarray:
    v = ((e - e0_ev) / a_ev) ** (1.0 / p)
    return (6.0 * v / np.pi) ** (1.0 / 3.0)


#: Wavelength grid (nm) on which a published d(λ) polynomial is tabulated to invert it (0.01 nm steps).
_POLY_GRID_NM = (380.0, 700.0, 32001)


@lru_cache(maxsize=8)
def _poly_table(coefficients: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    lam = np.linspace(*_POLY_GRID_NM)
    d = np.polyval(coefficients, lam)
    if np.any(np.diff(d) <= 0):
        raise RangeError("the d(λ) polynomial is not monotone over 380-700 nm; it cannot be a sizing curve")
    return d, lam


def _wavelength_polynomial(d: np.ndarray, bulk_gap_ev: float, *coefficients: float) -> np.ndarray:
    # E(d) by interpolating the monotone table of the published d(λ) polynomial (error < 1e-4 nm)
    dd, lam = _poly_table(tuple(coefficients))
    return HC_EV_NM / np.interp(d, dd, lam)


def _wavelength_polynomial_inverse(e: np.ndarray, bulk_gap_ev: float, *coefficients: float) -> np.ndarray:
    # the published curve itself: d = sum c_k λ^k, λ in nm (Yu et al. 2003 for CdSe)
    return np.polyval(coefficients, HC_EV_NM / e)


#: Registered functional forms: name -> (E(d), d(E)) taking (x, bulk_gap_ev, *coefficients).
#:
#: - ``"hyperbolic"``: E = E_bulk + 1/(a d² + b d + c), coefficients fitted to a table of points.
#: - ``"power-volume"``: E = E0 + A·V^p with V = π d³/6 in nm³ (coefficients ``(E0, A, p)`` as published).
#: - ``"wavelength-polynomial"``: the published d(λ) = Σ c_k λ^k (λ in nm, highest power first), inverted on a
#:   0.01 nm table.
BANDGAP_FORMS: dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]] = {
    "hyperbolic": (_hyperbolic, _hyperbolic_inverse),
    "power-volume": (_power_volume, _power_volume_inverse),
    "wavelength-polynomial": (_wavelength_polynomial, _wavelength_polynomial_inverse),
}


@dataclass(frozen=True)
class SizingCurve:
    """A fitted sizing curve E(d) with its inverse and its validity window.

    Parameters
    ----------
    form : str
        Key of :data:`BANDGAP_FORMS`.
    bulk_gap_ev : float
        Bulk band gap in eV (the limit of large sizes).
    coefficients : tuple of float
        Coefficients of the form, ``(a, b, c)`` for ``"hyperbolic"`` (d in nm).
    valid_diameter_nm : tuple of float
        Diameters outside this window raise :class:`~flowqd.errors.RangeError`.
    rms_residual_ev : float
        Root-mean-square residual of the fit to its points, eV.
    name : str
        Short name of the curve (``"wang-segets-2023"``); results state it.
    citation : str
        Where the curve comes from.
    diameter_grid_nm : tuple of float, optional
        ``(min, max, step)`` of the PSD size grid for this curve (default: the material's ``[psd_kernel]`` grid).
    uncertainty_ev : float
        Standard uncertainty of E_1S at a given size from the curve itself (scatter of the literature around it,
        size calibration), eV; the PSD adds it to the x13 uncertainty.
    """

    form: str
    bulk_gap_ev: float
    coefficients: tuple[float, ...]
    valid_diameter_nm: tuple[float, float]
    rms_residual_ev: float = 0.0
    name: str = "default"
    citation: str = ""
    diameter_grid_nm: tuple[float, float, float] | None = None
    uncertainty_ev: float = 0.0

    def _check_diameter(self, d: np.ndarray) -> None:
        lo, hi = self.valid_diameter_nm
        if not np.all(np.isfinite(d)) or np.any(d < lo - 1e-9) or np.any(d > hi + 1e-9):
            raise RangeError(
                f"diameter {np.min(d):.3g}-{np.max(d):.3g} nm outside the sizing curve's valid range "
                f"{lo:g}-{hi:g} nm"
            )

    def gap_ev(self, diameter_nm: npt.ArrayLike) -> np.ndarray:
        """First excitonic transition energy in eV for diameters in nm."""
        d = np.asarray(diameter_nm, dtype=float)
        self._check_diameter(d)
        return BANDGAP_FORMS[self.form][0](d, self.bulk_gap_ev, *self.coefficients)

    def diameter_nm(self, gap_ev: npt.ArrayLike) -> np.ndarray:
        """Diameter in nm whose first excitonic transition lies at ``gap_ev``."""
        e = np.asarray(gap_ev, dtype=float)
        e_lo, e_hi = sorted(self.gap_ev(np.asarray(self.valid_diameter_nm)))
        if not np.all(np.isfinite(e)) or np.any(e < e_lo - 1e-9) or np.any(e > e_hi + 1e-9):
            raise RangeError(
                f"transition energy {np.min(e):.4g}-{np.max(e):.4g} eV outside the sizing curve's range "
                f"{e_lo:.4g}-{e_hi:.4g} eV (diameters {self.valid_diameter_nm[0]:g}-"
                f"{self.valid_diameter_nm[1]:g} nm)"
            )
        return BANDGAP_FORMS[self.form][1](e, self.bulk_gap_ev, *self.coefficients)

    def dgap_ddiameter_ev_per_nm(self, diameter_nm: npt.ArrayLike, step_nm: float = 1e-4) -> np.ndarray:
        """Slope dE/dd in eV/nm (central difference), negative for quantum confinement."""
        d = np.asarray(diameter_nm, dtype=float)
        self._check_diameter(d)
        f = BANDGAP_FORMS[self.form][0]
        return (f(d + step_nm, self.bulk_gap_ev, *self.coefficients)
                - f(d - step_nm, self.bulk_gap_ev, *self.coefficients)) / (2 * step_nm)


def fit_bandgap(
    diameter_nm: npt.ArrayLike,
    gap_ev: npt.ArrayLike,
    bulk_gap_ev: float,
    *,
    form: str = "hyperbolic",
    fit_c: bool = False,
    valid_diameter_nm: tuple[float, float] = (1.0, 10.0),
) -> SizingCurve:
    """Fit a sizing curve to (diameter, transition energy) points.

    The fit minimises the squared energy residuals with :func:`scipy.optimize.least_squares` from a fixed
    starting point, so it is reproducible. Coefficients are constrained non-negative so that E(d) decreases
    monotonically towards the bulk gap (``c`` may be negative; the denominator is
    checked to stay positive over the validity window).

    Parameters
    ----------
    diameter_nm, gap_ev : array_like, shape (N,)
        Points of the sizing curve; every energy must lie above ``bulk_gap_ev``.
    bulk_gap_ev : float
        Bulk band gap, eV (held fixed).
    form : str
        Key of :data:`BANDGAP_FORMS`.
    fit_c : bool
        Fit the constant term ``c`` (needs at least 3 points); otherwise ``c = 0``.
    valid_diameter_nm : tuple of float
        Validity window stored with the curve.

    Returns
    -------
    SizingCurve

    Examples
    --------
    The two InP points of Wang & Segets (518 nm <-> 2.7 nm, 590 nm <-> 3.4 nm):

    >>> from flowqd.units import wavelength_nm_to_energy_ev
    >>> curve = fit_bandgap([2.7, 3.4], wavelength_nm_to_energy_ev([518.0, 590.0]), 1.35)
    >>> [round(x, 4) for x in curve.coefficients]
    [0.0521, 0.2142, 0.0]
    >>> round(float(curve.diameter_nm(wavelength_nm_to_energy_ev(518.0))), 4)
    2.7
    """
    from scipy.optimize import least_squares  # lazily: importing flowqd.materials stays cheap

    if form not in BANDGAP_FORMS:
        raise FlowqdError(f"unknown band-gap form {form!r}; known: {', '.join(BANDGAP_FORMS)}")
    d = np.asarray(diameter_nm, dtype=float)
    e = np.asarray(gap_ev, dtype=float)
    if d.shape != e.shape or d.ndim != 1 or d.size < (3 if fit_c else 2):
        raise FlowqdError(f"need at least {3 if fit_c else 2} matching (diameter, energy) points to fit")
    if np.any(e <= bulk_gap_ev) or np.any(d <= 0):
        raise RangeError("sizing-curve points must have diameter > 0 and energy above the bulk gap")
    f = BANDGAP_FORMS[form][0]
    # Linear least squares on 1/(E - Eb) = a d^2 + b d (+ c) gives the starting point.
    cols = [d * d, d] + ([np.ones_like(d)] if fit_c else [])
    start, *_ = np.linalg.lstsq(np.stack(cols, axis=1), 1.0 / (e - bulk_gap_ev), rcond=None)
    start[:2] = np.clip(start[:2], 1e-6, None)

    def residual(p: np.ndarray) -> np.ndarray:
        a, b = p[0], p[1]
        c = p[2] if fit_c else 0.0
        return f(d, bulk_gap_ev, a, b, c) - e

    lower = [0.0, 0.0] + ([-np.inf] if fit_c else [])
    sol = least_squares(residual, start, bounds=(lower, np.inf), xtol=1e-14, ftol=1e-14, gtol=1e-14)
    a, b = float(sol.x[0]), float(sol.x[1])
    c = float(sol.x[2]) if fit_c else 0.0
    grid = np.linspace(*valid_diameter_nm, 200)
    if np.any(a * grid**2 + b * grid + c <= 0):
        raise RangeError(
            f"fitted sizing curve is singular inside {valid_diameter_nm[0]:g}-{valid_diameter_nm[1]:g} nm; "
            "narrow valid_diameter_nm or set fit_c = false"
        )
    rms = float(np.sqrt(np.mean(sol.fun**2)))
    valid = (float(valid_diameter_nm[0]), float(valid_diameter_nm[1]))
    return SizingCurve(form, float(bulk_gap_ev), (a, b, c), valid, rms)
