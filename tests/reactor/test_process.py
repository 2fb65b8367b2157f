"""ProcessModel (reactor/process.py): residence time and pressure at set points and at measured temperatures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flowqd.errors import ConfigError, RangeError
from flowqd.reactor import Conditions, ProcessModel, paper_train
from flowqd.reactor.geometry import PAPER_INNER_DIAMETER_MM, PAPER_UNIT_LENGTH_M

#: One heating unit of the paper (§3): ID 0.9975 mm, stretched length 4.6 m, computed here independently of
#: flowqd's geometry: π/4·d²·L in cm³ = mL.
PAPER_UNIT_VOLUME_ML = math.pi / 4.0 * 0.09975**2 * 460.0


def test_the_unit_volume_is_the_papers_coil():
    assert PAPER_INNER_DIAMETER_MM == 0.9975 and PAPER_UNIT_LENGTH_M == 4.6
    # the paper's "3.595 mL" (rounded)
    assert paper_train(core_units=1, shell=False).volume_ml() == pytest.approx(3.595, abs=5e-4)
    # the paper's τ range per unit: 2.4 min at 1.5 mL/min, 120 min at 0.03 mL/min (§3)
    process = ProcessModel(paper_train())
    assert process.residence_time_min(Conditions(200.0, 1.5)) == pytest.approx(2.4, abs=0.005)
    assert process.residence_time_min(Conditions(200.0, 0.03)) == pytest.approx(120.0, abs=0.2)
    for units in (1, 2, 3):
        train = paper_train(core_units=units, shell=False)
        assert train.volume_ml() == pytest.approx(units * PAPER_UNIT_VOLUME_ML, rel=1e-12)


@pytest.mark.parametrize(("units", "flow_ml_min"), [(1, 0.1), (2, 0.05), (3, 1.5)])
def test_residence_time_is_the_geometry_volume_over_the_flow(units, flow_ml_min):
    process = ProcessModel(paper_train())
    tau = process.residence_time_min(Conditions(200.0, flow_ml_min, core_units=units))
    assert tau == pytest.approx(units * PAPER_UNIT_VOLUME_ML / flow_ml_min, rel=1e-9)
    # with the shell stage: HB1 at the stock flow, then one HB2 unit at stock + DDT
    c = Conditions(230.0, flow_ml_min, core_units=units, shell=True, shell_temperature_c=200.0,
                   ddt_flow_ml_min=0.05)
    expected = units * PAPER_UNIT_VOLUME_ML / flow_ml_min + PAPER_UNIT_VOLUME_ML / c.total_flow_ml_min
    assert process.residence_time_min(c) == pytest.approx(expected, rel=1e-9)


def test_total_flow_counts_ddt_only_with_the_shell():
    assert Conditions(200.0, 0.1, ddt_flow_ml_min=0.5).total_flow_ml_min == 0.1
    assert Conditions(200.0, 0.1, shell=True, ddt_flow_ml_min=0.05).total_flow_ml_min == pytest.approx(0.15)


def test_measured_temperatures_below_the_set_point_floor_are_no_set_points():
    process = ProcessModel(paper_train())
    with pytest.raises(RangeError, match="below the model's lower limit"):
        Conditions(25.0, 0.1)
    # what the devices measure or were commanded goes in as numbers: a 25 °C block
    cold = process.rtd_at(25.0, 0.1)
    assert cold.tau_min == pytest.approx(PAPER_UNIT_VOLUME_ML / 0.1, rel=1e-9)
    assert process.rtd(Conditions(200.0, 0.1)) is process.rtd_at(200.0, 0.1, shell_temperature_c=150.0)  # cached
    # laminar: the pressure drop is linear in flow; at the reference flow it equals the set-point evaluation
    hot = process.pressure_drop_bar(Conditions(200.0, 0.1))
    assert process.pressure_drop_actual_bar(0.1, 200.0) == pytest.approx(hot, rel=1e-12)
    assert process.pressure_drop_actual_bar(0.02, 200.0) == pytest.approx(0.2 * hot, rel=1e-12)
    # the cold (more viscous) stock needs more pressure
    assert process.pressure_drop_actual_bar(0.1, 25.0) > 3.0 * hot
    with pytest.raises(RangeError, match="negative"):
        process.pressure_drop_actual_bar(-0.1, 25.0)


def test_a_shell_set_point_needs_a_train_with_a_shell_box():
    process = ProcessModel(paper_train(shell=False))
    assert not process.has_shell()
    with pytest.raises(ConfigError, match="no shell box"):
        process.residence_time_min(Conditions(200.0, 0.1, shell=True))


@pytest.mark.parametrize("shell", [False, True])
def test_the_array_pressure_is_the_scalar_pressure_reading_by_reading(shell):
    process = ProcessModel(paper_train())
    rng = np.random.default_rng(7)
    # whole, half (round half to even: 200.5 -> 200, 201.5 -> 202) and just-off-half degrees, beyond the clip
    # window on both sides, ±inf (clipped) and NaN (no reading)
    core = np.concatenate([200.0 + rng.normal(0.0, 1.5, 300), [200.5, 201.5, -0.5, 0.5, 1.5, 2.5, -3.0, 900.0,
                                                                np.inf, -np.inf, np.nextafter(200.5, 0.0),
                                                                np.nextafter(200.5, 1000.0), np.nan, 199.5]])
    shell_t = np.concatenate([150.0 + rng.normal(0.0, 1.5, 300), [150.5, 151.5, 149.5, 0.5, np.nan, 2.5, 25.0,
                                                                   900.0, -np.inf, np.inf, 150.5, 150.5, 150.0,
                                                                   148.5]])
    kw = {"ddt_flow_ml_min": 0.05, "shell": shell, "core_units": 2, "shell_units": 1}
    many = process.pressure_drop_actual_bar_many(0.07, core, shell_temperature_c=shell_t, **kw)

    def one(tc: float, ts: float) -> float:
        if np.isnan(tc) or (shell and np.isnan(ts)):
            return np.nan
        return process.pressure_drop_actual_bar(0.07, tc, shell_temperature_c=ts, **kw)

    each = np.array([one(float(tc), float(ts)) for tc, ts in zip(core, shell_t, strict=True)])
    assert np.isnan(many[-2]) and np.isnan(many[304]) == shell  # a NaN core always; a NaN shell with the shell
    assert many.tobytes() == each.tobytes()  # bit for bit
    assert np.unique(many[np.isfinite(many)]).size > 5
    # a scalar shell temperature is broadcast; no reading at all is no evaluation
    assert process.pressure_drop_actual_bar_many(0.07, core, **kw).tobytes() == np.array(
        [np.nan if np.isnan(tc) else process.pressure_drop_actual_bar(0.07, float(tc), **kw) for tc in core]).tobytes()
    assert np.isnan(process.pressure_drop_actual_bar_many(-1.0, [np.nan, np.nan])).all()
