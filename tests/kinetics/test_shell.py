"""Shell model pieces: thickness bounded by the Zn balance, saturating PLQY and shift."""

from __future__ import annotations

import numpy as np

from flowqd.kinetics.shell import ShellParameters, confinement_shift_ev, plqy, shell_thickness_nm


def test_thickness_from_mass_balance_and_bounded_by_zinc():
    r = np.array([1.5])
    n = np.array([0.2e-3 * 1e3])  # 0.2 mM of 3 nm cores in mol/m³
    h_all = float(shell_thickness_nm(r, n, [290.0]))  # all 0.29 M Zn on the cores (notes §4.2: ≈1.3 nm)
    h_some = float(shell_thickness_nm(r, n, [29.0]))
    assert 0.0 < h_some < h_all
    assert 0.5 < h_all < 3.0


def test_plqy_and_shift_saturate():
    p = ShellParameters(kappa=0.1)
    assert float(plqy(0.0, p)) == p.plqy_core
    assert abs(float(plqy(10.0, p)) - p.plqy_max) < 1e-6
    s1, s2 = confinement_shift_ev(2.4, 1.35, [1.0, 3.0], p)
    assert 0 < s1 < s2 < 0.1 * 1.05 + 1e-12
