"""Precursor → monomer (solute) conversion of the aminophosphine route.

Chemistry (Tessier et al. 2016): after transamination with oleylamine the aminophosphine is both the
phosphorus source and the reducing agent,

    InCl3 + 4 P(NHR)3 → InP + 3 [P(NHR)4]Cl,

so the stock used by Wang & Segets (P : In = 16 : 4 mmol = 4 : 1, exactly stoichiometric) is **indium-limited**:
one In precursor gives one InP "monomer" (solute).  The twin takes the conversion as **first order in the In
precursor** with an Arrhenius rate constant, the default form consistent with "formation rate limited by
precursor reactivity" (McMurtry et al. 2020).  The P(III) dependence (4 P per In) is lumped into ``k_ref``: at P/In
= 4 the reductant never runs out before the In does, so this is a modelling choice, not a verified rate law
(we found no published rate constant for InCl3/P(NR2)3/oleylamine).

**Induction (two-step chain).**  The twin converts the In precursor P through an activated intermediate I
(``P → I → monomer``, both first order in In, Arrhenius ``k0`` and ``k1``).  This is the "with a delay" form of
an induction period (Campos et al., Chem. Sci. 2022, DOI 10.1039/d1sc06098h, see one with solute build-up in
PbS/PbSe syntheses; the heat-up stock may show one too).
It is *inferred*, not observed: with the recipe's [In] = 87.7 mM the paper's best production point (73.6 % at
≈ 0.2 mL/min, 200 °C) and a lower production at 0.3 mL/min require a conversion curve that is not concave in t,
which a single first-order step cannot give.  Physically I may stand for the transaminated/complexed
In–aminophosphine adduct (Tessier 2016; Buffard et al., "Mechanistic insight and optimization of InP nanocrystals
synthesized with aminophosphines", Chem. Mater. 2016, 28, 5925, discuss the P–In species before reduction).

References
----------
.. [1] M. D. Tessier, K. De Nolf, D. Dupont, D. Sinnaeve, J. De Roo, Z. Hens, "Aminophosphines: a double role in
   the synthesis of colloidal indium phosphide quantum dots", J. Am. Chem. Soc. 2016, 138, 5923.
.. [2] B. M. McMurtry et al., "Continuous nucleation and size dependent growth kinetics of indium phosphide
   nanocrystals", Chem. Mater. 2020, 32, 4358 (the first-order rate law here is our hypothesis, not theirs).
.. [3] J. S. Owen, E. M. Chan, H. Liu, A. P. Alivisatos, J. Am. Chem. Soc. 2010, 132, 18206 (precursor conversion
   limits nucleation and growth; template for a monomer-supply model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowqd.units import GAS_CONSTANT

__all__ = ["arrhenius", "intermediate_release_step", "precursor_chain_step",
           "precursor_rate_constant_per_s"]


def arrhenius(temperature_k: Any, k_ref: Any, ea_j_mol: Any, t_ref_k: float, xp: Any = np) -> Any:
    """Arrhenius law referenced at ``t_ref_k``: ``k(T) = k_ref·exp(−Ea/R·(1/T − 1/T_ref))``.

    Works on numpy or jax arrays through ``xp``.

    >>> round(float(arrhenius(473.15, 2.0, 80e3, 473.15)), 6)
    2.0
    """
    return k_ref * xp.exp(-ea_j_mol / GAS_CONSTANT * (1.0 / temperature_k - 1.0 / t_ref_k))


def precursor_rate_constant_per_s(
    temperature_k: Any, k_ref_per_s: Any, ea_j_mol: Any, t_ref_k: float = 473.15, xp: Any = np
) -> Any:
    """First-order In-precursor → InP-monomer rate constant k1(T), 1/s.

    ``r1 = k1(T)·c_P`` (mol m⁻³ s⁻¹), with ``k1 = k_ref·exp(−Ea/R (1/T − 1/T_ref))``.

    Parameters
    ----------
    temperature_k : array_like
        Fluid temperature, K.
    k_ref_per_s : float
        Rate constant at ``t_ref_k`` (prior 1/600 s⁻¹ ×/÷ 5 at 200 °C: chosen to
        convert most precursor within the paper's 9-72 min residence times; no published value).
    ea_j_mol : float
        Activation energy, J/mol (prior 60–120 kJ/mol).
    t_ref_k : float
        Reference temperature, K (473.15 K = 200 °C).

    References
    ----------
    Tessier et al. 2016 (stoichiometry); McMurtry et al. 2020 (precursor-limited rate).
    """
    return arrhenius(temperature_k, k_ref_per_s, ea_j_mol, t_ref_k, xp=xp)


def precursor_chain_step(c_p: Any, c_i: Any, k0_per_s: Any, k1_per_s: Any, dt_s: Any,
                         xp: Any = np) -> tuple[Any, Any]:
    """Exact step of the linear chain ``P →(k0) I →(k1) monomer`` with the rate constants frozen over ``dt``.

    ``c_P' = c_P e^{−k0 dt}``;  ``c_I' = c_I e^{−k1 dt} + c_P k0 (e^{−k0 dt} − e^{−k1 dt})/(k1 − k0)``
    (limit ``c_P k0 dt e^{−k0 dt}`` for ``k1 → k0``).  The monomer supplied is the decrease of ``c_P + c_I``.

    >>> p, i = precursor_chain_step(1.0, 0.0, 1e6, np.log(2.0), 1.0)
    >>> round(float(p), 6), round(float(i), 6)
    (0.0, 0.5)
    """
    e0 = xp.exp(-k0_per_s * dt_s)
    e1 = xp.exp(-k1_per_s * dt_s)
    diff = k1_per_s - k0_per_s
    x = diff * dt_s
    close = xp.abs(x) < 1e-3
    safe = xp.where(diff == 0, 1.0, diff)
    near = xp.where(diff == 0, dt_s * e0, e0 * (-xp.expm1(-xp.where(close, x, 0.0))) / safe)
    phi = xp.where(close, near, (e0 - e1) / safe)
    return c_p * e0, c_i * e1 + c_p * k0_per_s * phi


def intermediate_release_step(c_j: Any, inflow: Any, k2_per_s: Any, dt_s: Any, xp: Any = np) -> tuple[Any, Any]:
    """Third stage ``J →(k2) monomer`` of the chain: ``(c_J', released)`` over one step.

    ``inflow`` (what left I during the step) enters J at a uniform rate; J decays first order.  Exact for a constant
    inflow rate: ``c_J' = c_J e^{−h} + inflow·φ(h)``, ``φ(h) = (1 − e^{−h})/h``, ``h = k2·dt`` (the time error of
    the uniform-inflow assumption is first order and removed by the twin's Richardson extrapolation).  Conservative:
    ``released = c_J + inflow − c_J'``.  ``k2 → ∞`` gives ``c_J' = 0`` (the two-step chain P → I → monomer).

    >>> j, out = intermediate_release_step(0.0, 1.0, 1e9, 1.0)
    >>> round(float(j), 6), round(float(out), 6)
    (0.0, 1.0)
    """
    h = k2_per_s * dt_s
    small = h < 1e-6
    phi = xp.where(small, 1.0 - 0.5 * h, -xp.expm1(-h) / xp.where(small, 1.0, h))
    c_j_new = c_j * xp.exp(-h) + inflow * phi
    return c_j_new, c_j + inflow - c_j_new
