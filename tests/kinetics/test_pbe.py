"""Population balance: conservation, positivity, backends, time accuracy against scipy BDF, growth-law physics."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.errors import RangeError
from flowqd.kinetics.growth import growth_rate_nm_s
from flowqd.kinetics.nucleation import capillary_length_nm, critical_radius_nm, nucleation_rate_mol_m3_s
from flowqd.kinetics.pbe import SizeGrid, heatup_history_k, integrate, mol_rhs, time_grid_s
from flowqd.twin import TwinParameters
from flowqd.twin.core import NumericsOptions, psd_statistics, refine_times

PARAMS = TwinParameters.load().kinetics
GRID = NumericsOptions().grid
FEED = 87.7


def _run(temps_c, t_end_s, **kw):
    t = time_grid_s(t_end_s)
    return t, integrate(heatup_history_k(t, temps_c), t, PARAMS, grid=GRID, feed_in_mol_m3=FEED, **kw)


def test_in_mass_balance_closes_and_states_stay_non_negative():
    _t, res = _run([160.0, 200.0, 260.0, 320.0], 3600.0, record=True)
    tr = res.trajectory
    total = tr["precursor_mol_m3"] + tr["monomer_mol_m3"] + tr["number_mol_m3"] @ GRID.units_per_particle
    assert np.max(np.abs(total - FEED)) / FEED < 1e-6  # In in precursor + monomer + dots = In fed
    assert np.min(tr["number_mol_m3"]) >= 0.0
    assert np.min(tr["monomer_mol_m3"]) >= -1e-12 * FEED
    assert np.min(tr["precursor_mol_m3"]) >= 0.0
    assert np.all(np.isfinite(tr["number_mol_m3"]))


def test_numpy_and_jax_backends_agree():
    import jax  # noqa: F401  (the test extra: a missing JAX is a failure here, not a skip)

    _, a = _run([190.0, 240.0], 900.0, backend="numpy")
    _, b = _run([190.0, 240.0], 900.0, backend="jax")
    np.testing.assert_allclose(b.number_mol_m3, a.number_mol_m3, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(b.monomer_mol_m3, a.monomer_mol_m3, rtol=1e-7)


def test_richardson_matches_scipy_bdf_method_of_lines_within_0_01_nm():
    from scipy.integrate import solve_ivp

    t_end, t_set = 720.0, 200.0
    opts = NumericsOptions()
    t = time_grid_s(t_end, dt_min_s=opts.dt_min_s, ratio=opts.ratio, dt_max_s=opts.dt_max_s)
    t = np.append(t[t < t_end], t_end)
    outs = []
    for tt in (t, refine_times(t)):
        hist = 273.15 + t_set - (t_set - 25.0) * np.exp(-tt / 0.85)
        outs.append(integrate(hist[None, :], tt, PARAMS, grid=GRID, fct=False).number_mol_m3)
    x_ours = psd_statistics(GRID.diameters_nm, 2 * outs[1] - outs[0])[1][0]
    rhs = mol_rhs(PARAMS, GRID, lambda s: 273.15 + t_set - (t_set - 25.0) * np.exp(-s / 0.85))
    y0 = np.zeros(GRID.n_cells + 5)
    y0[0] = FEED
    sol = solve_ivp(rhs, (0.0, t_end), y0, method="BDF", rtol=1e-6, atol=1e-10)
    x_ref = psd_statistics(GRID.diameters_nm, sol.y[5:, -1])[1][0]
    assert abs(x_ours - x_ref) < 0.01


def test_gibbs_thomson_gives_dissolution_below_critical_radius():
    r_c = capillary_length_nm(473.15, PARAMS.gamma_j_m2)
    r_star = float(critical_radius_nm(np.array([20.0]), r_c)[0])
    kw = dict(c_eq_mol_m3=0.01, r_c_nm=r_c, k_g_ref_m_s=1e-7, p=2.0, e_g_j_mol=50e3, alpha=0.0,
              diffusivity_m2_s=2e-9, molar_volume_m3_mol=3.03e-5)
    g = growth_rate_nm_s(np.array([0.8 * r_star, 1.25 * r_star]), 0.2, 473.15, **kw)
    assert g[0] < 0 < g[1]
    assert float(nucleation_rate_mol_m3_s(np.array([0.9]), 100.0, 30.0)[0]) == 0.0


def test_bad_inputs_raise():
    with pytest.raises(RangeError):
        time_grid_s(-1.0)
    with pytest.raises(RangeError):
        SizeGrid.uniform(1.0, 0.5, 20)
    with pytest.raises(RangeError):
        integrate(np.full((1, 3), 400.0), np.array([0.0, 2.0, 1.0]), PARAMS, grid=GRID)


def test_legacy_parameter_name_log10_a_j_still_loads():
    """``log10_a_j`` (read as joules) is now ``log10_nucleation_prefactor_per_m3_s``; old files map the old key."""
    from importlib import resources

    from flowqd.kinetics.pbe import KineticParameters

    old = KineticParameters.from_dict({"log10_a_j": 29.75, "gamma_j_m2": 0.2})
    assert old == KineticParameters(log10_nucleation_prefactor_per_m3_s=29.75, gamma_j_m2=0.2)
    with pytest.raises(TypeError, match="given twice"):
        KineticParameters.from_dict({"log10_a_j": 29.0, "log10_nucleation_prefactor_per_m3_s": 30.0})
    with pytest.raises(TypeError):
        KineticParameters.from_dict({"log10_a_jj": 29.0})
    # the packaged v1 and v2 files keep the old key (v2 also as a fit-parameter name); v3 uses the new one
    v1, v2, v3 = (TwinParameters.load(str(resources.files("flowqd.twin") / "data" / f"parameters-v{k}.json"))
                  for k in (1, 2, 3))
    assert v1.kinetics.log10_nucleation_prefactor_per_m3_s == 30.0
    assert v2.kinetics.log10_nucleation_prefactor_per_m3_s == pytest.approx(29.75219261928216, rel=0, abs=0)
    assert "log10_nucleation_prefactor_per_m3_s" in v2.fit_names and "log10_a_j" not in v2.fit_names
    assert v3.kinetics.log10_nucleation_prefactor_per_m3_s == 0.0
