"""Hydraulics against the paper's residence times and the notes' Re/De/ΔP tables (§3.1, §3.6)."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.errors import RangeError
from flowqd.reactor import (
    STOCK,
    check_pressure_bar,
    dean,
    hagen_poiseuille_pressure_drop_bar,
    mean_velocity_m_s,
    paper_train,
    pressure_drop_bar,
    pressure_margin_bar,
    residence_time_min,
    reynolds,
    train_hydraulics,
    white_curvature_factor,
)
from flowqd.reactor.hydraulics import ATMOSPHERE_BAR, bubble_point_margin_bar

UNIT_ML = 3.595
D_MM = 0.9975


def test_paper_residence_times_one_unit() -> None:
    # paper §3: 2.4 min at 1.5 mL/min, 120 min at 0.03 mL/min for one heating unit
    tau = residence_time_min(UNIT_ML, [1.5, 0.03])
    assert tau[0] == pytest.approx(2.4, abs=0.005)
    assert tau[1] == pytest.approx(120.0, abs=0.5)


def test_paper_core_series_used_one_unit_of_hb1() -> None:
    # paper §2.2: 0.3-0.05 mL/min -> 12-72 min. The default paper_train() core (one unit) reproduces it...
    train = paper_train(shell=False)
    taus = [train_hydraulics(train, q, {"HB1": 200.0}).residence_time_min for q in (0.3, 0.05)]
    assert taus[0] == pytest.approx(12.0, abs=0.05)
    assert taus[1] == pytest.approx(72.0, abs=0.2)
    # ...while all three units would give 36-216 min, three times the paper's numbers.
    three = train.with_units("HB1", 3)
    assert train_hydraulics(three, 0.3, {"HB1": 200.0}).residence_time_min == pytest.approx(35.95, abs=0.05)


@pytest.mark.parametrize(("t_c", "q", "re_notes"), [
    (200.0, 0.03, 0.73), (200.0, 0.05, 1.21), (200.0, 0.10, 2.43), (200.0, 0.30, 7.3), (200.0, 1.50, 36.0),
    (180.0, 0.10, 2.09), (250.0, 0.10, 3.28),
])
def test_reynolds_against_notes_table(t_c: float, q: float, re_notes: float) -> None:
    re = reynolds(q, D_MM, STOCK.density_kg_m3(t_c), STOCK.viscosity_pa_s(t_c))
    assert float(re) == pytest.approx(re_notes, rel=0.015)


def test_velocity_and_dean_against_notes() -> None:
    assert float(mean_velocity_m_s(0.10, D_MM)) == pytest.approx(2.13e-3, rel=3e-3)
    re = reynolds(0.10, D_MM, STOCK.density_kg_m3(200.0), STOCK.viscosity_pa_s(200.0))
    # notes §3.1: De = 0.54 / 0.38 / 0.31 for D_c = 20 / 40 / 60 mm at 0.1 mL/min, 200 °C
    np.testing.assert_allclose([float(dean(re, D_MM, dc)) for dc in (20.0, 40.0, 60.0)], [0.54, 0.38, 0.31],
                               atol=0.006)
    assert float(dean(re, D_MM, None)) == 0.0


@pytest.mark.parametrize(("q", "dp_mbar"), [(0.05, 1.0), (0.10, 2.0), (0.30, 6.0), (1.50, 30.0)])
def test_pressure_drop_hot_unit_against_notes(q: float, dp_mbar: float) -> None:
    dp = pressure_drop_bar(q, D_MM, 4.6, 200.0, coil_diameter_mm=30.0)
    assert float(dp) * 1e3 == pytest.approx(dp_mbar, rel=0.02)


def test_cold_viscous_stock_can_exceed_the_syringe_rating() -> None:
    # notes §3.6: 1 m line, 200 mPa·s, 1.5 mL/min -> 2.1 bar; 3 units (13.8 m) -> 28 bar
    assert float(hagen_poiseuille_pressure_drop_bar(1.5, D_MM, 1.0, 0.2)) == pytest.approx(2.06, rel=0.01)
    dp = float(hagen_poiseuille_pressure_drop_bar(1.5, D_MM, 13.8, 0.2))
    assert dp == pytest.approx(28.4, rel=0.01)
    with pytest.raises(RangeError, match=r"20 bar rating"):
        check_pressure_bar(dp)
    assert check_pressure_bar(0.5, back_pressure_bar=5.0) == pytest.approx(14.5, abs=1e-12)
    assert float(pressure_margin_bar(dp)) == pytest.approx(20.0 - dp, abs=1e-12)


def test_white_correction_only_above_de_11_6() -> None:
    de = np.array([0.0, 1.0, 11.6, 11.6 + 1e-6, 50.0, 100.0])
    f = white_curvature_factor(de)
    assert np.all(f[:3] == 1.0)
    assert f[3] == pytest.approx(1.0, abs=1e-3)  # continuous at the switch
    expected_100 = 1.0 / (1.0 - (1.0 - (11.6 / 100.0) ** 0.45) ** (1.0 / 0.45))
    assert f[5] == pytest.approx(expected_100, rel=1e-12) and f[5] == pytest.approx(1.530, abs=1e-3)
    assert f[4] < f[5]


def test_viscosity_multiplier_scales_pressure_drop() -> None:
    base = float(pressure_drop_bar(0.1, D_MM, 4.6, 25.0))
    tenfold = float(pressure_drop_bar(0.1, D_MM, 4.6, 25.0, fluid=STOCK.with_viscosity_multiplier(10.0)))
    assert tenfold == pytest.approx(10.0 * base, rel=1e-12)


def test_vectorised_and_invalid_inputs() -> None:
    q = np.array([0.05, 0.1, 0.3])
    assert residence_time_min(UNIT_ML, q).shape == (3,)
    assert pressure_drop_bar(q, D_MM, 4.6, np.array([180.0, 200.0, 250.0])).shape == (3,)
    with pytest.raises(RangeError, match=r"flow_ml_min must be > 0, got 0.0"):
        residence_time_min(UNIT_ML, [0.1, 0.0])
    with pytest.raises(RangeError, match=r"400 °C outside"):
        pressure_drop_bar(0.1, D_MM, 4.6, 400.0)


def test_train_hydraulics_totals_and_local_pressures() -> None:
    hyd = train_hydraulics(paper_train(), 0.06, {"HB1": 200.0, "HB2": 200.0}, {"ddt": 0.03},
                           back_pressure_bar=5.0)
    hb1, tee, hb2 = hyd.sections
    assert hyd.pressure_drop_bar == pytest.approx(hb1.pressure_drop_bar + hb2.pressure_drop_bar, rel=1e-12)
    assert hyd.residence_time_min == pytest.approx(3.595 / 0.06 + 3.595 / 0.09, abs=0.02)
    assert hb2.outlet_pressure_abs_bar == pytest.approx(ATMOSPHERE_BAR + 5.0, abs=1e-12)
    assert hb1.outlet_pressure_abs_bar == pytest.approx(ATMOSPHERE_BAR + 5.0 + hb2.pressure_drop_bar, abs=1e-12)
    assert hyd.pressure_margin_bar == pytest.approx(15.0 - hyd.pressure_drop_bar, abs=1e-12)
    assert tee.pressure_drop_bar == 0.0 and np.isnan(tee.reynolds)
    # the DDT blend (1/3 by volume) is less viscous than the stock
    assert hb2.viscosity_pa_s < hb1.viscosity_pa_s


def test_bubble_point_margin() -> None:
    # notes §3.6: x = 0.05 at 200 °C -> 1.3 bar partial pressure; open outlet -> about -0.3 bar
    assert float(bubble_point_margin_bar(200.0, ATMOSPHERE_BAR, 0.05)) == pytest.approx(-0.30, abs=0.02)
    assert float(bubble_point_margin_bar(200.0, ATMOSPHERE_BAR + 5.0, 0.05)) == pytest.approx(4.70, abs=0.02)
    with pytest.raises(RangeError, match=r"mole fraction 1.5"):
        bubble_point_margin_bar(200.0, 1.0, 1.5)
