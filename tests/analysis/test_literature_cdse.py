"""CdSe sized from spectra written from the papers (Yu 2003, Leatherdale 2002; ``literature_cdse.py``), not from
flowqd's kernel; and the coverage of the reported x13 uncertainty on such spectra."""

from __future__ import annotations

import numpy as np
import pytest
from tests.analysis.literature_cdse import spectrum

from flowqd.analysis.absorbance import analyze_absorbance
from flowqd.analysis.spectrum import Spectrum

WL = np.arange(330.0, 800.5, 1.0)


@pytest.mark.parametrize("d_nm", [2.5, 3.0, 4.0])
def test_concentration_from_leatherdale_eps350(d_nm: float) -> None:
    a, _, mass_mg_ml = spectrum(d_nm, 0.06, 2.0, WL, noise=0.002, seed=1)
    r = analyze_absorbance(Spectrum(WL, a, source=f"yu-{d_nm}.csv"), material="CdSe", path_mm=10.0)
    assert r.wavelength_star_nm == 350.0
    assert r.concentration_mg_ml == pytest.approx(mass_mg_ml, rel=0.10)


@pytest.mark.parametrize("d_nm", [2.5, 3.0, 4.0])
def test_size_within_0_2_nm(d_nm: float) -> None:
    """Measured: 2.61 / 3.06 / 4.20 nm for true x1,3 2.53 / 3.03 / 4.04 nm (the generator's continuum, a square root
    0.15 eV above the 1S band, is steeper than real CdSe spectra; the fit window stops 0.25 eV above the peak)."""
    a, x13, _ = spectrum(d_nm, 0.06, 2.0, WL, noise=0.002, seed=1)
    r = analyze_absorbance(Spectrum(WL, a, source=f"yu-{d_nm}.csv"), material="CdSe", path_mm=10.0)
    assert r.x13_nm == pytest.approx(x13, abs=0.2)
    assert r.sizing_curve == "yu-2003"


@pytest.mark.parametrize(("d_nm", "rsd", "noise"), [(2.0, 0.06, 0.002), (2.2, 0.06, 0.005), (2.4, 0.10, 0.002)])
def test_small_dots_show_a_shoulder_on_the_uv_rise(d_nm: float, rsd: float, noise: float) -> None:
    """Small or broad distributions give only a 1S shoulder on a rise that dominates the window. It is found at the
    1S band (Yu: 2.0 nm <-> 466 nm) on noisy spectra too, and x1,3 is within 0.1 nm (measured: -0.01 / +0.02 /
    +0.07 nm). A bar of 20 noise alone for the shoulder's candidates put it on the UV rise (403-424 nm, x1,3 -0.4 nm
    at 2.2 nm); a fifth of the range, the older bar, missed weak shoulders (2.4 nm, RSD 10 %: x1,3 +1.1 nm)."""
    a, x13, _ = spectrum(d_nm, rsd, 2.0, WL, noise=noise, seed=1)
    r = analyze_absorbance(Spectrum(WL, a, source=f"small-{d_nm}.csv"), material="CdSe", path_mm=10.0)
    assert r.peak_method == "second-derivative"
    assert r.x13_nm == pytest.approx(x13, abs=0.1)


@pytest.mark.slow
def test_coverage_of_the_90_percent_interval() -> None:
    """x13 ± 1.645 u holds the true x13 in at least 85 % of 40 spectra (d 2.2-3.4 nm, RSD 5-12 %, noise 0.1-0.5 %
    of the peak) from the literature generator. Figures of the last run: see docs/design.md (coverage)."""
    rng = np.random.default_rng(2026)
    hits = 0
    n = 40
    for k in range(n):
        d, rsd = rng.uniform(2.2, 3.4), rng.uniform(0.05, 0.12)
        a, x13, _ = spectrum(d, rsd, rng.uniform(0.5, 3.0), WL, noise=0.0, seed=k)
        a = a + rng.normal(0.0, rng.uniform(0.001, 0.005) * float(np.max(a[WL > 450])), WL.size)
        r = analyze_absorbance(Spectrum(WL, a, source=f"cov-{k}.csv"), material="CdSe", path_mm=10.0)
        hits += abs(r.x13_nm - x13) <= 1.645 * r.psd.x13_uncertainty_nm
    assert hits / n >= 0.85, f"{hits}/{n}"
