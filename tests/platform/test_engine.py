"""The run engine on the simulated platform: state machine, spectra, steady state, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flowqd.analysis.exciton import find_exciton
from flowqd.analysis.spectrum import Spectrum
from flowqd.devices.sim.surrogate import SurrogateTwin
from flowqd.errors import ConfigError
from flowqd.platform import campaign_from_text, preflight
from flowqd.platform.preflight import operating_point

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_campaign_runs_every_phase_and_records_spectra(rig, quick_campaign):
    summary = rig.engine.run(quick_campaign)
    assert summary.status == "completed"
    rec = rig.recorder
    assert rec.runs[summary.run_id].status == "completed"
    assert rec.completed_conditions(summary.run_id) == [0, 1]
    kinds = [e["kind"] for e in rec.events]
    # per condition: started -> stabilising -> stable -> flushing -> acquiring -> steady -> completed, in order
    for idx in (0, 1):
        start = [i for i, e in enumerate(rec.events) if e["kind"] == "condition.started"][idx]
        seq = kinds[start:]
        order = [seq.index(k) for k in ("phase.stabilising", "condition.stable", "phase.flushing", "phase.acquiring",
                                        "condition.steady", "condition.completed")]
        assert order == sorted(order)
    # 3 absorbance + 3 PL spectra per condition, seq 0..11 without gaps
    assert sorted(s for (_, s) in rec.spectra) == list(range(12))
    assert rec.completed_spectra_count(summary.run_id, 0, "absorbance") == 3
    # the measured peaks match the exciton of the twin's own (noise-free, fully washed-out) spectrum within 1 nm
    twin = SurrogateTwin()
    for i, cond in enumerate(quick_campaign.conditions):
        pred = twin.predict(cond.conditions)
        wl = np.linspace(400, 900, 2048)
        truth = find_exciton(Spectrum(wl, np.interp(wl, pred.absorbance_wavelength_nm, pred.absorbance)))
        assert np.mean(rec.condition_peaks_nm(summary.run_id, i)) == pytest.approx(truth.wavelength_nm, abs=1.0)
    assert np.mean(rec.condition_peaks_nm(summary.run_id, 1)) - np.mean(rec.condition_peaks_nm(summary.run_id, 0)) > 30
    # spectra only after thermal stability + 99 % washout: steady (spread < 1 nm)
    for i in (0, 1):
        peaks = rec.condition_peaks_nm(summary.run_id, i)
        assert max(peaks) - min(peaks) < 1.0


def test_flush_lasts_the_rtd_washout_and_temperature_is_stable(rig, quick_campaign):
    times = {}

    def spy(p):
        times.setdefault((p.condition_index, p.phase), p.t_s)
        if p.phase == "acquiring" and p.condition_index == 0:
            times.setdefault("T_at_acq", p.temperatures_c.get("hb1"))

    rig.engine.on_progress = spy
    rig.engine.run(quick_campaign)
    flush = times[(0, "acquiring")] - times[(0, "flushing")]
    wash_min = rig.engine.process.washout_time_min(operating_point(quick_campaign.conditions[0]), 0.99)
    assert flush == pytest.approx(wash_min * 60.0, abs=1.5)
    assert 40 < wash_min < 50  # 0.1 mL/min through one 3.6 mL unit: tau = 36 min
    assert abs(times["T_at_acq"] - 180.0) < 1.0
    # the plant's own RTD blending says >= 99 % of the cell is new product when acquisition starts
    assert (times[(0, "acquiring")] - times[(0, "stabilising")]) / 60 > wash_min


def test_short_flush_is_caught_by_the_spectral_steady_state_test(make, ptext, quick_campaign):
    rig = make(ptext(**{"washout_fraction = 0.99": "washout_fraction = 0.01",
                        "spectrum_interval_s = 60.0": "spectrum_interval_s = 120.0"}))
    summary = rig.engine.run(quick_campaign)
    # 180 -> 220 C with a 1 % flush the cell still holds 180 C product: the first spectra of condition 1 drift,
    # so extra spectra are taken until the last 3 agree within 1 nm
    out = summary.conditions[1]
    assert out.spectra > 3 and out.steady is True
    assert abs(out.peaks_nm[0] - out.peaks_nm[-1]) > 1.0
    assert max(out.peaks_nm[-3:]) - min(out.peaks_nm[-3:]) < 1.0


def test_preflight_reports_all_problems_and_nothing_moves(make, ptext):
    # a set point outside the reactor's own limits (Conditions) is refused when the campaign is read, every one
    with pytest.raises(ConfigError) as err:
        campaign_from_text("name = 'bad'\n[[conditions]]\ncore_temperature_c = 400.0\ncore_flow_ml_min = 0.1\n"
                           "[[conditions]]\ncore_temperature_c = 200.0\ncore_flow_ml_min = 2.0\n", "bad.toml")
    assert str(err.value) == ("bad.toml: conditions[0].core_temperature_c = 400.0: core temperature 400 °C above the "
                              "HB1 limit 350 °C; conditions[1].core_flow_ml_min = 2.0: core flow 2 mL/min outside the "
                              "pump range 0.03-1.5 mL/min")
    # one inside those but outside this platform's devices is refused by pre-flight, before anything moves
    core_pump = "min_flow_ml_min = 0.03\nmax_flow_ml_min = "
    rig = make(ptext(**{"reservoir_ml = 45.6": "reservoir_ml = 10.0", "max_c = 350.0": "max_c = 300.0",
                        core_pump + "1.5": core_pump + "1.0"}))
    bad = campaign_from_text("""
name = "bad"
[[conditions]]
core_temperature_c = 320.0
core_flow_ml_min = 0.1
[[conditions]]
core_temperature_c = 200.0
core_flow_ml_min = 1.2
[[conditions]]
core_temperature_c = 200.0
core_flow_ml_min = 0.1
""", "bad.toml")
    with pytest.raises(ConfigError) as err:
        rig.engine.run(bad)
    msg = str(err.value)
    assert "bad.toml: conditions[0].core_temperature_c = 320.0: above the HB1 limit 300 °C" in msg
    assert "bad.toml: conditions[1].core_flow_ml_min = 1.2: outside the core pump range 0.03-1 mL/min" in msg
    assert not rig.recorder.runs and rig.plant.stream_command_ml_min("core") == 0.0
    assert all(not h.enabled for h in rig.plant.heaters.values())
    ok = campaign_from_text("name='x'\n[[conditions]]\ncore_temperature_c=200.0\ncore_flow_ml_min=0.1\n"
                            "[[conditions]]\ncore_temperature_c=220.0\ncore_flow_ml_min=0.1\n", "x.toml")
    report = preflight(ok, rig.platform)
    assert len(report.problems) == 1 and "devices.core_pump.reservoir_ml = 10.0" in report.problems[0]
    assert 10.0 < float(report.problems[0].split("about ")[1].split(" mL")[0]) < 30.0


def test_core_shell_condition_runs_both_boxes_and_pl(rig):
    camp = campaign_from_text((EXAMPLES / "campaign-core-shell.toml").read_text(), "cs.toml")
    summary = rig.engine.run(camp)
    assert summary.status == "completed"
    pl = [s for s in rig.recorder.spectra.values() if s["kind"] == "pl"]
    assert len(pl) == 3
    # surrogate: exciton 200 C / 0.06 mL/min + 12 nm shell shift; PL 77 nm above it (paper: 530 / 607 nm)
    abs_peak = np.mean(rig.recorder.condition_peaks_nm(summary.run_id, 0))
    pl_peak = np.mean([s["analysis"].peak_wavelength_nm for s in pl])
    assert 525 < abs_peak < 560 and pl_peak - abs_peak == pytest.approx(77, abs=6)
    assert rig.plant.heaters["HB2"].enabled is False  # shut down at the end


class _Crash(Exception):
    pass


def test_resume_after_crash_loses_and_duplicates_nothing(make, quick_campaign):
    rig = make()
    real = rig.recorder.record_spectrum
    calls = {"n": 0}

    def crashing(*a, **k):
        sid = real(*a, **k)
        calls["n"] += 1
        if calls["n"] == 8:  # crash right after the 8th commit (condition 1, second absorbance spectrum)
            raise _Crash
        return sid

    rig.recorder.record_spectrum = crashing
    with pytest.raises(_Crash):
        rig.engine.run(quick_campaign)
    before = dict(rig.recorder.spectra)
    assert rig.recorder.completed_conditions(1) == [0]
    del rig.recorder.record_spectrum  # the real method again
    rig.recorder.runs[1].status = "failed"
    rig2 = make(recorder=rig.recorder)  # fresh devices, fresh clock: a new process
    summary = rig2.engine.run(quick_campaign, resume_run_id=1)
    assert summary.status == "completed" and summary.conditions[0].skipped
    after = rig2.recorder.spectra
    assert all(after[k] is v for k, v in before.items())  # nothing lost or replaced
    seqs = sorted(s for (_, s) in after)
    assert seqs == list(range(len(seqs)))  # no gap, no duplicate
    # condition 1 keeps its 1 stored absorbance spectrum and gets >= 3 fresh ones for the steady-state test
    assert rig2.recorder.completed_spectra_count(1, 1, "absorbance") >= 4
    assert rig2.recorder.completed_spectra_count(1, 0, "absorbance") == 3
    assert [e["kind"] for e in rig2.recorder.events].count("run.resumed") == 1
