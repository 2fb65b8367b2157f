"""Concentration, chemical yield and production rate of QDs from the absorbance at one wavelength.

Far above the band edge the absorption per unit volume of semiconductor does not depend on size and follows from
the bulk optical constants (the intrinsic absorption coefficient μ_i, Hens & Moreels 2012), so the absorbance A at
a wavelength λ* gives the volume fraction of semiconductor:

.. math::  \\varphi = \\frac{\\ln 10 \\, A \\, DF}{\\mu_i(\\lambda^*) \\, L}

(DF dilution factor, L path length). Then c_mass = φ ρ, c_mol = 1000 φ ρ / M (mol of formula unit per litre),
yield = c_mol / c_In,feed (InP is 1:1 and In-limited) and production rate = c_mass · Q.

Choice of λ* (default 413.3 nm = 3.00 eV): it lies inside the 400-900 nm range of the paper's spectrometer and is the
wavelength we attribute to the Hens group's InP/CdTe work but could not trace to a specific paper (the choice rests
on the reasons that follow, not on that attribution). It sits on the steep flank of the InP E1 critical point
(μ_i changes ~30 % between 400 and 413 nm), so the wavelength calibration matters; 300-330 nm (μ_i flat within
±1.5 %) is the better choice when the spectrometer reaches it and the sample is purified. The PSD forward model
(:func:`flowqd.analysis.psd.forward_absorbance`) uses the same μ_i, so both agree wherever the continuum of every
size class present is switched on (for InP at 413 nm: dots larger than ~2.3 nm).

References
----------
- Z. Hens and I. Moreels, J. Mater. Chem. 2012, 22, 10406.
- Z. Wang and D. Segets, React. Chem. Eng. 2023, 8, 316 (yield and production rate "according to Hens et al.").
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from flowqd.errors import RangeError
from flowqd.materials import Material, get_material
from flowqd.units import LN10

__all__ = [
    "DEFAULT_WAVELENGTH_STAR_NM",
    "MAX_PLAUSIBLE_YIELD",
    "chemical_yield",
    "mass_concentration_mg_ml",
    "molar_concentration_mol_l",
    "production_rate_mg_h",
    "volume_fraction",
]

#: Default wavelength λ* of the concentration analysis, nm (3.00 eV).
DEFAULT_WAVELENGTH_STAR_NM: float = 413.3
#: A yield above this is refused (100 % plus measurement noise).
MAX_PLAUSIBLE_YIELD: float = 1.05


def volume_fraction(
    absorbance: npt.ArrayLike,
    wavelength_nm: float = DEFAULT_WAVELENGTH_STAR_NM,
    material: str | Material = "InP",
    solvent: str | float = "hexane",
    path_mm: float = 10.0,
    dilution: float = 1.0,
) -> np.ndarray:
    """Volume fraction φ of semiconductor in the undiluted sample.

    Parameters
    ----------
    absorbance : array_like
        Baseline-corrected absorbance at ``wavelength_nm``.
    wavelength_nm : float
        λ*, nm.
    material, solvent
        Material (bulk n, k) and dispersion solvent (local-field factor).
    path_mm : float
        Optical path length of the cuvette, mm.
    dilution : float
        Dilution factor DF (≥ 1) between the sample and the measured dispersion.

    Examples
    --------
    Worked example: A = 0.50, DF = 50, 1 cm, toluene, 413 nm:

    >>> phi = volume_fraction(0.50, 413.3, "InP", "toluene", path_mm=10.0, dilution=50.0)
    >>> f"{float(phi):.2e}"
    '7.05e-04'
    >>> round(float(mass_concentration_mg_ml(phi)), 2), round(float(molar_concentration_mol_l(phi)) * 1e3, 1)
    (3.39, 23.2)
    """
    if path_mm <= 0 or dilution < 1.0:
        raise RangeError(f"need path_mm > 0 and dilution >= 1 (got {path_mm}, {dilution})")
    a = np.asarray(absorbance, dtype=float)
    mu = get_material(material).intrinsic_absorption_cm(wavelength_nm, solvent)
    return LN10 * a * dilution / (mu * path_mm * 0.1)


def mass_concentration_mg_ml(phi: npt.ArrayLike, material: str | Material = "InP") -> np.ndarray:
    """Mass concentration, mg/mL (φ·ρ)."""
    return np.asarray(phi, dtype=float) * get_material(material).density_g_cm3 * 1000.0


def molar_concentration_mol_l(phi: npt.ArrayLike, material: str | Material = "InP") -> np.ndarray:
    """Molar concentration of the formula unit (InP), mol/L (1000 φ ρ / M)."""
    m = get_material(material)
    return 1000.0 * np.asarray(phi, dtype=float) * m.density_g_cm3 / m.molar_mass_g_mol


def chemical_yield(c_mol_l: npt.ArrayLike, in_feed_mol_l: float) -> np.ndarray:
    """Chemical yield versus the In fed (fraction): c_InP / c_In,feed on the same volume basis.

    >>> round(float(chemical_yield(0.02326, 0.05)), 3)
    0.465
    >>> chemical_yield(0.06, 0.05)
    Traceback (most recent call last):
    ...
    flowqd.errors.RangeError: yield 120 % exceeds 100 % (more InP than In fed): check dilution, path or feed
    """
    if not in_feed_mol_l > 0:
        raise RangeError(f"In feed concentration must be > 0 (got {in_feed_mol_l})")
    y = np.asarray(c_mol_l, dtype=float) / in_feed_mol_l
    if np.any(y > MAX_PLAUSIBLE_YIELD):
        raise RangeError(
            f"yield {100 * float(np.max(y)):.0f} % exceeds 100 % (more InP than In fed): check dilution, path or feed"
        )
    if np.any(y < -0.05):
        raise RangeError(f"negative yield {100 * float(np.min(y)):.1f} %: baseline not corrected?")
    return y


def production_rate_mg_h(c_mg_ml: npt.ArrayLike, outlet_flow_ml_min: float) -> np.ndarray:
    """Production rate, mg/h, from the outlet concentration and the outlet volume flow.

    >>> round(float(production_rate_mg_h(3.39, 20.0 / 60.0)), 1)
    67.8
    """
    if not outlet_flow_ml_min > 0:
        raise RangeError(f"outlet flow must be > 0 mL/min (got {outlet_flow_ml_min})")
    return np.asarray(c_mg_ml, dtype=float) * outlet_flow_ml_min * 60.0
