"""First exciton peak: maximum with parabolic refinement, shoulder by second derivative, errors."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.analysis.exciton import NoExcitonError, find_exciton, noise_level_estimate
from flowqd.analysis.psd import diameter_grid_nm, forward_absorbance, psd_lognormal
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError
from flowqd.units import HC_EV_NM

from .contract import SpectrumMethodContract

WL = np.linspace(400.0, 900.0, 2048)


def band(center_nm: float, width_ev: float = 0.08, background: float = 0.0) -> np.ndarray:
    e = HC_EV_NM / WL
    return np.exp(-0.5 * ((e - HC_EV_NM / center_nm) / width_ev) ** 2) + background * np.clip(e - 2.2, 0, None)


def test_maximum_refined_between_samples() -> None:
    r = find_exciton(Spectrum(WL, band(551.37)))
    assert r.method == "maximum"
    assert r.wavelength_nm == pytest.approx(551.37, abs=0.05)
    assert r.energy_ev == pytest.approx(HC_EV_NM / r.wavelength_nm)
    assert r.absorbance == pytest.approx(1.0, abs=0.01)


def test_reddest_maximum_is_the_first_exciton() -> None:
    y = band(600.0) + 0.8 * band(480.0)
    assert find_exciton(Spectrum(WL, y)).wavelength_nm == pytest.approx(600.0, abs=0.5)


def test_maximum_with_noise() -> None:
    y = band(518.0, background=1.5) + np.random.default_rng(1).normal(0, 0.005, WL.size)
    r = find_exciton(Spectrum(WL, y))
    assert r.method == "maximum" and r.wavelength_nm == pytest.approx(518.0, abs=3.0)


def test_shoulder_by_second_derivative() -> None:
    grid = diameter_grid_nm()
    a = forward_absorbance(grid, psd_lognormal(grid, 3.0, 0.15), wavelength_nm=WL)
    r = find_exciton(Spectrum(WL, a))
    assert r.method == "second-derivative"
    assert 520.0 < r.wavelength_nm < 580.0  # E_1S(3.0 nm) = 552 nm


def test_weak_shoulder_on_a_steep_uv_rise() -> None:
    """A 1S shoulder on a rise towards 400 nm that dominates the window's range (a small, broad CdSe sample) is
    found where it is. Before, only points above a fifth of the range were searched for a shoulder: this one was
    missed ("neither a maximum nor a shoulder"), and on such literature-built spectra one at 505 nm was reported at
    430 nm."""
    e = HC_EV_NM / WL
    shoulder = 0.02 * np.exp(-0.5 * ((e - HC_EV_NM / 505.0) / 0.09) ** 2)
    rise = 0.17 * np.clip((e - 2.35) / (HC_EV_NM / 400.0 - 2.35), 0.0, None) ** 1.5
    y = shoulder + rise + np.random.default_rng(4).normal(0.0, 1e-4, WL.size)
    r = find_exciton(Spectrum(WL, y), search_nm=(400.0, 680.0))
    assert r.method == "second-derivative"
    assert r.wavelength_nm == pytest.approx(505.0, abs=8.0)


def test_saturated() -> None:
    y = np.minimum(4.0 * band(560.0, background=2.0), 3.6)
    with pytest.raises(SpectrumError, match="saturated"):
        find_exciton(Spectrum(WL, y, source="sat.csv"))


def test_no_exciton() -> None:
    with pytest.raises(NoExcitonError, match="no exciton") as info:
        find_exciton(Spectrum(WL, np.zeros(WL.size) + 0.01))
    assert info.value.absorbing is False
    with pytest.raises(NoExcitonError):
        find_exciton(Spectrum(WL, np.exp((HC_EV_NM / WL - 3.0) * 3.0)))  # featureless convex edge
    with pytest.raises(SpectrumError, match="absorbance"):
        find_exciton(Spectrum(WL, band(500.0), kind="intensity"))


def test_noise_level_estimate() -> None:
    y = np.random.default_rng(2).normal(0, 0.003, 5000)
    assert noise_level_estimate(y) == pytest.approx(0.003, rel=0.05)


class TestFindExcitonContract(SpectrumMethodContract):
    kind = "absorbance"

    def method(self, spectrum: Spectrum) -> object:
        return find_exciton(spectrum)
