"""Emission detection on an integrating sphere and the PLQY upper limit (flowqd.analysis.emission)."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.analysis.emission import (
    EMISSION_THRESHOLD_SIGMA,
    check_emission,
    emission_noise,
    plqy_upper_limit,
)
from flowqd.analysis.plqy import integrate_band
from flowqd.analysis.spectrum import Spectrum

WL = np.arange(400.0, 800.0, 0.5)
EXC, EMI = (440.0, 460.0), (500.0, 750.0)


def _noisy(rng: np.random.Generator, sigma: float, extra: np.ndarray | None = None) -> Spectrum:
    base = np.where((WL > EXC[0]) & (WL < EXC[1]), 1000.0, 0.0)
    values = base + rng.normal(0.0, sigma, WL.size) + (0.0 if extra is None else extra)
    return Spectrum(WL, values, kind="intensity")


def test_noise_is_the_spread_of_the_difference_integral():
    """σ Δλ √(2N) against the empirical spread of ∫(sample − blank) over the band for pure noise: within 5 %
    over 4000 draws (the standard error of a standard deviation from n draws is 1/√(2n) ≈ 1.1 %)."""
    rng = np.random.default_rng(7)
    sigma = 3.0
    predicted = emission_noise(_noisy(rng, sigma), EMI)
    n = int(((WL >= EMI[0]) & (WL <= EMI[1])).sum())
    assert predicted == pytest.approx(sigma * 0.5 * np.sqrt(2 * n), rel=0.1)  # the blank's σ estimates 3.0
    # the band edges lie on the grid, so the band integral is the trapezoid rule over the band's pixels
    band = (WL >= EMI[0]) & (WL <= EMI[1])
    noise = rng.normal(0.0, sigma, (2, 4000, int(band.sum())))
    diffs = np.trapezoid(noise[0] - noise[1], dx=0.5, axis=1)
    assert float(np.std(diffs)) == pytest.approx(sigma * 0.5 * np.sqrt(2 * n), rel=0.05)
    one = _noisy(rng, sigma)
    assert integrate_band(one, EMI) == pytest.approx(float(np.trapezoid(one.values[band], dx=0.5)), rel=1e-12)


def test_threshold_decides_detection_and_gives_an_upper_limit():
    rng = np.random.default_rng(3)
    blank = _noisy(rng, 2.0)
    noise = emission_noise(blank, EMI)
    absorbed = 5.0e4
    weak = check_emission(blank, blank, excitation_band_nm=EXC, emission_band_nm=EMI, emitted=5.0 * noise,
                          absorbed=absorbed)
    assert not weak.detected and weak.noise == noise and weak.threshold == EMISSION_THRESHOLD_SIGMA * noise
    assert weak.plqy_upper_limit == pytest.approx(10.0 * noise / absorbed, rel=1e-15)
    assert weak.note.startswith("no emission above noise (emitted ") and "vs 10 σ = " in weak.note
    strong = check_emission(blank, blank, excitation_band_nm=EXC, emission_band_nm=EMI, emitted=20.0 * noise,
                            absorbed=absorbed)
    assert strong.detected and strong.plqy_upper_limit is None and strong.note == ""
    negative = check_emission(blank, blank, excitation_band_nm=EXC, emission_band_nm=EMI, emitted=-3.0 * noise)
    assert not negative.detected  # a negative "emitted" is noise, not swapped measurements


def test_upper_limit_without_a_plqy_uses_the_excitation_band():
    """When the PLQY failed (absorbed unknown), the absorbed photons are blank − sample over the excitation band:
    a sample absorbing 40 % of a flat 1000-count band 20 nm wide absorbs 8000 (counts × nm)."""
    blank = Spectrum(WL, np.where((WL >= EXC[0]) & (WL <= EXC[1]), 1000.0, 0.0) + 0.01 * np.sin(WL), kind="intensity")
    sample = blank.with_values(np.where((WL >= EXC[0]) & (WL <= EXC[1]), 600.0, 0.0) + 0.01 * np.sin(WL))
    check = check_emission(blank, sample, excitation_band_nm=EXC, emission_band_nm=EMI, emitted=0.0)
    assert not check.detected
    assert check.plqy_upper_limit == pytest.approx(10.0 * check.noise / 8000.0, rel=1e-9)
    assert plqy_upper_limit(1.0, 0.0) is None and plqy_upper_limit(1.0, -5.0) is None
