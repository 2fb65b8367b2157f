"""Classical nucleation theory (CNT) with a temperature-dependent solute solubility.

Supersaturation ``S = c_M / c_eq(T)``; capillary length ``r_c = 2γ v_m/(k_B T)``; critical radius
``r* = r_c / ln S``; barrier ``ΔG*/k_BT = (4π/3) γ r*² /(k_B T) = (4π/3)·γ r_c²/(k_B T)/ln²S``; rate
``J = A_J·exp(−ΔG*/k_B T)`` for ``S > 1`` and 0 otherwise (LaMer & Dinegar; the same form as Rempel, Bawendi & Jensen
2009 and the Hens-group reaction simulations).

The solubility follows a van 't Hoff law ``c_eq(T) = c_eq,ref·exp(−ΔH_s/R (1/T − 1/T_ref))``: a solubility that
rises with T gives fewer nuclei, larger and broader PSDs at higher T (Abe, Čapek, De Geyter, Hens, ACS Nano 2013:
"raising the solute solubility … larger sizes and a worse size dispersion"; volume and pages not checked).
Magic-size clusters are not part of this module (the twin's cluster route is in :mod:`flowqd.kinetics.pbe`,
``cluster_share``, after Gary et al. 2015: the two-step magic-size-cluster route).

References
----------
.. [1] V. K. LaMer, R. H. Dinegar, J. Am. Chem. Soc. 1950, 72, 4847.
.. [2] J. Y. Rempel, M. G. Bawendi, K. F. Jensen, J. Am. Chem. Soc. 2009, 131, 4479 (citation details not checked
   against the journal).
.. [3] S. Abe, R. K. Čapek, B. De Geyter, Z. Hens, "Reaction chemistry/nanocrystal property relations in the hot
   injection synthesis, the role of the solute solubility", ACS Nano 2013 (volume and pages not checked).
.. [4] B. M. McMurtry et al., "Continuous nucleation and size dependent growth kinetics of indium phosphide
   nanocrystals", Chem. Mater. 2020, 32, 4358 (continuous nucleation at 180 °C).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowqd.kinetics.precursor import arrhenius
from flowqd.units import AVOGADRO, BOLTZMANN

__all__ = [
    "INP_PAIR_VOLUME_NM3",
    "capillary_length_nm",
    "critical_radius_nm",
    "nucleation_barrier_kt",
    "nucleation_rate_mol_m3_s",
    "solubility_mol_m3",
]

#: Volume per InP formula unit, nm³ (M/(ρ N_A) with ρ = 4.81 g/cm³, M = 145.79 g/mol; a³/4 = 0.0505 nm³).
INP_PAIR_VOLUME_NM3: float = 145.79 / 4.81 / AVOGADRO * 1e21


def solubility_mol_m3(temperature_k: Any, c_eq_ref_mol_m3: Any, dh_s_j_mol: Any, t_ref_k: float = 473.15,
                      xp: Any = np) -> Any:
    """Solute (InP monomer) solubility ``c_eq(T)``, mol/m³ (van 't Hoff form; Hens-group solubility argument).

    >>> round(float(solubility_mol_m3(473.15, 0.01, 40e3)), 6)
    0.01
    """
    return arrhenius(temperature_k, c_eq_ref_mol_m3, dh_s_j_mol, t_ref_k, xp=xp)


def capillary_length_nm(temperature_k: Any, gamma_j_m2: Any, pair_volume_nm3: float = INP_PAIR_VOLUME_NM3) -> Any:
    """Capillary length ``r_c = 2 γ v_m / (k_B T)`` in nm (Gibbs–Thomson: ``c_s(r) = c_eq exp(r_c/r)``).

    >>> round(float(capillary_length_nm(473.15, 0.12)), 3)
    1.849
    """
    v_m3 = pair_volume_nm3 * 1e-27
    return 2.0 * gamma_j_m2 * v_m3 / (BOLTZMANN * temperature_k) * 1e9


def critical_radius_nm(supersaturation: Any, r_c_nm: Any, xp: Any = np) -> Any:
    """CNT critical radius ``r* = r_c / ln S`` (nm); ``inf`` for ``S ≤ 1``."""
    ln_s = xp.log(xp.maximum(supersaturation, 1.0 + 1e-12))
    return xp.where(supersaturation > 1.0, r_c_nm / ln_s, xp.inf)


def nucleation_barrier_kt(temperature_k: Any, gamma_j_m2: Any, r_c_nm: Any) -> Any:
    """``B`` in ``ΔG*/k_BT = B / ln²S``: ``B = (4π/3) γ r_c² /(k_B T)`` (dimensionless)."""
    r_c_m = r_c_nm * 1e-9
    return 4.0 * np.pi / 3.0 * gamma_j_m2 * r_c_m**2 / (BOLTZMANN * temperature_k)


def nucleation_rate_mol_m3_s(supersaturation: Any, barrier_b: Any, log10_prefactor_per_m3_s: Any,
                             xp: Any = np) -> Any:
    """CNT nucleation rate in mol of nuclei per m³ per s, ``J = (A_J/N_A)·exp(−B/ln²S)``, 0 for ``S ≤ 1``.

    Parameters
    ----------
    supersaturation : array_like
        ``S = c_M/c_eq(T)``.
    barrier_b : array_like
        ``B`` from :func:`nucleation_barrier_kt`.
    log10_prefactor_per_m3_s : float
        log10 of the kinetic prefactor ``A_J`` in m⁻³ s⁻¹ (prior 28–34: a range chosen so that CNT gives
        10¹⁶–10¹⁹ nuclei per litre at the paper's conditions, not a published value; weakly identifiable).

    >>> float(nucleation_rate_mol_m3_s(0.5, 100.0, 30.0))
    0.0
    """
    s = xp.maximum(supersaturation, 1.0 + 1e-9)
    ln_s = xp.log(s)
    expo = -barrier_b / (ln_s * ln_s)
    rate = 10.0**log10_prefactor_per_m3_s / AVOGADRO * xp.exp(xp.maximum(expo, -700.0))
    return xp.where(supersaturation > 1.0 + 1e-9, rate, 0.0)
