"""Heat-up of the fluid in a hot unit (notes §3.4)."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.errors import RangeError
from flowqd.reactor import (
    STOCK,
    heating_power_w,
    heating_time_constant_s,
    radial_conduction_time_s,
    temperature_history,
    thermal_entry_length_m,
    time_to_approach_s,
)


def test_radial_time_and_graetz_time_constant() -> None:
    # notes: R²/α ≈ 3 s at 200 °C
    assert float(radial_conduction_time_s(200.0)) == pytest.approx(3.1, abs=0.1)
    expected = (0.49875e-3) ** 2 / (3.66 * float(STOCK.thermal_diffusivity_m2_s(200.0)))
    assert float(heating_time_constant_s(200.0)) == pytest.approx(expected, rel=1e-12)


def test_temperature_history_reaches_the_block_within_seconds() -> None:
    t = np.linspace(0.0, 20.0, 2001)
    temp = temperature_history(t, 25.0, 250.0)
    assert temp[0] == 25.0
    assert np.all(np.diff(temp) > 0) and np.all(temp <= 250.0)
    assert float(temperature_history(6.0, 25.0, 250.0)) > 249.0
    assert float(temperature_history(10.0, 25.0, 250.0)) == pytest.approx(250.0, abs=0.01)
    # first-order form: after one time constant 63.2 % of the step
    tau_h = float(heating_time_constant_s(137.5))
    assert float(temperature_history(tau_h, 25.0, 250.0)) == pytest.approx(25.0 + 225.0 * (1 - np.exp(-1)), rel=1e-12)
    assert time_to_approach_s(25.0, 250.0, within_c=1.0) == pytest.approx(tau_h * np.log(225.0), rel=1e-12)
    assert time_to_approach_s(200.0, 200.5) == 0.0
    # cooling works the same way
    assert float(temperature_history(10.0, 200.0, 25.0)) == pytest.approx(25.0, abs=0.01)


def test_entry_length_and_heating_power_match_notes() -> None:
    le = thermal_entry_length_m([0.1, 1.5], 200.0)
    assert le[0] * 1e3 == pytest.approx(1.3, rel=0.05)
    assert le[1] * 1e2 == pytest.approx(2.0, rel=0.05)
    # notes: 0.7 W at 0.1 mL/min and 11 W at 1.5 mL/min for 25 -> 250 °C
    p = heating_power_w([0.1, 1.5], 225.0)
    assert p[0] == pytest.approx(0.73, rel=0.02)
    assert p[1] == pytest.approx(11.0, rel=0.02)


def test_heatup_errors() -> None:
    with pytest.raises(RangeError, match=r"times must be finite and ≥ 0 s"):
        temperature_history([-1.0], 25.0, 200.0)
    with pytest.raises(RangeError, match=r"400 °C outside"):
        temperature_history([1.0], 25.0, 400.0)
    with pytest.raises(RangeError, match=r"flow must be ≥ 0"):
        heating_power_w(-0.1, 100.0)
