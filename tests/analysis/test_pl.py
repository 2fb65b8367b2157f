"""PL analysis: peak, FWHM in nm and meV, photon vs power."""

from __future__ import annotations

import numpy as np
import pytest
from tests.analysis.contract import SpectrumMethodContract

from flowqd.analysis.pl import PLResult, analyze_pl, half_maximum_crossings, to_photon_counts, to_power
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError
from flowqd.units import HC_EV_NM

SIGMA_PER_FWHM = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def gaussian(center_nm: float, fwhm_nm: float, wl: np.ndarray | None = None, offset: float = 0.0) -> Spectrum:
    wl = np.arange(420.0, 820.0, 0.7) if wl is None else wl
    y = offset + 1000.0 * np.exp(-0.5 * ((wl - center_nm) / (fwhm_nm * SIGMA_PER_FWHM)) ** 2)
    return Spectrum(wl, y, kind="intensity", source="g.csv")


class TestAnalyzePL(SpectrumMethodContract):
    def method(self, spectrum: Spectrum) -> PLResult:
        return analyze_pl(spectrum, quantity="photon", baseline_window_nm=(780.0, 850.0))

    @pytest.mark.parametrize(("center", "fwhm"), [(607.0, 90.0), (530.0, 40.0), (612.3, 45.0)])
    def test_gaussian_exact(self, center: float, fwhm: float) -> None:
        r = analyze_pl(gaussian(center, fwhm), quantity="photon")
        assert r.peak_wavelength_nm == pytest.approx(center, abs=0.1)
        assert r.fwhm_nm == pytest.approx(fwhm, abs=0.1)
        lo, hi = center - fwhm / 2, center + fwhm / 2
        assert r.fwhm_mev == pytest.approx((HC_EV_NM / lo - HC_EV_NM / hi) * 1000.0, abs=0.5)
        assert r.integrated_intensity == pytest.approx(1000.0 * fwhm * SIGMA_PER_FWHM * np.sqrt(2 * np.pi), rel=1e-3)
        assert r.quantity == "photon" and r.source == "g.csv"

    def test_fwhm_mev_607_90(self) -> None:
        r = analyze_pl(gaussian(607.0, 90.0), quantity="photon")
        assert r.fwhm_mev == pytest.approx(304.5, abs=0.2)  # |E(562) - E(652)|

    def test_baseline_offset_removed(self) -> None:
        r = analyze_pl(gaussian(607.0, 60.0, offset=50.0), quantity="photon", baseline_window_nm=(760.0, 819.0))
        assert r.fwhm_nm == pytest.approx(60.0, abs=0.1) and r.baseline_offset == pytest.approx(50.0, abs=1e-4)

    def test_power_input_converted_to_photons(self) -> None:
        photons = gaussian(607.0, 90.0)
        power = to_power(photons)
        r_p, r_w = analyze_pl(photons, quantity="photon"), analyze_pl(power, quantity="power")
        assert r_w.quantity == "power"
        assert r_w.peak_wavelength_nm == pytest.approx(r_p.peak_wavelength_nm, abs=1e-6)
        assert r_w.fwhm_nm == pytest.approx(r_p.fwhm_nm, abs=1e-6)
        assert (r_w.cie_x, r_w.cie_y) == pytest.approx((r_p.cie_x, r_p.cie_y), abs=1e-9)
        # the same numbers read as power are a different emission: photons ∝ P·λ, so its peak moves to the red
        assert analyze_pl(photons, quantity="power").peak_wavelength_nm > r_p.peak_wavelength_nm + 1.0

    def test_photon_power_conversions(self) -> None:
        s = gaussian(600.0, 50.0)
        np.testing.assert_allclose(to_power(to_photon_counts(s)).values, s.values, rtol=1e-12)
        np.testing.assert_allclose(to_photon_counts(s).values, s.values * s.wavelength_nm / HC_EV_NM)
        assert to_photon_counts(s).metadata["quantity"] == "photon"

    def test_noisy_with_smoothing(self) -> None:
        s = gaussian(607.0, 90.0, wl=np.arange(420.0, 820.0, 0.5))
        noisy = s.with_values(s.values + np.random.default_rng(5).normal(0, 8.0, s.n_points))
        r = analyze_pl(noisy, quantity="photon", smooth_window_nm=31.0)
        assert r.peak_wavelength_nm == pytest.approx(607.0, abs=1.5) and r.fwhm_nm == pytest.approx(90.0, abs=1.0)

    def test_missing_crossing_is_error(self) -> None:
        with pytest.raises(SpectrumError, match=r"g\.csv: no half-maximum crossing on the long-wavelength side"):
            analyze_pl(gaussian(780.0, 90.0), quantity="photon")
        with pytest.raises(SpectrumError, match="maximum at the edge"):
            analyze_pl(gaussian(400.0, 40.0), quantity="photon")

    def test_bad_arguments(self) -> None:
        with pytest.raises(SpectrumError, match="quantity must be 'photon' or 'power'"):
            analyze_pl(gaussian(600.0, 50.0), quantity="counts")
        with pytest.raises(SpectrumError, match="PL needs an intensity spectrum"):
            analyze_pl(Spectrum(np.arange(400.0, 420.0), np.ones(20)), quantity="photon")

    def test_nonuniform_grid_crossings(self) -> None:
        wl = np.sort(np.random.default_rng(2).uniform(450.0, 780.0, 1500))
        peak, height, left, right = half_maximum_crossings(gaussian(600.0, 70.0, wl=wl))
        assert (peak, left, right) == pytest.approx((600.0, 565.0, 635.0), abs=0.1)
        assert height == pytest.approx(1000.0, rel=1e-4)
