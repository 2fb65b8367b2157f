"""SpectrumOutcome: typed scalars, and the payload schema read back with one key per column."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from flowqd.analysis.absorbance import AbsorbanceResult, analyze_absorbance
from flowqd.analysis.emission import EmissionCheck
from flowqd.analysis.exciton import ExcitonResult
from flowqd.analysis.outcome import (
    PAYLOAD_SCALAR_KEYS,
    SCALAR_FIELDS,
    SpectrumOutcome,
    YieldOutcome,
    scalars_from_payload,
)
from flowqd.analysis.pl import PLResult
from flowqd.analysis.plqy import PLQYResult
from flowqd.analysis.spectrum import Spectrum

PL = PLResult(607.0, 90.0, 300.0, 560.0, 650.0, 1.0, 100.0, 0.553, 0.441, 600.0, "photon")
Q = PLQYResult(0.309, 0.4, "two-measurement", None, 1000.0, 309.0)
BANDS = {"excitation_band_nm": (440.0, 460.0), "emission_band_nm": (500.0, 800.0)}


@cache
def _absorbance_result() -> AbsorbanceResult:
    """One synthetic InP spectrum analysed once (a PSD inversion), shared by the absorbance outcomes."""
    wl = np.arange(400.0, 800.0, 1.0)
    a = 0.4 * np.exp(-0.5 * ((wl - 560.0) / 15.0) ** 2) + 0.5 * np.exp(-(wl - 400.0) / 60.0)
    return analyze_absorbance(Spectrum(wl, a, kind="absorbance", source="synthetic"), material="InP")


def _absorbance(yields: YieldOutcome | None) -> SpectrumOutcome:
    return SpectrumOutcome("absorbance", absorbance=_absorbance_result(), yields=yields)


CASES = {
    "exciton": SpectrumOutcome("exciton", exciton=ExcitonResult(561.5, 2.208, "maximum", 0.3)),
    "pl": SpectrumOutcome("pl", pl=PL),
    "pl sphere": SpectrumOutcome("pl", pl=PL, quantum=Q, emission=EmissionCheck(True, 309.0, 2.0), **BANDS),
    "pl no emission": SpectrumOutcome("pl", quantum=Q, emission=EmissionCheck(False, 3.0, 2.0, 10.0, 0.02),
                                      **BANDS),
    "pl peak failed": SpectrumOutcome("pl", quantum=Q, emission=EmissionCheck(True, 309.0, 2.0), error="flat",
                                      **BANDS),
    "error": SpectrumOutcome.failed("no   exciton\n found"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_payload_read_back_gives_the_typed_scalars(name):
    """The store reads a payload with PAYLOAD_SCALAR_KEYS: on every outcome's payload it must find exactly the
    outcome's own typed scalars (the one mapping and the typed fields cannot drift apart)."""
    outcome = CASES[name]
    assert scalars_from_payload(outcome.to_payload()) == outcome.scalars()


def test_payload_keys_and_quality_notes():
    assert set(SCALAR_FIELDS) == set(PAYLOAD_SCALAR_KEYS)  # one payload key per typed scalar column
    sphere = CASES["pl sphere"].to_payload()
    assert sphere["plqy"] == 0.309 and sphere["emission_detected"] is True
    assert sphere["plqy_method"] == "two-measurement"
    assert sphere["emission_band_nm"] == [500.0, 800.0] and sphere["cie_x"] == 0.553
    quiet = CASES["pl no emission"]
    p = quiet.to_payload()
    assert quiet.plqy is None and quiet.peak_wavelength_nm is None  # noise over absorbed photons is no PLQY
    assert "plqy" not in p and "absorbed_photons" not in p and p["plqy_upper_limit"] == 0.02
    assert p["emission_detected"] is False and p["note"] == quiet.note and quiet.note.startswith("no emission")
    failed = CASES["error"]
    assert failed.method == "error" and failed.to_payload() == {"error": "no exciton found"}
    assert CASES["pl peak failed"].plqy == 0.309 and CASES["pl peak failed"].to_payload()["error"] == "flat"
    assert CASES["exciton"].flagged_saturated().to_payload()["saturated"] is True


def test_absorbance_yield_overrides_and_errors():
    plain = _absorbance(None)
    assert plain.x13_nm is not None and 2.0 < plain.x13_nm < 5.0 and plain.peak_wavelength_nm is not None
    assert plain.conversion is None and plain.production_rate_mg_h is None  # no feed, no flow: not measured
    fed = _absorbance(YieldOutcome(in_feed_mol_l=0.05, outlet_flow_ml_min=0.1, conversion=0.62,
                                   production_rate_mg_h=40.0))
    assert (fed.conversion, fed.production_rate_mg_h) == (0.62, 40.0)
    p = fed.to_payload()
    assert (p["yield"], p["production_mg_h"], p["in_feed_mol_l"], p["outlet_flow_ml_min"]) == (0.62, 40.0, 0.05, 0.1)
    bad = _absorbance(YieldOutcome(in_feed_mol_l=0.05, conversion_error="yield 1500 % is implausible"))
    assert bad.conversion is None and bad.to_payload()["yield_error"].startswith("yield 1500")
    for case in (plain, fed, bad):
        assert scalars_from_payload(case.to_payload()) == case.scalars()
