"""Volume fraction, concentration, yield and production rate (Hens & Moreels μ_i)."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.analysis.concentration import (
    chemical_yield,
    mass_concentration_mg_ml,
    molar_concentration_mol_l,
    production_rate_mg_h,
    volume_fraction,
)
from flowqd.analysis.psd import diameter_grid_nm, forward_absorbance, psd_lognormal
from flowqd.errors import RangeError


def test_worked_example_from_notes() -> None:
    """A = 0.50, DF 50, L = 1 cm, toluene, 413 nm, Q = 20 mL/h, c_In = 0.05 M (optics notes §3.2)."""
    phi = float(volume_fraction(0.50, 413.3, "InP", "toluene", path_mm=10.0, dilution=50.0))
    assert phi == pytest.approx(7.05e-4, rel=2e-3)
    c_mg = float(mass_concentration_mg_ml(phi))
    c_mol = float(molar_concentration_mol_l(phi))
    assert c_mg == pytest.approx(3.39, abs=0.01)
    assert c_mol == pytest.approx(0.0232, abs=2e-4)
    assert float(production_rate_mg_h(c_mg, 20.0 / 60.0)) == pytest.approx(67.8, abs=0.1)
    assert float(chemical_yield(c_mol, 0.05)) == pytest.approx(0.465, abs=0.003)


def test_vectorised_and_solvent_number() -> None:
    phi = volume_fraction(np.array([0.1, 0.2]), 413.3, "InP", 1.375, path_mm=1.0)
    np.testing.assert_allclose(phi, volume_fraction(np.array([0.1, 0.2]), 413.3, "InP", "hexane", path_mm=1.0))
    assert phi[1] == pytest.approx(2 * phi[0])


@pytest.mark.parametrize("x13", [2.7, 3.4])
def test_forward_model_and_concentration_agree(x13: float) -> None:
    """The concentration analysis recovers the φ the forward model was given (at 413 nm for dots > 2.3 nm)."""
    grid = diameter_grid_nm()
    a = forward_absorbance(grid, psd_lognormal(grid, x13, 0.08), wavelength_nm=[413.3], volume_fraction=2e-4,
                           path_mm=1.0)
    assert float(volume_fraction(a[0], 413.3, path_mm=1.0)) == pytest.approx(2e-4, rel=0.01)


def test_yield_above_100_percent_is_refused() -> None:
    with pytest.raises(RangeError, match="exceeds 100 %"):
        chemical_yield(0.06, 0.05)
    assert float(chemical_yield(0.052, 0.05)) == pytest.approx(1.04)  # within noise
    with pytest.raises(RangeError):
        chemical_yield(0.01, 0.0)


def test_bad_arguments() -> None:
    with pytest.raises(RangeError):
        volume_fraction(0.5, path_mm=0.0)
    with pytest.raises(RangeError):
        volume_fraction(0.5, dilution=0.5)
    with pytest.raises(RangeError):
        production_rate_mg_h(1.0, 0.0)
