"""Preprocessing: blank, baseline, smoothing, energy axis, noise."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.analysis.contract import SpectrumMethodContract

from flowqd.analysis.preprocess import (
    BASELINE_METHODS,
    correct_baseline,
    noise_level,
    resample_energy,
    smooth,
    subtract_blank,
    to_energy,
)
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import SpectrumError
from flowqd.units import HC_EV_NM

WL = np.arange(350.0, 900.5, 0.5)


def _abs(values: np.ndarray, **kw: Any) -> Spectrum:
    return Spectrum(WL, values, kind="absorbance", source="s.csv", **kw)


class TestSubtractBlank(SpectrumMethodContract):
    kind = "absorbance"

    def method(self, spectrum: Spectrum) -> Spectrum:
        blank = Spectrum(np.arange(380.0, 900.0, 1.3), np.full(400, 0.01), kind="absorbance", source="b.csv")
        return subtract_blank(spectrum, blank)

    def test_interpolates_blank(self) -> None:
        blank = Spectrum(np.arange(300.0, 1000.0, 7.0), 0.001 * np.arange(300.0, 1000.0, 7.0), kind="absorbance")
        out = subtract_blank(_abs(0.001 * WL + 0.2), blank)
        np.testing.assert_allclose(out.values, 0.2, atol=1e-12)
        assert out.n_points == WL.size

    def test_no_overlap(self) -> None:
        blank = Spectrum(np.arange(1000.0, 1100.0, 5.0), np.zeros(20), kind="absorbance", source="b.csv")
        with pytest.raises(SpectrumError, match=r"s\.csv: blank b\.csv .* does not overlap"):
            subtract_blank(_abs(np.zeros(WL.size)), blank)

    def test_kind_mismatch(self) -> None:
        with pytest.raises(SpectrumError, match="cannot subtract"):
            subtract_blank(_abs(np.zeros(WL.size)), Spectrum(WL, np.zeros(WL.size), kind="intensity"))


class TestCorrectBaseline(SpectrumMethodContract):
    kind = "absorbance"

    def method(self, spectrum: Spectrum) -> Any:
        return correct_baseline(spectrum, (750.0, 850.0), method="linear")

    @pytest.mark.parametrize("method", sorted(BASELINE_METHODS))
    def test_recovers_baseline(self, method: str) -> None:
        truth = {"constant": 0.03 + 0 * WL, "linear": 0.03 + 2e-5 * WL, "rayleigh": 0.01 + 4e9 * WL**-4.0}[method]
        peak = 0.5 * np.exp(-0.5 * ((WL - 560.0) / 20.0) ** 2)
        corrected, fit = correct_baseline(_abs(peak + truth), (750.0, 900.0), method=method)
        np.testing.assert_allclose(corrected.values, peak, atol=1e-9)
        assert fit.method == method and fit.n_points == 301 and fit.rms_residual < 1e-9

    def test_window_outside(self) -> None:
        with pytest.raises(SpectrumError, match=r"s\.csv: baseline window 950-1000 nm holds 0 points"):
            correct_baseline(_abs(np.zeros(WL.size)), (950.0, 1000.0))

    def test_unknown_method(self) -> None:
        with pytest.raises(SpectrumError, match="unknown baseline method 'spline'"):
            correct_baseline(_abs(np.zeros(WL.size)), method="spline")


class TestSmooth(SpectrumMethodContract):
    def method(self, spectrum: Spectrum) -> Spectrum:
        return smooth(spectrum, 10.0, 3)

    def test_reduces_noise_keeps_peak(self) -> None:
        clean = np.exp(-0.5 * ((WL - 600.0) / 30.0) ** 2)
        noisy = clean + np.random.default_rng(3).normal(0, 0.02, WL.size)
        out = smooth(Spectrum(WL, noisy, kind="intensity"), 15.0, 3)
        assert np.std(out.values - clean) < 0.4 * np.std(noisy - clean)
        assert abs(WL[np.argmax(out.values)] - 600.0) <= 3.0

    def test_bad_windows(self) -> None:
        s = Spectrum(WL, np.zeros(WL.size), source="s.csv")
        with pytest.raises(SpectrumError, match=r"s\.csv: smoothing window 0.6 nm"):
            smooth(s, 0.6, 2)
        with pytest.raises(SpectrumError, match="longer than the spectrum"):
            smooth(s, 1000.0, 2)
        irregular = Spectrum(np.r_[np.arange(400.0, 410.0), np.arange(410.0, 500.0, 5.0)], np.zeros(28))
        with pytest.raises(SpectrumError, match="near-uniform"):
            smooth(irregular, 5.0, 2)


class TestEnergy:
    def test_absorbance_plain_interpolation(self) -> None:
        s = _abs(0.1 + 0 * WL)
        e, _v = to_energy(s)
        assert np.all(np.diff(e) > 0) and e[-1] == pytest.approx(HC_EV_NM / 350.0)
        np.testing.assert_allclose(resample_energy(s, np.linspace(1.5, 3.0, 16)), 0.1)
        with pytest.raises(SpectrumError, match="not a spectral density"):
            to_energy(s, density=True)

    def test_intensity_needs_explicit_choice(self) -> None:
        s = Spectrum(WL, np.ones(WL.size), kind="intensity", source="pl.csv")
        with pytest.raises(SpectrumError, match=r"pl\.csv: .*density=True"):
            resample_energy(s, [2.0, 2.5])

    def test_jacobian_conserves_integral(self) -> None:
        g = np.exp(-0.5 * ((WL - 600.0) / 25.0) ** 2)
        s = Spectrum(WL, g, kind="intensity")
        grid = np.linspace(HC_EV_NM / 900.0, HC_EV_NM / 350.0, 4000)
        per_ev = resample_energy(s, grid, density=True)
        assert np.trapezoid(per_ev, grid) == pytest.approx(np.trapezoid(g, WL), rel=1e-4)

    def test_grid_outside(self) -> None:
        with pytest.raises(SpectrumError, match="outside the spectrum"):
            resample_energy(_abs(np.zeros(WL.size)), [1.0, 2.0])
        with pytest.raises(SpectrumError, match="strictly ascending"):
            resample_energy(_abs(np.zeros(WL.size)), [2.5, 2.0])


class TestNoiseLevel(SpectrumMethodContract):
    def method(self, spectrum: Spectrum) -> float:
        return noise_level(spectrum, (750.0, 850.0))

    def test_recovers_sigma_with_slope_and_spikes(self) -> None:
        rng = np.random.default_rng(7)
        y = 0.05 + 1e-4 * (WL - 350.0) + 3e-8 * (WL - 600.0) ** 2 + rng.normal(0, 0.003, WL.size)
        y[::97] += 0.5  # spikes: ignored by the MAD
        assert noise_level(_abs(y), (600.0, 900.0)) == pytest.approx(0.003, rel=0.1)

    def test_window_too_small(self) -> None:
        with pytest.raises(SpectrumError, match=r"noise window 800-801 nm holds 3 points"):
            noise_level(_abs(np.zeros(WL.size)), (800.0, 801.0))
