"""Core (HB1) stage of the twin: reactor train → RTD weights → batched PBE → outlet PSD statistics.

Segregated flow (Levenspiel, *Chemical Reaction Engineering*, 3rd ed. 1999, ch. 11; as in FIMOR's continuous ZnO
plant, N. Haderlein et al., Chem. Eng. J. 2015, 260, 706): every fluid element is a batch
reactor that heats up on entering HB1 and reacts for its own residence time; the outlet is
``n_out(r) = ∫ E_p(t)·n_batch(r, t; T) dt`` with ``E_p`` the **particle** RTD of the HB1 section from
:func:`flowqd.reactor.rtd.section_rtd` (Taylor–Aris with Dean reduction, or laminar-segregated for θ < 1).
Because the stock is premixed and the heat-up takes seconds, all conditions at the same set point share one batch
trajectory; the flow rate only changes the RTD weights.  The RTD is integrated exactly over each cell of the
integration time grid (``W[c, k] = F(t_{k+½}) − F(t_{k−½})``) rather than with a few nodes; the tail beyond the
last grid time (0.5 % of a laminar RTD) is lumped on the last time.

Time accuracy: the implicit-Euler PBE runs on a coarse grid and on its bisection; the two outlets are combined by
Richardson extrapolation (``2·fine − coarse``; first-order error removed, the In balance is linear so it still
closes exactly).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flowqd.errors import RangeError
from flowqd.kinetics.pbe import KineticParameters, SizeGrid, heatup_history_k, integrate, time_grid_s
from flowqd.reactor.conditions import Conditions
from flowqd.reactor.geometry import paper_train
from flowqd.reactor.heatup import heating_time_constant_s
from flowqd.reactor.rtd import THETA_SWITCH, ResidenceTimeDistribution, section_rtd

__all__ = ["CoreOutlet", "NumericsOptions", "core_outlet", "psd_statistics", "refine_times"]


@dataclass(frozen=True)
class NumericsOptions:
    """Numerical settings of the core solve (defaults meet |Δx13| < 0.01 nm against scipy BDF)."""

    r_min_nm: float = 0.2
    r_max_nm: float = 4.6
    n_cells: int = 150
    dt_min_s: float = 0.05
    ratio: float = 0.03
    dt_max_s: float = 600.0
    richardson: bool = True
    fct: bool = True
    inlet_temperature_c: float = 25.0
    laminar_tail_quantile: float = 0.995
    dispersion_tail_sigmas: float = 8.0
    #: Particle RTD model of HB1: ``"dispersion"`` (Dean-reduced Taylor–Aris at every flow, the coiled tube's
    #: secondary flow mixes streamlines) or ``"auto"`` (reactor.rtd's switch to the laminar-segregated
    #: E = τ²/2t³ below θ = 1, the v1 behaviour; it made the 0.2–0.3 mL/min PSDs bimodal).
    particle_rtd: str = "dispersion"

    @property
    def grid(self) -> SizeGrid:
        return SizeGrid.uniform(self.r_min_nm, self.r_max_nm, self.n_cells)


@dataclass(frozen=True)
class CoreOutlet:
    """Outlet of HB1 for a batch of conditions (arrays over conditions first)."""

    diameter_nm: np.ndarray  # (n_cells,)
    number_mol_m3: np.ndarray  # (n, n_cells) particle concentration per size cell
    q3: np.ndarray  # (n, n_cells) volume density distribution, 1/nm, ∫q3 dx = 1
    x13_nm: np.ndarray
    sigma_nm: np.ndarray
    rsd: np.ndarray
    conversion: np.ndarray
    precursor_mol_m3: np.ndarray
    monomer_mol_m3: np.ndarray
    feed_in_mol_m3: float


def refine_times(times_s: np.ndarray) -> np.ndarray:
    """The grid with every interval bisected (for Richardson extrapolation)."""
    mid = 0.5 * (times_s[1:] + times_s[:-1])
    out = np.empty(2 * times_s.size - 1)
    out[0::2] = times_s
    out[1::2] = mid
    return out


def psd_statistics(diameter_nm: np.ndarray, number: np.ndarray) -> tuple[np.ndarray, ...]:
    """q3 (1/nm), x1,3, σ and RSD (paper eqs 1–3) of a number-per-cell array on a uniform diameter grid."""
    d = np.asarray(diameter_nm, dtype=float)
    n = np.maximum(np.atleast_2d(number), 0.0)
    vol = n * d**3
    total = np.sum(vol, axis=-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    frac = vol / safe
    dx = float(d[1] - d[0])
    q3 = frac / dx
    x13 = np.sum(frac * d, axis=-1)
    sigma = np.sqrt(np.maximum(np.sum(frac * (d - x13[:, None]) ** 2, axis=-1), 0.0))
    empty = total[:, 0] <= 0
    x13 = np.where(empty, np.nan, x13)
    sigma = np.where(empty, np.nan, sigma)
    return q3, x13, sigma, sigma / x13


def _hb1_rtds(conditions: Sequence[Conditions], particle_rtd: str = "dispersion") -> list[ResidenceTimeDistribution]:
    if particle_rtd not in ("dispersion", "auto"):
        raise ValueError(f"particle_rtd must be 'dispersion' or 'auto', got {particle_rtd!r}")
    theta_switch = 0.0 if particle_rtd == "dispersion" else THETA_SWITCH
    out = []
    for c in conditions:
        train = paper_train(core_units=c.core_units, shell=False,
                            inlet_line_m=c.inlet_line_m if c.inlet_line_m > 0 else None)
        segs = train.resolve(c.core_flow_ml_min, {"HB1": c.core_temperature_c})
        hb1 = next(s for s in segs if s.name == "HB1")
        out.append(section_rtd(hb1, species="particle", theta_switch=theta_switch))
    return out


def _rtd_end_min(rtd: ResidenceTimeDistribution, opts: NumericsOptions) -> float:
    tau = rtd.tau_min
    if rtd.regime == "laminar":
        return 0.5 * tau / np.sqrt(1.0 - opts.laminar_tail_quantile)
    if rtd.bodenstein is None:  # a dispersion RTD always has one (ResidenceTimeDistribution.__post_init__)
        raise RangeError(f"RTD regime {rtd.regime!r} without a Bodenstein number")
    return tau * (1.0 + opts.dispersion_tail_sigmas * np.sqrt(2.0 / rtd.bodenstein))


def _weights(rtd: ResidenceTimeDistribution, times_s: np.ndarray) -> np.ndarray:
    t_min = times_s / 60.0
    mids = 0.5 * (t_min[1:] + t_min[:-1])
    f = rtd.cdf(mids)
    w = np.diff(np.concatenate([[0.0], f, [1.0]]))
    return np.maximum(w, 0.0)


def _stack_params(param_sets: Sequence[KineticParameters], n_uniq: int) -> KineticParameters:
    """One KineticParameters whose fields are per-row arrays: set s occupies rows s·n_uniq … s·n_uniq + n_uniq−1."""
    first = param_sets[0]
    changes = {}
    for f in dataclasses.fields(first):
        if f.name == "t_ref_k":
            continue
        vals = np.array([float(np.asarray(getattr(p, f.name))) for p in param_sets])
        changes[f.name] = np.repeat(vals, n_uniq)
    return first.replace(**changes)


def core_outlet(conditions: Sequence[Conditions], params: KineticParameters | Sequence[KineticParameters], *,
                feed_in_mol_m3: float = 87.7, numerics: NumericsOptions | None = None,
                backend: str = "numpy") -> CoreOutlet | list[CoreOutlet]:
    """Outlet PSD of HB1 for each condition (batched: one PBE row per distinct set point and parameter set).

    ``params`` may be a list of parameter sets (e.g. finite-difference perturbations for uncertainty bands); they
    run as extra rows of the same lockstep integration and a list of outlets is returned.
    """
    opts = numerics or NumericsOptions()
    conditions = list(conditions)
    many = not isinstance(params, KineticParameters)
    sets = list(params) if many else [params]  # type: ignore[arg-type]
    rtds = _hb1_rtds(conditions, opts.particle_rtd)
    temps = np.array([c.core_temperature_c for c in conditions])
    uniq, rows = np.unique(temps, return_inverse=True)
    n_uniq, n_sets, n_cond = uniq.size, len(sets), len(conditions)
    t_end_s = 60.0 * max(_rtd_end_min(r, opts) for r in rtds)
    times = time_grid_s(t_end_s, dt_min_s=opts.dt_min_s, ratio=opts.ratio, dt_max_s=opts.dt_max_s)
    w1 = np.stack([_weights(r, times) for r in rtds])
    w = np.tile(w1, (n_sets, 1))
    out_rows = (np.arange(n_sets)[:, None] * n_uniq + rows[None, :]).reshape(-1)
    row_params = _stack_params(sets, n_uniq) if n_sets > 1 else sets[0]
    grid = opts.grid
    t_set = np.tile(uniq, n_sets)
    tau_h = heating_time_constant_s(0.5 * (t_set + opts.inlet_temperature_c))

    def run(tgrid: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hist = heatup_history_k(tgrid, t_set, inlet_temperature_c=opts.inlet_temperature_c,
                                heatup_time_s=tau_h[:, None])
        res = integrate(hist, tgrid, row_params, feed_in_mol_m3=feed_in_mol_m3, grid=grid, outlet_weights=weights,
                        outlet_rows=out_rows, backend=backend, fct=opts.fct)
        return res.number_mol_m3, res.precursor_mol_m3, res.monomer_mol_m3

    n_c, p_c, m_c = run(times, w)
    if opts.richardson:
        fine = refine_times(times)
        w_fine = np.zeros((w.shape[0], fine.size))
        w_fine[:, 0::2] = w
        n_f, p_f, m_f = run(fine, w_fine)
        number, prec, mono = 2.0 * n_f - n_c, 2.0 * p_f - p_c, 2.0 * m_f - m_c
    else:
        number, prec, mono = n_c, p_c, m_c
    d = grid.diameters_nm
    q3, x13, sigma, rsd = psd_statistics(d, number)
    conversion = (number @ grid.units_per_particle) / feed_in_mol_m3
    outs = []
    for s_idx in range(n_sets):
        sl = slice(s_idx * n_cond, (s_idx + 1) * n_cond)
        outs.append(CoreOutlet(d, number[sl], q3[sl], x13[sl], sigma[sl], rsd[sl], conversion[sl], prec[sl],
                               mono[sl], feed_in_mol_m3))
    return outs if many else outs[0]
