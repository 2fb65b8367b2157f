"""Batched finite-volume population balance (PBE) for InP nucleation, growth and ripening in heat-up mode.

Model (batch fluid element, premixed stock, temperature history ``T(t)``; Rempel et al. 2009 form, ref. [3])::

    dc_P/dt = −k1(T)·c_P                                                    (precursor.py)
    ∂n/∂t + ∂(G(r, c_M, T)·n)/∂r = J(c_M, T)·δ(r − r*)                       (growth.py, nucleation.py)
    dc_M/dt = k1·c_P − [J·u(r*) + ∫ 4πr²G n dr / v_m]  (+ dissolution outflow at r_min returned)

State per condition row: ``c_P`` and ``c_M`` (mol/m³) and ``N_i`` (mol of particles per m³ in size cell ``i``).
``u_i = (4/3)π r_i³ / v_m`` is the number of InP units per particle at the cell centre, so In in dots is
``Σ N_i u_i`` mol/m³ and the In balance reads ``c_P + c_M + Σ N_i u_i = c_In,0``.

Numerics (one implementation for numpy and JAX, written against an ``xp`` namespace):

1. precursor chain P → I → J → monomer: exact exponential step for P → I (rate constants frozen over the step),
   J → monomer with uniform inflow over the step (k2 → ∞: the two-step chain of parameter file v1);
2. monomer: **implicit** in ``c_M`` (scalar safeguarded Newton per row) with the growth fluxes of the old
   particle state, then a corrector (Newton on the exact discrete In balance with the implicit particle update of
   step 3) — the stiff monomer/nucleation coupling is unconditionally stable and the monomer the particles take is
   the monomer that exists;
3. particles: **implicit first-order upwind** finite volumes with sign-aware upwinding (``G < 0`` below ``r*``
   flows left, ``G > 0`` flows right).  Because ``G`` changes sign once (Gibbs–Thomson ``c_s(r)`` falls with r),
   each cell has at most one upwind inflow, so the implicit system is two first-order linear recurrences, solved
   with a log-depth parallel (Hillis–Steele) scan.  The implicit upwind matrix is an M-matrix: non-negative for any
   step.  A flux-corrected-transport step (Zalesak 1979) then adds back the limited antidiffusive flux
   ``|G|·Δn/2`` (central − upwind), which removes most of the first-order numerical broadening of the PSD while
   staying conservative, non-negative and free of new extrema;
4. conservation: ``c_M`` is closed from the exact discrete In balance, so mass is conserved to round-off;
   particles leaving the smallest cell (dissolution) return their monomer; the top cell has a zero-flux wall.

Time runs in lockstep for all rows on one shared, geometrically stretched grid.  The outlet of a flow reactor
(segregated flow, Danckwerts/Zwietering; Levenspiel, *Chemical Reaction Engineering*, 3rd ed., Wiley 1999, ch. 11)
is accumulated **during** the integration: ``n_out = Σ_k W[c, k]·n(t_k)`` where
``W`` holds each condition's residence-time quadrature mapped (linear interpolation) onto the grid, so no
trajectory has to be stored.

References
----------
.. [1] R. J. LeVeque, *Finite Volume Methods for Hyperbolic Problems*, CUP 2002, ch. 4 and 9 (upwind FV).
.. [2] N. Haderlein et al., Chem. Eng. J. 2015, 260, 706 (FIMOR: fully implicit ripening solver; abstract).
.. [3] D. V. Talapin et al., J. Phys. Chem. B 2001, 105, 12278; J. Y. Rempel, M. G. Bawendi, K. F. Jensen,
   J. Am. Chem. Soc. 2009, 131, 4479 (continuum nucleation + Gibbs–Thomson growth model; citation details not
   checked against the journal).
.. [4] W. D. Hillis, G. L. Steele, Commun. ACM 1986, 29, 1170 (parallel prefix scan).
.. [5] S. T. Zalesak, J. Comput. Phys. 1979, 31, 335 (flux-corrected transport).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flowqd._backend import resolve_backend
from flowqd.errors import RangeError
from flowqd.kinetics.growth import growth_coefficients
from flowqd.kinetics.nucleation import (
    INP_PAIR_VOLUME_NM3,
    capillary_length_nm,
    nucleation_barrier_kt,
    nucleation_rate_mol_m3_s,
    solubility_mol_m3,
)
from flowqd.kinetics.precursor import (
    intermediate_release_step,
    precursor_chain_step,
    precursor_rate_constant_per_s,
)
from flowqd.units import AVOGADRO

__all__ = [
    "LEGACY_PARAMETER_NAMES",
    "BatchResult",
    "KineticParameters",
    "ParameterValue",
    "SizeGrid",
    "current_parameter_name",
    "heatup_history_k",
    "integrate",
    "mol_rhs",
    "time_grid_s",
]

_NEWTON_ITERATIONS = 6
_CORRECTOR_ITERATIONS = 2
#: Molar volume of InP, m³/mol.
INP_MOLAR_VOLUME_M3_MOL: float = INP_PAIR_VOLUME_NM3 * 1e-27 * AVOGADRO

#: A kinetic parameter: one value, or one value per row of a batch (1-D float array).
ParameterValue = float | npt.NDArray[np.float64]

#: Field names of earlier releases → current name (parameter files written before the rename still load).
#: ``log10_a_j`` read as "joules"; it is log10 of the CNT prefactor ``A_J`` in m⁻³ s⁻¹.
LEGACY_PARAMETER_NAMES: dict[str, str] = {"log10_a_j": "log10_nucleation_prefactor_per_m3_s"}


def current_parameter_name(name: str) -> str:
    """The current field name of a kinetic parameter given by its current or a legacy name.

    >>> current_parameter_name("log10_a_j"), current_parameter_name("p")
    ('log10_nucleation_prefactor_per_m3_s', 'p')
    """
    return LEGACY_PARAMETER_NAMES.get(name, name)


@dataclass(frozen=True)
class KineticParameters:
    """Kinetic parameters of the InP PBE (SI units; reference temperature ``t_ref_k``).

    Any field may be a float or a 1-D array (one value per row of a batch), which lets a calibration evaluate
    parameter perturbations as extra rows of one batched run.

    Attributes
    ----------
    k0_ref_per_s, ea0_j_mol : first-order activation of the In–aminophosphine precursor (P → I; an induction
        step, see :mod:`flowqd.kinetics.precursor`) at ``t_ref_k`` and its activation energy.
    k1_ref_per_s, ea1_j_mol : activated precursor I → J first-order rate and its activation energy.
    k2_ref_per_s : J → monomer first-order rate at ``t_ref_k`` (activation energy ``ea1_j_mol``); the default
        (10⁶ s⁻¹, instantaneous) is the two-step chain P → I → monomer of parameter file v1.
    c_eq_ref_mol_m3, dh_s_j_mol : solute solubility at ``t_ref_k`` and its van 't Hoff enthalpy.
    gamma_j_m2 : interfacial energy (Gibbs–Thomson capillary length and CNT barrier).
    log10_nucleation_prefactor_per_m3_s : log10 of the CNT prefactor ``A_J``, m⁻³ s⁻¹ (``log10_a_j`` in parameter
        files written before the rename; :meth:`from_dict` maps it).
    k_g_ref_m_s, p, e_g_j_mol, alpha : attachment rate at r = 1 nm and ``t_ref_k``, size exponent, activation
        energy, Talapin transfer coefficient.
    diffusivity_m2_s : monomer diffusivity (Wilke–Chang estimate,
        :func:`flowqd.reactor.properties.wilke_chang_diffusivity_m2_s`).
    cluster_share : share of the released In that first forms magic-size clusters (MSC; the two-step route of
        Gary et al. 2015, parameter file v3: 1); 0 (v1/v2) sends it all to the free monomer.
    k_n_ref_per_s, e_n_j_mol : first-order MSC → QD-nucleus conversion ("second nucleation event") and its
        activation energy.
    k_d_ref_per_s, e_d_j_mol : first-order MSC → monomer dissolution (feeds growth of existing dots) and its
        activation energy.  The share of clusters that become dots is ``k_n/(k_n + k_d)`` at each T.
    r_nucleus_nm, nucleus_rsd : radius of the QD nucleus one cluster conversion makes, and the relative sd of a
        Gaussian spread of that radius (0: all at ``r_nucleus_nm``).
    """

    k1_ref_per_s: ParameterValue = 1.0 / 600.0
    ea1_j_mol: ParameterValue = 90e3
    k0_ref_per_s: ParameterValue = 1.0
    ea0_j_mol: ParameterValue = 90e3
    k2_ref_per_s: ParameterValue = 1e6
    c_eq_ref_mol_m3: ParameterValue = 1e-2
    dh_s_j_mol: ParameterValue = 40e3
    gamma_j_m2: ParameterValue = 0.12
    log10_nucleation_prefactor_per_m3_s: ParameterValue = 30.0
    k_g_ref_m_s: ParameterValue = 6e-7
    p: ParameterValue = 2.0
    e_g_j_mol: ParameterValue = 60e3
    alpha: ParameterValue = 0.0
    diffusivity_m2_s: ParameterValue = 2e-9
    cluster_share: ParameterValue = 0.0
    k_n_ref_per_s: ParameterValue = 1e-2
    e_n_j_mol: ParameterValue = 80e3
    k_d_ref_per_s: ParameterValue = 1e-2
    e_d_j_mol: ParameterValue = 110e3
    r_nucleus_nm: ParameterValue = 1.0
    nucleus_rsd: ParameterValue = 0.0
    t_ref_k: float = 473.15

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KineticParameters:
        """From a parameter file's ``kinetics`` table; old names (:data:`LEGACY_PARAMETER_NAMES`) are mapped.

        Unknown names raise ``TypeError`` (as the constructor does); an old and a new name for the same field
        together raise ``TypeError`` too.

        >>> KineticParameters.from_dict({"log10_a_j": 29.5}).log10_nucleation_prefactor_per_m3_s
        29.5
        """
        out: dict[str, Any] = {}
        for key, value in data.items():
            name = current_parameter_name(key)
            if name in out:
                raise TypeError(f"kinetic parameter {name!r} given twice (as {key!r} and under its other name)")
            out[name] = value
        return cls(**out)

    def replace(self, **changes: Any) -> KineticParameters:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def as_rows(self, n_rows: int, xp: Any = np) -> dict[str, Any]:
        """All (non-reference) fields broadcast to arrays of shape ``(n_rows,)``."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "t_ref_k":
                continue
            v = np.broadcast_to(np.asarray(getattr(self, f.name), dtype=float), (n_rows,))
            out[f.name] = xp.asarray(np.array(v))
        return out


@dataclass(frozen=True)
class SizeGrid:
    """Finite-volume cells in particle radius (nm); default 110 uniform cells over 0.2–4.6 nm radius.

    >>> g = SizeGrid.uniform(0.2, 4.6, 110)
    >>> g.n_cells, round(float(g.widths_nm[0]), 3)
    (110, 0.04)
    """

    edges_nm: np.ndarray

    @classmethod
    def uniform(cls, r_min_nm: float = 0.2, r_max_nm: float = 4.6, n_cells: int = 110) -> SizeGrid:
        if not 0 < r_min_nm < r_max_nm or n_cells < 8:
            raise RangeError(f"bad size grid {r_min_nm}-{r_max_nm} nm with {n_cells} cells")
        return cls(np.linspace(r_min_nm, r_max_nm, n_cells + 1))

    @property
    def n_cells(self) -> int:
        return int(self.edges_nm.size - 1)

    @property
    def centers_nm(self) -> np.ndarray:
        return 0.5 * (self.edges_nm[1:] + self.edges_nm[:-1])

    @property
    def widths_nm(self) -> np.ndarray:
        return np.diff(self.edges_nm)

    @property
    def diameters_nm(self) -> np.ndarray:
        return 2.0 * self.centers_nm

    @property
    def units_per_particle(self) -> np.ndarray:
        """InP formula units in a particle at each cell centre."""
        return 4.0 / 3.0 * np.pi * self.centers_nm**3 / INP_PAIR_VOLUME_NM3


def time_grid_s(t_end_s: float, dt_min_s: float = 0.2, ratio: float = 0.04, dt_max_s: float = 60.0) -> np.ndarray:
    """Shared time grid: steps ``dt = clip(ratio·t, dt_min, dt_max)`` from 0 to (at least) ``t_end_s``.

    Fine steps resolve the heat-up and the nucleation burst, long implicit steps the slow ripening.

    >>> t = time_grid_s(600.0)
    >>> float(t[0]), bool(t[-1] >= 600.0)
    (0.0, True)
    """
    if not np.isfinite(t_end_s) or t_end_s <= 0:
        raise RangeError(f"integration end time must be positive and finite, got {t_end_s}")
    times = [0.0]
    t = 0.0
    while t < t_end_s:
        t += float(np.clip(ratio * t, dt_min_s, dt_max_s))
        times.append(t)
    return np.asarray(times)


def heatup_history_k(times_s: npt.ArrayLike, temperature_set_c: npt.ArrayLike, *, inlet_temperature_c: float = 25.0,
                     heatup_time_s: npt.ArrayLike = 3.0) -> np.ndarray:
    """Fluid temperature history (K) in a heated coil: first-order approach to the block set point.

    ``T(t) = T_set − (T_set − T_in)·exp(−t/τ_h)`` with ``τ_h = R²/α ≈ 3 s`` for the 1 mm ID tube (radial
    conduction, :mod:`flowqd.reactor.heatup`: the fluid reaches the block temperature within seconds).  Returns an
    array of shape ``(n_rows, n_times)``.

    >>> h = heatup_history_k([0.0, 1e3], [200.0])
    >>> [round(float(x), 2) for x in h[0]]
    [298.15, 473.15]
    """
    t = np.asarray(times_s, dtype=float)[None, :]
    ts = np.atleast_1d(np.asarray(temperature_set_c, dtype=float))[:, None]
    return 273.15 + ts - (ts - inlet_temperature_c) * np.exp(-t / heatup_time_s)


@dataclass(frozen=True)
class BatchResult:
    """Outcome of :func:`integrate`.

    Attributes
    ----------
    number_mol_m3 : (n_out, n_cells) outlet (RTD-weighted) particle concentration per cell, mol/m³.
    precursor_mol_m3, monomer_mol_m3 : (n_out,) outlet precursor and monomer, mol/m³.
    final_number_mol_m3, final_precursor_mol_m3, final_monomer_mol_m3 : state of each row at the last time.
    trajectory : optional dict of (n_rows, n_times, …) arrays when ``record=True``.
    grid : the size grid;  times_s : the time grid.
    """

    number_mol_m3: np.ndarray
    precursor_mol_m3: np.ndarray
    monomer_mol_m3: np.ndarray
    final_number_mol_m3: np.ndarray
    final_precursor_mol_m3: np.ndarray
    final_monomer_mol_m3: np.ndarray
    grid: SizeGrid
    times_s: np.ndarray
    trajectory: dict[str, np.ndarray] | None = None


# ---------------------------------------------------------------------------------------------------------------
# The step (xp-generic)
# ---------------------------------------------------------------------------------------------------------------
def _scan_linear(a: Any, b: Any, xp: Any, reverse: bool = False) -> Any:
    """Solve ``x_i = a_i·x_{i−1} + b_i`` (``x_{−1} = 0``) along the last axis by a log-depth parallel scan.

    numpy: Hillis–Steele doubling in place; JAX: ``jax.lax.associative_scan`` with the same associative operator
    ``(a₁, b₁) ∘ (a₂, b₂) = (a₁a₂, a₂b₁ + b₂)``.
    """
    if xp is not np:
        import jax

        def combine(left: Any, right: Any) -> Any:
            return left[0] * right[0], right[0] * left[1] + right[1]

        return jax.lax.associative_scan(combine, (a, b), reverse=reverse, axis=a.ndim - 1)[1]
    if reverse:
        a, b = a[..., ::-1], b[..., ::-1]
    a = np.array(a, copy=True)
    b = np.array(b, copy=True)
    n = a.shape[-1]
    k = 1
    while k < n:
        b[..., k:] += a[..., k:] * b[..., :-k]
        a[..., k:] *= a[..., :-k]
        k *= 2
    return b[..., ::-1] if reverse else b


class _Consts:
    """Per-run constant arrays (grid geometry) in the backend's namespace."""

    def __init__(self, grid: SizeGrid, xp: Any) -> None:
        e = grid.edges_nm
        c = grid.centers_nm
        w = grid.widths_nm
        u = grid.units_per_particle
        self.xp = xp
        self.edges = xp.asarray(e)
        self.centers = xp.asarray(c)
        self.widths = xp.asarray(w)
        self.units = xp.asarray(u)
        # face f (0..n) is the left face of cell f; the last face is the closed wall.
        self.du = xp.asarray(np.concatenate([[u[0]], np.diff(u), [0.0]]))
        self.inv_w_left = xp.asarray(np.concatenate([[0.0], 1.0 / w]))  # density factor of the left neighbour
        self.inv_w_right = xp.asarray(np.concatenate([1.0 / w, [0.0]]))  # … of the right neighbour
        self.wall = xp.asarray(np.concatenate([np.ones(c.size), [0.0]]))
        self.n = c.size


def _kinetic_coefficients(T: Any, prm: dict[str, Any], consts: _Consts, t_ref_k: float) -> dict[str, Any]:
    xp = consts.xp
    k1 = precursor_rate_constant_per_s(T, prm["k1_ref_per_s"], prm["ea1_j_mol"], t_ref_k, xp=xp)
    k0 = precursor_rate_constant_per_s(T, prm["k0_ref_per_s"], prm["ea0_j_mol"], t_ref_k, xp=xp)
    k2 = precursor_rate_constant_per_s(T, prm["k2_ref_per_s"], prm["ea1_j_mol"], t_ref_k, xp=xp)
    k_n = precursor_rate_constant_per_s(T, prm["k_n_ref_per_s"], prm["e_n_j_mol"], t_ref_k, xp=xp)
    k_d = precursor_rate_constant_per_s(T, prm["k_d_ref_per_s"], prm["e_d_j_mol"], t_ref_k, xp=xp)
    c_eq = solubility_mol_m3(T, prm["c_eq_ref_mol_m3"], prm["dh_s_j_mol"], t_ref_k, xp=xp)
    r_c = capillary_length_nm(T, prm["gamma_j_m2"])
    barrier = nucleation_barrier_kt(T, prm["gamma_j_m2"], r_c)
    col = (slice(None), None)
    a_f, cs_f = growth_coefficients(
        consts.edges[None, :], T[col], c_eq_mol_m3=c_eq[col], r_c_nm=r_c[col], k_g_ref_m_s=prm["k_g_ref_m_s"][col],
        p=prm["p"][col], e_g_j_mol=prm["e_g_j_mol"][col], alpha=prm["alpha"][col],
        diffusivity_m2_s=prm["diffusivity_m2_s"][col], molar_volume_m3_mol=INP_MOLAR_VOLUME_M3_MOL, t_ref_k=t_ref_k,
        xp=xp)
    return {"k0": k0, "k1": k1, "k2": k2, "k_n": k_n, "k_d": k_d, "c_eq": c_eq, "r_c": r_c, "barrier": barrier,
            "a_f": a_f * consts.wall,
            "cs_f": cs_f}


def _nuclei(c: Any, kc: dict[str, Any], prm: dict[str, Any], consts: _Consts) -> tuple[Any, Any, Any]:
    """Nucleation rate J (mol/m³/s), nucleus size r* (clipped to the grid) and its InP units (continuous)."""
    xp = consts.xp
    s = c / kc["c_eq"]
    rate = nucleation_rate_mol_m3_s(s, kc["barrier"], prm["log10_nucleation_prefactor_per_m3_s"], xp=xp)
    ln_s = xp.log(xp.maximum(s, 1.0 + 1e-9))
    r_star = xp.clip(kc["r_c"] / ln_s, consts.centers[0], consts.centers[-2])
    units = 4.0 / 3.0 * np.pi * r_star**3 / INP_PAIR_VOLUME_NM3
    return rate, r_star, units


def _monomer_residual(c: Any, c_old: Any, supply: Any, dt: Any, dens_l: Any, dens_r: Any, kc: dict[str, Any],
                      prm: dict[str, Any], consts: _Consts) -> tuple[Any, Any]:
    """Implicit monomer balance ``f(c)`` and ``df/dc`` (monotone increasing in c)."""
    xp = consts.xp
    g = kc["a_f"] * (c[:, None] - kc["cs_f"])
    pos = g > 0
    flux = xp.where(pos, g * dens_l, g * dens_r)
    sink = xp.sum(consts.du * flux, axis=-1)
    dsink = xp.sum(consts.du * kc["a_f"] * xp.where(pos, dens_l, dens_r), axis=-1)
    rate, _, units = _nuclei(c, kc, prm, consts)
    s = c / kc["c_eq"]
    ln_s = xp.log(xp.maximum(s, 1.0 + 1e-6))
    dnuc = rate * units * (2.0 * kc["barrier"] / ln_s**3 - 3.0 / ln_s) / xp.maximum(c, 1e-300)
    f = c - c_old - supply + dt * (rate * units + sink)
    df = 1.0 + dt * (xp.maximum(dnuc, 0.0) + dsink)
    return f, df


def _fct_correction(low: Any, old: Any, g: Any, dt: Any, consts: _Consts) -> Any:
    """Flux-corrected transport (Zalesak 1979) on top of the implicit upwind solution.

    The antidiffusive flux ``A = |G|·(n_right − n_left)/2`` (central minus upwind: it removes the first-order
    upwind diffusion ``|G|Δr/2·∂n/∂r``) is limited so that no cell leaves the range of its neighbours' old and
    low-order values: conservative, non-negative, non-oscillating, and second order where the PSD is smooth.
    Boundary faces (dissolution outflow, closed wall) keep the upwind flux.
    """
    xp = consts.xp
    zeros = xp.zeros((low.shape[0], 1))
    dens = low / consts.widths
    a_int = 0.5 * xp.abs(g[:, 1:-1]) * (dens[:, 1:] - dens[:, :-1])  # interior faces 1..n-1
    a = xp.concatenate([zeros, a_int, zeros], axis=-1) * dt  # amount moved left→right per step
    a_in, a_out = a[:, :-1], a[:, 1:]  # left and right face of each cell
    p_plus = xp.maximum(a_in, 0.0) - xp.minimum(a_out, 0.0)
    p_minus = xp.maximum(a_out, 0.0) - xp.minimum(a_in, 0.0)
    both = xp.maximum(low, old)
    lo_both = xp.minimum(low, old)
    pad_hi = xp.concatenate([zeros, both, zeros], axis=-1)
    pad_lo = xp.concatenate([zeros + xp.inf, lo_both, zeros + xp.inf], axis=-1)
    n_max = xp.maximum(xp.maximum(pad_hi[:, :-2], pad_hi[:, 1:-1]), pad_hi[:, 2:])
    n_min = xp.maximum(xp.minimum(xp.minimum(pad_lo[:, :-2], pad_lo[:, 1:-1]), pad_lo[:, 2:]), 0.0)
    q_plus = xp.maximum(n_max - low, 0.0)
    q_minus = xp.maximum(low - n_min, 0.0)
    r_plus = xp.where(p_plus > 0, xp.minimum(1.0, q_plus / xp.where(p_plus > 0, p_plus, 1.0)), 1.0)
    r_minus = xp.where(p_minus > 0, xp.minimum(1.0, q_minus / xp.where(p_minus > 0, p_minus, 1.0)), 1.0)
    ones = xp.ones((low.shape[0], 1))
    rp = xp.concatenate([ones, r_plus, ones], axis=-1)  # padded so face f sees cells f-1 (left) and f (right)
    rm = xp.concatenate([ones, r_minus, ones], axis=-1)
    c_face = xp.where(a >= 0, xp.minimum(rp[:, 1:], rm[:, :-1]), xp.minimum(rp[:, :-1], rm[:, 1:]))
    ca = c_face * a
    return xp.maximum(low + ca[:, :-1] - ca[:, 1:], 0.0)


def _implicit_particles(c: Any, number: Any, dt: Any, kc: dict[str, Any], prm: dict[str, Any],
                        consts: _Consts) -> tuple[Any, Any]:
    """Implicit first-order upwind update of the particle cells at monomer ``c`` (nucleation source at r*(c)).

    Returns the new cell contents and the face growth rates.
    """
    xp = consts.xp
    g = kc["a_f"] * (c[:, None] - kc["cs_f"])
    g_pos = xp.maximum(g, 0.0)
    g_neg = xp.minimum(g, 0.0)
    rate, r_star, _ = _nuclei(c, kc, prm, consts)
    k = xp.clip(xp.searchsorted(consts.centers, r_star) - 1, 0, consts.n - 2)
    c_lo = consts.centers[k]
    c_hi = consts.centers[k + 1]
    frac_hi = (r_star - c_lo) / (c_hi - c_lo)
    idx = xp.arange(consts.n)[None, :]
    src = rate[:, None] * (xp.where(idx == k[:, None], 1.0 - frac_hi[:, None], 0.0)
                           + xp.where(idx == k[:, None] + 1, frac_hi[:, None], 0.0))
    inv_w = 1.0 / consts.widths
    out = (g_pos[:, 1:] - g_neg[:, :-1]) * inv_w
    diag = 1.0 + dt * out
    beta = (number + dt * src) / diag
    a_fwd = dt * g_pos[:, :-1] * consts.inv_w_left[:-1] / diag
    a_bwd = -dt * g_neg[:, 1:] * consts.inv_w_right[1:] / diag
    x_f = _scan_linear(a_fwd, beta, xp)
    x_b = _scan_linear(a_bwd, beta, xp, reverse=True)
    return xp.maximum(x_f + x_b - beta, 0.0), g


def _cluster_nuclei(out_n: Any, prm: dict[str, Any], consts: _Consts) -> Any:
    """Nuclei made from ``out_n`` mol/m³ of InP units in clusters, placed at ``r_nucleus_nm`` (per cell, mol/m³).

    The In is split between the two cells bracketing ``r_n`` (linear in r) and each share is turned into particles
    with that cell's own units per particle, so the In placed equals ``out_n`` exactly.
    """
    xp = consts.xp
    r_n = xp.clip(prm["r_nucleus_nm"], consts.centers[0], consts.centers[-2])
    k = xp.clip(xp.searchsorted(consts.centers, r_n) - 1, 0, consts.n - 2)
    c_lo = consts.centers[k]
    frac_hi = (r_n - c_lo) / (consts.centers[k + 1] - c_lo)
    idx = xp.arange(consts.n)[None, :]
    share = (xp.where(idx == k[:, None], 1.0 - frac_hi[:, None], 0.0)
             + xp.where(idx == k[:, None] + 1, frac_hi[:, None], 0.0))
    # a spread of nucleus sizes (relative sd ``nucleus_rsd`` > 0): Gaussian In shares over the cells
    rel = prm["nucleus_rsd"][:, None]
    spread = rel > 0
    z = (consts.centers[None, :] - r_n[:, None]) / xp.where(spread, rel * r_n[:, None], 1.0)
    gauss = xp.exp(-0.5 * z * z) * consts.widths[None, :]
    gauss = gauss / xp.maximum(xp.sum(gauss, axis=-1, keepdims=True), 1e-300)
    share = xp.where(spread, gauss, share)
    return out_n[:, None] * share / consts.units


def _step(state: tuple[Any, ...], T: Any, dt: Any, prm: dict[str, Any], consts: _Consts,
          t_ref_k: float, fct: bool = True) -> tuple[Any, ...]:
    """Advance ``(c_P, c_I, c_J, c_C, c_M, N)`` of all rows by one step ``dt`` at end-of-step temperature ``T``."""
    xp = consts.xp
    c_p, c_i, c_j, c_c, c_m, number = state
    kc = _kinetic_coefficients(T, prm, consts, t_ref_k)
    # 1. precursor chain P → I → J → M: P → I → (out of I) exact for rate constants frozen over the step, J with a
    #    uniform inflow (exact release for k2 → ∞, the two-step chain)
    c_p_new, c_i_new = precursor_chain_step(c_p, c_i, kc["k0"], kc["k1"], dt, xp=xp)
    c_j_new, released = intermediate_release_step(c_j, (c_p + c_i) - (c_p_new + c_i_new), kc["k2"], dt, xp=xp)
    # 1b. magic-size clusters (v3): a share of the released In forms clusters C, which convert first order either
    #     into QD nuclei at r_n (k_n) or back into monomer (k_d); same uniform-inflow step as J
    share = prm["cluster_share"]
    k_cd = kc["k_n"] + kc["k_d"]
    c_c_new, out_c = intermediate_release_step(c_c, share * released, k_cd, dt, xp=xp)
    frac_n = kc["k_n"] / k_cd
    supply = (1.0 - share) * released + (1.0 - frac_n) * out_c
    number = number + _cluster_nuclei(frac_n * out_c, prm, consts)
    # 2. monomer, implicit (safeguarded Newton on a monotone scalar function per row)
    zeros = xp.zeros((number.shape[0], 1))
    dens_l = xp.concatenate([zeros, number], axis=-1) * consts.inv_w_left
    dens_r = xp.concatenate([number, zeros], axis=-1) * consts.inv_w_right
    f0, _ = _monomer_residual(xp.zeros_like(c_m), c_m, supply, dt, dens_l, dens_r, kc, prm, consts)
    lo = xp.zeros_like(c_m)
    hi = xp.maximum(-f0, c_m + supply) * (1.0 + 1e-12) + 1e-300
    c = xp.where(c_m > 0, c_m, c_m + supply)
    c = xp.clip(c, lo, hi)
    for _ in range(_NEWTON_ITERATIONS):
        f, df = _monomer_residual(c, c_m, supply, dt, dens_l, dens_r, kc, prm, consts)
        lo = xp.where(f < 0, c, lo)
        hi = xp.where(f > 0, c, hi)
        c_newton = c - f / df
        mid = xp.where(lo > 0, xp.sqrt(lo * hi), 0.5 * hi)
        ok = (c_newton >= lo) & (c_newton <= hi)
        c = xp.where(f == 0, c, xp.where(ok, c_newton, mid))
    # 3. corrector: Newton on the exact discrete balance F(c) = c − c_M − supply + Σu·(N_new(c) − N), with N_new(c)
    #    the implicit upwind solution (so the monomer the particles take is the monomer that was there).
    lo = xp.zeros_like(c_m)
    hi = c_m + supply + xp.sum(number * consts.units, axis=-1) + 1e-300
    for _ in range(_CORRECTOR_ITERATIONS):
        low, _ = _implicit_particles(c, number, dt, kc, prm, consts)
        f = c - c_m - supply + xp.sum((low - number) * consts.units, axis=-1)
        d_l = xp.concatenate([zeros, low], axis=-1) * consts.inv_w_left
        d_r = xp.concatenate([low, zeros], axis=-1) * consts.inv_w_right
        _, df = _monomer_residual(c, c_m, supply, dt, d_l, d_r, kc, prm, consts)
        lo = xp.where(f <= 0, c, lo)
        hi = xp.where(f >= 0, c, hi)
        c_newton = c - f / df
        ok = (c_newton >= lo) & (c_newton <= hi)
        c = xp.where(ok, c_newton, 0.5 * (lo + hi))
    # 4. particles at the converged c, then the limited FCT antidiffusion
    low, g = _implicit_particles(c, number, dt, kc, prm, consts)
    high = _fct_correction(low, number, g, dt, consts) if fct else low
    # 5. monomer from the exact discrete In balance.  The antidiffusion may not use more monomer than is left
    #    (its share is scaled down), and a low-order step that overshoots (never seen after the corrector) takes
    #    the convex combination of old and new states that uses exactly what exists: ≥ 0 and conservative.
    dm_low = xp.sum((low - number) * consts.units, axis=-1)
    dm_fct = xp.sum((high - low) * consts.units, axis=-1)
    avail = xp.maximum(c_m + supply - dm_low, 0.0)
    short = (dm_fct > avail) & (dm_fct > 0)
    theta_f = xp.where(short, avail / xp.where(short, dm_fct, 1.0), 1.0)
    number_new = low + theta_f[:, None] * (high - low)
    dm = dm_low + theta_f * dm_fct
    avail = xp.maximum(c_m + supply, 0.0)
    short = (dm > avail) & (dm > 0)
    theta = xp.where(short, avail / xp.where(short, dm, 1.0), 1.0)
    number_new = number + theta[:, None] * (number_new - number)
    c_m_new = xp.maximum(avail - theta * dm, 0.0)
    return c_p_new, c_i_new, c_j_new, c_c_new, c_m_new, number_new


# ---------------------------------------------------------------------------------------------------------------
# Drivers
# ---------------------------------------------------------------------------------------------------------------
def integrate(
    temperature_k: npt.ArrayLike,
    times_s: npt.ArrayLike,
    params: KineticParameters,
    *,
    feed_in_mol_m3: float | npt.ArrayLike = 87.7,
    grid: SizeGrid | None = None,
    outlet_weights: npt.ArrayLike | None = None,
    outlet_rows: npt.ArrayLike | None = None,
    record: bool = False,
    backend: str = "numpy",
    fct: bool = True,
) -> BatchResult:
    """Integrate batch PBEs for all rows in lockstep and accumulate RTD-weighted outlet states.

    Parameters
    ----------
    temperature_k : (n_rows, n_times) array
        Temperature history of each row on ``times_s`` (e.g. from :func:`heatup_history_k`).
    times_s : (n_times,) array
        Shared time grid starting at 0 (e.g. :func:`time_grid_s`).
    params : KineticParameters
        Scalars or arrays of shape ``(n_rows,)``.
    feed_in_mol_m3 : float or (n_rows,)
        In precursor fed (mol/m³ = mM), the In-limited monomer source.
    outlet_weights : (n_out, n_times) array, optional
        Quadrature weights of each outlet over the time grid (rows of ``W`` sum to 1); default: the final state of
        each row.
    outlet_rows : (n_out,) int array, optional
        Which row each outlet reads (default ``arange(n_rows)``).
    record : bool
        Also return full trajectories (memory ``n_rows·n_times·n_cells``; for small batches).
    backend : {"numpy", "jax", "auto"}
        Array backend; the same step function runs on both (JAX: ``lax.scan`` under ``jit``, float64).
    fct : bool
        Apply the flux-corrected-transport antidiffusion (default).  ``False`` gives the plain implicit upwind
        scheme, whose semi-discretisation is exactly :func:`mol_rhs` (used for the BDF accuracy check).
    """
    grid = grid or SizeGrid.uniform()
    times = np.asarray(times_s, dtype=float)
    temps = np.atleast_2d(np.asarray(temperature_k, dtype=float))
    n_rows, n_t = temps.shape
    if times.ndim != 1 or times.size != n_t or times[0] != 0.0 or np.any(np.diff(times) <= 0):
        raise RangeError("times_s must start at 0, increase, and match temperature_k's second axis")
    if not np.all(np.isfinite(temps)) or np.any(temps <= 0):
        raise RangeError("temperature history must be finite and positive (K)")
    feed = np.broadcast_to(np.asarray(feed_in_mol_m3, dtype=float), (n_rows,)).copy()
    if np.any(feed < 0):
        raise RangeError("feed concentration must be non-negative")
    if outlet_weights is None:
        w = np.zeros((n_rows, n_t))
        w[:, -1] = 1.0
        rows = np.arange(n_rows)
    else:
        w = np.atleast_2d(np.asarray(outlet_weights, dtype=float))
        rows = np.arange(w.shape[0]) if outlet_rows is None else np.asarray(outlet_rows, dtype=int)
    if w.shape[1] != n_t or rows.shape != (w.shape[0],) or (rows.size and (rows.min() < 0 or rows.max() >= n_rows)):
        raise RangeError("outlet_weights must be (n_out, n_times) and outlet_rows index the rows")
    name = resolve_backend(backend)
    runner = _run_jax if name == "jax" else _run_numpy
    out = runner(temps, times, params, feed, grid, w, rows, record, fct)
    return BatchResult(out[0], out[1], out[2], out[3], out[4], out[5], grid, times, out[6] if record else None)


def _run_numpy(temps: np.ndarray, times: np.ndarray, params: KineticParameters, feed: np.ndarray, grid: SizeGrid,
               w: np.ndarray, rows: np.ndarray, record: bool, fct: bool = True) -> tuple:
    consts = _Consts(grid, np)
    prm = params.as_rows(temps.shape[0], np)
    n_rows = temps.shape[0]
    c_p, c_i, c_j, c_c = feed.copy(), np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows)
    c_m, number = np.zeros(n_rows), np.zeros((n_rows, consts.n))
    acc_n = w[:, :1] * number[rows]
    acc_p = w[:, 0] * c_p[rows]
    acc_m = w[:, 0] * c_m[rows]
    traj: dict[str, list] = {"number_mol_m3": [number], "precursor_mol_m3": [c_p], "monomer_mol_m3": [c_m]}
    active = np.flatnonzero(np.any(w != 0, axis=0))
    last = int(active.max()) if active.size else 0
    n_steps = len(times) - 1 if record else max(last, 1)
    for k in range(n_steps):
        c_p, c_i, c_j, c_c, c_m, number = _step((c_p, c_i, c_j, c_c, c_m, number), temps[:, k + 1],
                                                times[k + 1] - times[k], prm, consts, params.t_ref_k, fct)
        wk = w[:, k + 1]
        if np.any(wk):
            acc_n = acc_n + wk[:, None] * number[rows]
            acc_p = acc_p + wk * (c_p + c_i + c_j)[rows]
            acc_m = acc_m + wk * (c_m + c_c)[rows]
        if record:
            traj["number_mol_m3"].append(number)
            traj["precursor_mol_m3"].append(c_p + c_i + c_j)
            traj["monomer_mol_m3"].append(c_m + c_c)
    tr = {k: np.stack(v, axis=1) for k, v in traj.items()} if record else None
    return acc_n, acc_p, acc_m, number, c_p + c_i + c_j, c_m + c_c, tr


def _run_jax(temps: np.ndarray, times: np.ndarray, params: KineticParameters, feed: np.ndarray, grid: SizeGrid,
             w: np.ndarray, rows: np.ndarray, record: bool, fct: bool = True) -> tuple:
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        prm = params.as_rows(temps.shape[0], jnp)
        run = _jax_runner(tuple(float(x) for x in grid.edges_nm), float(params.t_ref_k), bool(record), bool(fct))
        dts = jnp.asarray(np.diff(times))
        res = run(jnp.asarray(feed), jnp.asarray(temps[:, 1:].T), dts, jnp.asarray(w), jnp.asarray(rows), prm)
        res = jax.tree_util.tree_map(np.asarray, res)
    acc_n, acc_p, acc_m, number, c_p, c_m, tr = res
    if record:
        tr = {k: np.concatenate([v0[:, None], np.swapaxes(v, 0, 1)], axis=1)
              for (k, v), v0 in zip(tr.items(), (np.zeros((temps.shape[0], grid.n_cells)), feed,
                                                  np.zeros(temps.shape[0])), strict=True)}
    return acc_n, acc_p, acc_m, number, c_p, c_m, tr


@functools.lru_cache(maxsize=16)
def _jax_runner(edges_nm: tuple[float, ...], t_ref_k: float, record: bool, fct: bool) -> Callable[..., Any]:
    """The jitted lockstep loop for one size grid (cached: one trace/compile per grid and array shapes)."""
    import jax
    import jax.numpy as jnp

    consts = _Consts(SizeGrid(np.asarray(edges_nm)), jnp)

    @jax.jit
    def run(feed: Any, temps_t: Any, dts: Any, w: Any, rows: Any, prm: dict[str, Any]) -> Any:
        n_rows = feed.shape[0]
        state = (feed, jnp.zeros(n_rows), jnp.zeros(n_rows), jnp.zeros(n_rows), jnp.zeros(n_rows),
                 jnp.zeros((n_rows, consts.n)))
        acc = (w[:, :1] * state[5][rows], w[:, 0] * feed[rows], w[:, 0] * 0.0)

        def body(carry: Any, xs: Any) -> Any:
            st, (an, ap, am) = carry
            T, dt, wk = xs
            st = _step(st, T, dt, prm, consts, t_ref_k, fct)
            an = an + wk[:, None] * st[5][rows]
            ap = ap + wk * (st[0] + st[1] + st[2])[rows]
            am = am + wk * (st[3] + st[4])[rows]
            ys = ({"number_mol_m3": st[5], "precursor_mol_m3": st[0] + st[1] + st[2],
                   "monomer_mol_m3": st[3] + st[4]} if record else None)
            return (st, (an, ap, am)), ys

        (st, (an, ap, am)), ys = jax.lax.scan(body, (state, acc), (temps_t, dts, w[:, 1:].T))
        return an, ap, am, st[5], st[0] + st[1] + st[2], st[3] + st[4], ys

    return run


def mol_rhs(params: KineticParameters, grid: SizeGrid, temperature_k: Callable[[float], float],
            feed_in_mol_m3: float = 87.7) -> Callable[[float, np.ndarray], np.ndarray]:
    """Method-of-lines right-hand side of the SAME semi-discrete model for one row (for ``scipy.integrate``).

    State ``y = [c_P, c_I, c_J, c_C, c_M, N_0 … N_{n−1}]``; the FV fluxes, upwinding, nucleation placement and boundary
    treatment are those of the batched step, only the time integration differs.  Used by the benchmark and the
    accuracy tests (reference: ``solve_ivp(method="BDF")``).
    """
    consts = _Consts(grid, np)
    prm = params.as_rows(1, np)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        T = np.array([temperature_k(t)])
        kc = _kinetic_coefficients(T, prm, consts, params.t_ref_k)
        c_p, c_i, c_j, c_c, c_m, number = y[0], y[1], y[2], y[3], max(y[4], 0.0), y[5:][None, :]
        c = np.array([c_m])
        zeros = np.zeros((1, 1))
        dens_l = np.concatenate([zeros, number], axis=-1) * consts.inv_w_left
        dens_r = np.concatenate([number, zeros], axis=-1) * consts.inv_w_right
        g = kc["a_f"] * (c[:, None] - kc["cs_f"])
        flux = np.where(g > 0, g * dens_l, g * dens_r)  # number flux through each face, mol/m³/s
        rate, r_star, _ = _nuclei(c, kc, prm, consts)
        k = int(np.clip(np.searchsorted(consts.centers, r_star[0]) - 1, 0, consts.n - 2))
        frac_hi = (r_star[0] - consts.centers[k]) / (consts.centers[k + 1] - consts.centers[k])
        src = np.zeros(consts.n)
        src[k] = rate[0] * (1.0 - frac_hi)
        src[k + 1] = rate[0] * frac_hi
        activation = kc["k0"][0] * c_p
        transfer = kc["k1"][0] * c_i
        released = kc["k2"][0] * c_j
        share = float(prm["cluster_share"][0])
        to_nuclei = kc["k_n"][0] * c_c
        to_monomer = kc["k_d"][0] * c_c
        dn = flux[0, :-1] - flux[0, 1:] + src
        dm = (1.0 - share) * released + to_monomer - float(np.sum(dn * consts.units))
        dn = dn + _cluster_nuclei(np.array([to_nuclei]), prm, consts)[0]
        dc = share * released - to_nuclei - to_monomer
        return np.concatenate([[-activation, activation - transfer, transfer - released, dc, dm], dn])

    return rhs
