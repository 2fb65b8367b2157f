"""CIE 1931 chromaticity, checked against an independent trapezoid integration of the CMF table."""

from __future__ import annotations

import colour
import numpy as np
import pytest

from flowqd.analysis.cie import CMFS_NAME, chromaticity_xy, dominant_wavelength_nm
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError

SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def _gauss(wl: np.ndarray, center: float, fwhm: float) -> np.ndarray:
    return np.exp(-0.5 * ((wl - center) / (fwhm * SIGMA_PER_FWHM)) ** 2)


def independent_xy(center: float, fwhm: float, quantity: str) -> tuple[float, float]:
    """Own numpy integration: CMF table values on their own grid, Gaussian evaluated there, no sd_to_XYZ.

    A photon-count spectrum N(λ) carries power P(λ) = N(λ)·hc/λ, so it is weighted by 1/λ before integration.
    """
    cmfs = colour.MSDS_CMFS[CMFS_NAME]
    wl = np.asarray(cmfs.wavelengths, dtype=float)
    xbar, ybar, zbar = np.asarray(cmfs.values, dtype=float).T
    power = _gauss(wl, center, fwhm) / (wl if quantity == "photon" else 1.0)
    X, Y, Z = (np.trapezoid(power * cmf, wl) for cmf in (xbar, ybar, zbar))
    return X / (X + Y + Z), Y / (X + Y + Z)


@pytest.mark.parametrize("quantity", ["photon", "power"])
@pytest.mark.parametrize(("center", "fwhm"), [(607.0, 90.0), (607.0, 40.0), (530.0, 40.0)])
def test_against_independent_integration(center: float, fwhm: float, quantity: str) -> None:
    wl = np.arange(300.0, 900.0, 0.5)  # wider than the CMF table and on another grid
    s = Spectrum(wl, _gauss(wl, center, fwhm), kind="intensity")
    np.testing.assert_allclose(chromaticity_xy(s, quantity=quantity), independent_xy(center, fwhm, quantity),
                               atol=0.002)


def test_reference_numbers_607_90() -> None:
    wl = np.arange(380.0, 781.0, 1.0)
    s = Spectrum(wl, _gauss(wl, 607.0, 90.0), kind="intensity")
    photon, power = chromaticity_xy(s, quantity="photon"), chromaticity_xy(s, quantity="power")
    assert photon == pytest.approx((0.5556, 0.4397), abs=2e-4)
    assert power == pytest.approx((0.5623, 0.4336), abs=2e-4)
    assert dominant_wavelength_nm(photon) == pytest.approx(587.0, abs=1.0)


def test_sanity_green_and_red() -> None:
    wl = np.arange(380.0, 781.0, 1.0)
    green = chromaticity_xy(Spectrum(wl, _gauss(wl, 530.0, 40.0), kind="intensity"), quantity="power")
    red = chromaticity_xy(Spectrum(wl, _gauss(wl, 607.0, 40.0), kind="intensity"), quantity="power")
    assert green == pytest.approx((0.1920, 0.7401), abs=0.002)
    assert red == pytest.approx((0.6275, 0.3721), abs=0.002)
    assert dominant_wavelength_nm(green) == pytest.approx(530.0, abs=3.0)


def test_partial_coverage_zero_extended() -> None:
    wl = np.arange(450.0, 800.0, 1.0)  # cut below 450 nm: nothing there anyway
    s = Spectrum(wl, _gauss(wl, 607.0, 40.0), kind="intensity")
    assert chromaticity_xy(s, "power") == pytest.approx(independent_xy(607.0, 40.0, "power"), abs=0.002)


def test_errors() -> None:
    wl = np.arange(900.0, 1000.0, 1.0)
    with pytest.raises(SpectrumError, match=r"nir\.csv: spectrum 900-999 nm does not overlap"):
        chromaticity_xy(Spectrum(wl, np.ones(100), kind="intensity", source="nir.csv"))
    with pytest.raises(SpectrumError, match="emission"):
        chromaticity_xy(Spectrum(np.arange(400.0, 500.0), np.ones(100), kind="absorbance"))
    with pytest.raises(SpectrumError, match="no positive signal"):
        chromaticity_xy(Spectrum(np.arange(400.0, 500.0), -np.ones(100), kind="intensity"))
    with pytest.raises(SpectrumError, match="quantity"):
        chromaticity_xy(Spectrum(np.arange(400.0, 500.0), np.ones(100), kind="intensity"), quantity="energy")
    assert np.isnan(dominant_wavelength_nm((0.35, 0.15)))  # purple: no dominant wavelength
