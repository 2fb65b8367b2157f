"""The absorbance pipeline on the synthetic example spectra."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from flowqd.analysis.absorbance import ABSORBANCE_JSON_KEYS, analyze_absorbance
from flowqd.analysis.io import read_spectrum
from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import RangeError, SpectrumError

EXAMPLES = Path(__file__).parents[2] / "examples" / "spectra"


def test_example_518nm() -> None:
    r = analyze_absorbance(read_spectrum(EXAMPLES / "inp-180C-518nm.csv"), path_mm=1.0)
    d = r.to_dict()
    assert tuple(d) == ABSORBANCE_JSON_KEYS
    assert d["peak_method"] == "maximum" and d["peak_wavelength_nm"] == pytest.approx(518.0, abs=1.0)
    assert d["x13_nm"] == pytest.approx(2.7, abs=0.1) and d["rsd"] == pytest.approx(0.08, abs=0.01)
    assert d["volume_fraction"] == pytest.approx(2e-4, rel=0.02)  # the generating φ
    assert d["yield"] is None and d["production_mg_h"] is None
    assert len(d["psd"]["diameter_nm"]) == len(d["psd"]["q3"])


def test_noisy_baseline_example_and_yield() -> None:
    r = analyze_absorbance(read_spectrum(EXAMPLES / "inp-2048px-noisy-baseline.csv"), in_feed_mol_l=0.01,
                           outlet_flow_ml_min=0.1)
    assert r.x13_nm == pytest.approx(3.0, abs=0.05) and r.rsd == pytest.approx(0.12, abs=0.015)
    assert r.yield_fraction == pytest.approx(r.concentration_mol_l / 0.01)
    assert r.production_mg_h == pytest.approx(r.concentration_mg_ml * 6.0)


def test_errors_name_the_source() -> None:
    s = read_spectrum(EXAMPLES / "inp-180C-518nm.csv")
    with pytest.raises(RangeError, match=r"inp-180C-518nm\.csv: yield"):
        analyze_absorbance(s, in_feed_mol_l=1e-4)
    bad = Spectrum(s.wavelength_nm, 10.0 * s.values, source="thick.csv")
    with pytest.raises(SpectrumError, match=r"^thick\.csv: .*saturated"):
        analyze_absorbance(bad)


def test_lambda_star_outside_range() -> None:
    s = read_spectrum(EXAMPLES / "inp-250C-590nm.csv")
    r = analyze_absorbance(s, wavelength_star_nm=310.0)
    assert math.isnan(r.volume_fraction) and r.to_dict()["concentration_mg_ml"] is None
    with pytest.raises(SpectrumError, match="outside the spectrum"):
        analyze_absorbance(s, wavelength_star_nm=310.0, in_feed_mol_l=0.01)
    assert np.isfinite(r.x13_nm)
