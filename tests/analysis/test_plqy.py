"""PLQY: de Mello and two-measurement, scalar and from spectra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flowqd.analysis.io import read_spectrum
from flowqd.analysis.plqy import (
    PLQY_METHODS,
    integrate_band,
    plqy_de_mello,
    plqy_from_spectra,
    plqy_two_measurement,
)
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import RangeError, SpectrumError

EXAMPLES = Path(__file__).parents[2] / "examples" / "spectra"
WL = np.arange(350.0, 850.5, 0.5)


def _laser(amplitude: float) -> np.ndarray:
    return amplitude * np.exp(-0.5 * ((WL - 400.0) / 2.0) ** 2)


def _emission(amplitude: float) -> np.ndarray:
    return amplitude * np.exp(-0.5 * ((WL - 607.0) / 38.0) ** 2)


def _spec(values: np.ndarray, name: str) -> Spectrum:
    return Spectrum(WL, values, kind="intensity", source=name)


class TestScalar:
    def test_de_mello_known(self) -> None:
        # empty sphere L_a; indirect (b) absorbs 5 % via wall reflections; direct (c) absorbs A = 0.4; eta = 0.55
        L_a, eta, a_direct = 1.0e6, 0.55, 0.4
        L_b = 0.95 * L_a
        P_b = eta * 0.05 * L_a
        L_c = (1 - a_direct) * L_b
        P_c = eta * a_direct * L_a + (1 - a_direct) * P_b
        r = plqy_de_mello(L_a, L_b, P_b, L_c, P_c)
        assert r.plqy == pytest.approx(eta, rel=1e-12) and r.absorptance == pytest.approx(0.4)
        assert r.method == "de-mello" and r.uncertainty is None and r.warnings == ()

    def test_two_measurement_known_and_poisson(self) -> None:
        r = plqy_two_measurement(1.25e5, 1.0e3, 1.0e6, 6.0e5, poisson=True)
        assert r.plqy == pytest.approx(0.31) and r.absorptance == pytest.approx(0.4)
        n, d = 1.24e5, 4.0e5
        expected = np.sqrt((1.25e5 + 1.0e3) / d**2 + n**2 * (1.0e6 + 6.0e5) / d**4)
        assert r.uncertainty == pytest.approx(expected, rel=1e-5)

    def test_de_mello_poisson_matches_monte_carlo(self) -> None:
        args = np.array([2.0e5, 1.9e5, 3.0e3, 1.2e5, 3.5e4])
        r = plqy_de_mello(*args, poisson=True)
        draws = np.random.default_rng(0).poisson(args, size=(20000, 5)).astype(float)
        etas = [plqy_de_mello(*row).plqy for row in draws[:4000]]
        assert r.uncertainty == pytest.approx(np.std(etas), rel=0.08)

    def test_low_absorptance_warns_van_dam(self) -> None:
        r = plqy_two_measurement(1.0e4, 0.0, 1.0e6, 9.6e5)
        assert r.absorptance == pytest.approx(0.04)
        assert len(r.warnings) == 1 and "1711.06200" in r.warnings[0]

    def test_above_one_warns(self) -> None:
        assert "> 1" in plqy_two_measurement(5.0e5, 0.0, 1.0e6, 6.0e5).warnings[0]

    @pytest.mark.parametrize(
        ("args", "pattern"),
        [
            ((1e5, 0.0, 1e6, 1e6), r"absorbed photons .* <= 0"),
            ((1e5, 0.0, 1e6, 1.1e6), r"absorbed photons .* <= 0"),
            ((1e3, 2e3, 1e6, 6e5), r"emitted photons .* < 0"),
            ((-1.0, 0.0, 1e6, 6e5), r"E_sample = -1 is negative"),
            ((float("nan"), 0.0, 1e6, 6e5), r"not finite"),
        ],
    )
    def test_two_measurement_errors(self, args: tuple[float, ...], pattern: str) -> None:
        with pytest.raises(RangeError, match=pattern):
            plqy_two_measurement(*args)

    def test_de_mello_errors(self) -> None:
        with pytest.raises(RangeError, match=r"A = 1 - L_c/L_b = -0.1 <= 0"):
            plqy_de_mello(1e6, 1e6, 0.0, 1.1e6, 1e5)
        with pytest.raises(RangeError, match="must be positive"):
            plqy_de_mello(0.0, 1e6, 0.0, 5e5, 1e5)


class TestSpectra:
    def test_registry(self) -> None:
        assert set(PLQY_METHODS) == {"de-mello", "two-measurement"}

    def test_integrate_band_edges_interpolated(self) -> None:
        s = Spectrum(np.arange(380.0, 420.0, 1.0), np.arange(380.0, 420.0, 1.0), kind="intensity")
        assert integrate_band(s, (390.25, 410.75)) == pytest.approx((410.75**2 - 390.25**2) / 2)
        with pytest.raises(SpectrumError, match="outside the spectrum"):
            integrate_band(s, (370.0, 400.0))

    def test_two_measurement_spectra(self) -> None:
        blank = _spec(_laser(1e4) + 3.0, "blank.csv")
        sample = _spec(_laser(0.7e4) + _emission(0.0) + 3.0, "sample.csv")
        L_abs = integrate_band(blank, (390, 410)) - integrate_band(sample, (390, 410))
        em = _emission(1.0)
        amp = 0.42 * L_abs / integrate_band(_spec(em, "e"), (450, 800))
        sample = _spec(sample.values + amp * em, "sample.csv")
        r = plqy_from_spectra("two-measurement", blank=blank, sample=sample)
        assert r.plqy == pytest.approx(0.42, rel=1e-6) and r.absorptance == pytest.approx(0.3, rel=2e-3)

    def test_de_mello_spectra_and_power(self) -> None:
        eta, a = 0.6, 0.35
        empty = _spec(_laser(1e4), "a.csv")
        L_a = integrate_band(empty, (390, 410))
        e1 = integrate_band(_spec(_emission(1.0), "e"), (450, 800))
        b = _spec(_laser(0.9e4) + _emission(eta * 0.1 * L_a / e1), "b.csv")
        P_b = integrate_band(b, (450, 800))
        c = _spec(_laser(0.9e4 * (1 - a)) + _emission((eta * a * L_a + (1 - a) * P_b) / e1), "c.csv")
        r = plqy_from_spectra("de-mello", empty=empty, blank=b, sample=c)
        assert r.plqy == pytest.approx(eta, rel=1e-6) and r.absorptance == pytest.approx(a, rel=1e-6)
        with pytest.raises(SpectrumError, match="empty-sphere"):
            plqy_from_spectra("de-mello", blank=b, sample=c)
        with pytest.raises(SpectrumError, match="poisson=True needs raw photon counts"):
            plqy_from_spectra("de-mello", empty=empty, blank=b, sample=c, quantity="power", poisson=True)

    def test_example_files_give_031(self) -> None:
        blank = read_spectrum(EXAMPLES / "plqy-blank.csv", kind="intensity")
        sample = read_spectrum(EXAMPLES / "plqy-sample.csv", kind="intensity")
        r = plqy_from_spectra("two-measurement", blank=blank, sample=sample, poisson=True)
        assert r.plqy == pytest.approx(0.31, abs=0.005)
        assert 0 < r.uncertainty < 0.01

    def test_bad_bands_and_method(self) -> None:
        s = _spec(_laser(1e4) + 1.0, "s.csv")
        with pytest.raises(SpectrumError, match="overlap"):
            plqy_from_spectra(blank=s, sample=s, excitation_band_nm=(390, 460))
        with pytest.raises(SpectrumError, match="unknown PLQY method 'sphere'"):
            plqy_from_spectra("sphere", blank=s, sample=s)
        with pytest.raises(RangeError, match="absorbed photons"):
            plqy_from_spectra(blank=s, sample=s)
