"""Issue 13 items 2 and 5: yield / production computed inline; spectra from before an interruption not averaged."""

from __future__ import annotations

import numpy as np
import pytest

from flowqd.analysis.spectrum import Spectrum
from flowqd.devices.protocols import SpectrumReading
from flowqd.platform.analyzer import SpectrumAnalyzer
from flowqd.store import Store


class _Crash(Exception):
    pass


@pytest.mark.parametrize(("temperature_c", "flow_ml_min"), [(200.0, 0.1), (250.0, 0.3)])
def test_inline_yield_and_production_match_the_twin(temperature_c, flow_ml_min):
    """The Hens analysis of the twin's outlet spectrum (diluted as the platform file says) gives back the twin's
    conversion and production rate, which come from its kinetics (In balance), not from the optics: within 2 %."""
    from flowqd.twin import Conditions, Twin

    twin = Twin.default()
    pred = twin.predict(Conditions(temperature_c, flow_ml_min), bands=False)
    spectrum = Spectrum(np.asarray(pred.absorbance_wavelength_nm), np.asarray(pred.absorbance), kind="absorbance",
                        source="twin")
    analyzer = SpectrumAnalyzer("InP", 1.0, dilution=twin.dilution, stock_indium_mol_l=0.0877)
    analyzer.for_condition(core_flow_ml_min=flow_ml_min, outlet_flow_ml_min=flow_ml_min)
    reading = SpectrumReading(kind="absorbance", wavelength_nm=spectrum.wavelength_nm, counts=spectrum.values,
                              dark=None, reference=None, spectrum=spectrum, integration_ms=100.0, averages=1,
                              saturated=False, t_s=0.0)
    result = analyzer(reading)
    assert result.method == "absorbance" and result.yields is not None
    assert result.conversion == pytest.approx(pred.conversion, rel=0.02)
    assert result.production_rate_mg_h == pytest.approx(pred.production_mg_h, rel=0.02)
    assert result.yields.in_feed_mol_l == pytest.approx(0.0877)
    payload = result.to_payload()  # the stored keys (payload schema 1)
    assert payload["yield"] == result.conversion and payload["production_mg_h"] == result.production_rate_mg_h


def test_yield_feed_is_diluted_by_the_ddt_stream():
    analyzer = SpectrumAnalyzer("InP", 1.0, stock_indium_mol_l=0.0877)
    analyzer.for_condition(core_flow_ml_min=0.1, outlet_flow_ml_min=0.13)
    assert analyzer.in_feed_mol_l == pytest.approx(0.0877 * 0.1 / 0.13)
    out = analyzer._yield(0.0877 * 0.1 / 0.13 * 0.5, 10.0)
    assert out is not None and out.conversion == pytest.approx(0.5)
    assert out.production_rate_mg_h == pytest.approx(10.0 * 0.13 * 60)
    bad = analyzer._yield(1.0, 10.0)  # 1500 %: reported, the rest of the analysis kept
    assert bad is not None and bad.conversion is None and bad.conversion_error
    assert "yield_error" in bad.to_payload() and "yield" not in bad.to_payload()
    assert analyzer._yield(float("nan"), 1.0) is None


ONE_CONDITION = 'name = "one"\n[[conditions]]\ncore_temperature_c = 180.0\ncore_flow_ml_min = 0.1\nn_spectra = 3\n'


def test_run_stores_conversion_and_production_per_condition(ptext):
    """Through the engine: every absorbance analysis carries yield and production; the results table (CSV export
    and /api/runs/*/results read it) has them per condition."""
    import math

    from flowqd.devices import SimClock, build_devices
    from flowqd.devices.sim import SurrogateTwin
    from flowqd.platform import RunEngine, campaign_from_text, platform_from_text

    store = Store("sqlite://")
    platform = platform_from_text(ptext(), "p.toml")
    clock = SimClock(speedup=math.inf)
    devices = build_devices(platform, clock, twin=SurrogateTwin(peak_absorbance=0.12))
    RunEngine(platform, devices, clock, store, analyzer=SpectrumAnalyzer.for_platform(platform)).run(
        campaign_from_text(ONE_CONDITION, "one.toml"))
    rows = store.results_table(1)
    assert len(rows) == 1
    for row in rows:
        assert row["production_rate_mg_h"] is not None and row["production_rate_mg_h"] > 0
        assert row["conversion"] is not None and 0 < row["conversion"] < 1.05
    payloads = [a.payload for a in store.analyses(1) if a.method == "absorbance"]
    # production = c_mass (undiluted: the analysis multiplies the 20x dilution back) × outlet flow, in mg/h
    for p in payloads:
        assert p["production_mg_h"] == pytest.approx(p["concentration_mg_ml"] * 0.1 * 60.0, rel=1e-9)
        assert p["outlet_flow_ml_min"] == pytest.approx(0.1)


def test_resumed_condition_averages_only_fresh_spectra(make):
    from flowqd.platform import campaign_from_text

    campaign = campaign_from_text(ONE_CONDITION, "one.toml")
    store = Store("sqlite://")
    rig = make(recorder=store)
    real = store.record_spectrum
    calls = {"n": 0}

    def crashing(*a, **k):
        sid = real(*a, **k)
        calls["n"] += 1
        if calls["n"] == 3:  # absorbance, PL, absorbance: the crash comes after the second absorbance spectrum
            raise _Crash
        return sid

    store.record_spectrum = crashing
    with pytest.raises(_Crash):
        rig.engine.run(campaign)
    del store.record_spectrum
    store.set_run_status(1, "failed")
    before = {s.seq for s in store.spectra(1)}
    assert len(before) == 3
    rig2 = make(recorder=store)
    rig2.engine.run(campaign, resume_run_id=1)
    (row,) = store.results_table(1)
    assert row["n_absorbance"] == 3 and row["n_pl"] == 3  # three fresh spectra, as planned (not 3 + 2 old ones)
    assert row["n_superseded"] == 3
    spectra = store.spectra(1)
    assert before < {s.seq for s in spectra}  # nothing lost
    old = [s for s in spectra if s.seq in before]
    assert all("interrupted" in s.meta["superseded"] for s in old)  # kept, marked
    assert not any((s.meta or {}).get("superseded") for s in spectra if s.seq not in before)
    started = [e for e in store.events(1) if e.kind == "condition.started" and e.details.get("superseded_spectra")]
    assert len(started) == 1 and "not averaged" in started[0].message
