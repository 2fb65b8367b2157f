"""Fluid properties against the research notes' estimates (§3.5, §3.6)."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.errors import RangeError
from flowqd.reactor import (
    DDT,
    STOCK,
    Fluid,
    hnet2_vapour_pressure_bar,
    oleylamine_density_kg_m3,
    oleylamine_viscosity_pa_s,
    stokes_einstein_diffusivity_m2_s,
    wilke_chang_diffusivity_m2_s,
)


def test_oleylamine_density_and_viscosity_match_notes() -> None:
    np.testing.assert_allclose(oleylamine_density_kg_m3([25.0, 180.0, 200.0, 250.0]), [813, 737, 728, 703], atol=1.0)
    # notes §3.5: ≈10 / 2.6 / 1.0 / 0.75 / 0.64 / 0.46 mPa·s at 25 / 80 / 150 / 180 / 200 / 250 °C
    mu = oleylamine_viscosity_pa_s([25.0, 80.0, 150.0, 180.0, 200.0, 250.0]) * 1e3
    np.testing.assert_allclose(mu, [10.0, 2.6, 1.0, 0.75, 0.64, 0.46], rtol=0.03)


def test_temperature_range_is_enforced() -> None:
    for bad in (-1.0, 351.0, float("nan")):
        with pytest.raises(RangeError, match=r"outside the model's range 0-350 °C"):
            oleylamine_viscosity_pa_s(bad)
    with pytest.raises(RangeError, match=r"400"):
        STOCK.density_kg_m3([200.0, 400.0])


def test_stock_multiplier_and_ddt() -> None:
    assert float(STOCK.with_viscosity_multiplier(5.0).viscosity_pa_s(25.0)) == pytest.approx(
        5.0 * float(oleylamine_viscosity_pa_s(25.0)), rel=1e-12)
    assert float(DDT.density_kg_m3(25.0)) == 845.0
    assert float(DDT.viscosity_pa_s(25.0)) == pytest.approx(2.5e-3, rel=1e-9)
    assert float(DDT.viscosity_pa_s(200.0)) < float(STOCK.viscosity_pa_s(200.0))
    with pytest.raises(RangeError, match=r"viscosity_multiplier must be > 0"):
        Fluid("x", 800.0, viscosity_multiplier=0.0)


def test_thermal_diffusivity_and_prandtl() -> None:
    # notes §3.4: α ≈ 0.14 / (728 · 2400) ≈ 8e-8 m²/s at 200 °C
    assert float(STOCK.thermal_diffusivity_m2_s(200.0)) == pytest.approx(8.01e-8, rel=0.01)
    assert float(STOCK.prandtl(200.0)) == pytest.approx(0.638e-3 * 2400 / 0.14, rel=0.01)


def test_diffusivities_match_notes() -> None:
    mu = oleylamine_viscosity_pa_s(200.0)
    # notes §3.5 at 200 °C: molecule 2.2e-9 m²/s (Wilke–Chang), QD 1.5e-10 m²/s (Stokes–Einstein, d_h 7 nm)
    assert float(wilke_chang_diffusivity_m2_s(200.0, mu)) == pytest.approx(2.2e-9, rel=0.03)
    assert float(stokes_einstein_diffusivity_m2_s(200.0, mu)) == pytest.approx(1.55e-10, rel=0.02)
    # Sc_QD ≈ 5600
    sc = float(mu / (STOCK.density_kg_m3(200.0) * stokes_einstein_diffusivity_m2_s(200.0, mu)))
    assert sc == pytest.approx(5600, rel=0.03)


def test_hnet2_vapour_pressure_fit_reproduces_notes_table() -> None:
    t = [25.0, 55.0, 100.0, 150.0, 180.0, 200.0, 220.0]
    p = [0.31, 1.0, 3.75, 11.2, 19.1, 26.2, 35.3]
    np.testing.assert_allclose(hnet2_vapour_pressure_bar(t), p, rtol=0.012)
    with pytest.raises(RangeError, match=r"above the critical temperature 226.5"):
        hnet2_vapour_pressure_bar(250.0)
    assert float(hnet2_vapour_pressure_bar(250.0, allow_supercritical=True)) > 35.3
