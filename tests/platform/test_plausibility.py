"""Fault injection for sensors that lie and spectrometers that fail (issue 9): each fault reaches the safe state
within one control period of being detectable and is recorded as an ``interlock.*`` event naming the sensor and
the rule. Faults are injected by wrapping the simulated devices' methods (the simulation itself is untouched)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from flowqd.devices.protocols import DeviceError
from flowqd.errors import InterlockTrip
from flowqd.platform.interlocks import Snapshot
from flowqd.platform.plausibility import PlausibilityLimits, SensorPlausibility

PERIOD_S = 1.0


@pytest.fixture
def rig(make):
    """Tick by tick: the faults are injected into the device methods, which the event clock's fast-forward of the
    simulation (analytic readings) does not call."""
    return make(clock_mode="tick", pump_pressure_check=True)


def _when(rig, phase, action, condition_index=0):
    """Call ``action(rig)`` once, the first time the engine reports ``phase`` of ``condition_index``; return the
    dict that receives the injection time ``t``."""
    state = {}

    def hook(p):
        if "t" not in state and p.phase == phase and p.condition_index == condition_index:
            state["t"] = p.t_s
            action(rig)

    rig.engine.on_progress = hook
    return state


def _tripped(rig, campaign, kind, sensor, unreachable=()):
    """Run until the trip; check the safe state, the latched status and the event; return the trip time.
    ``unreachable``: plant heaters that cannot be commanded (their failed safe-state actions are in the event)."""
    with pytest.raises(InterlockTrip, match=kind):
        rig.engine.run(campaign)
    plant = rig.plant
    assert rig.engine.tripped.kind == kind
    assert plant.stream_command_ml_min("core") == 0.0
    assert all(not h.enabled for name, h in plant.heaters.items() if name not in unreachable)
    assert plant.valve_position == "waste"
    run_id = rig.engine.run_id
    assert rig.recorder.runs[run_id].status == "tripped"
    events = [e for e in rig.recorder.events if e["kind"] == f"interlock.{kind}"]
    assert len(events) >= 1 and events[0]["level"] == "error"
    assert events[0]["details"]["sensor"] == sensor and events[0]["details"]["rule"] == kind
    failed = events[0]["details"]["failed_actions"]
    assert len(failed) == 2 * len(unreachable)  # set point and stop of each unreachable heater, nothing else
    return rig.engine.last_snapshot.t_s


def test_nan_temperature_trips_in_one_period(rig, quick_campaign):
    hb1 = rig.devices.hb1
    state = _when(rig, "stabilising", lambda r: setattr(hb1, "read_c", lambda: math.nan))
    t = _tripped(rig, quick_campaign, "sensor_invalid", "hb1")
    assert 0 < t - state["t"] <= PERIOD_S + 1e-9


def test_stuck_pressure_transducer_trips(rig, quick_campaign):
    # frozen from the first reading: the pumps start (the model says +31 mbar cold) and it never moves
    sensor = rig.devices.pressure
    sensor.read_bar = lambda: 0.01
    with pytest.raises(InterlockTrip, match="sensor_stuck"):
        rig.engine.run(quick_campaign)
    window = rig.platform.interlocks.stuck_window_s
    t = rig.engine.last_snapshot.t_s
    assert window <= t <= window + 2 * PERIOD_S  # first tick ~1 s, window elapsed at the next tick
    ev = [e for e in rig.recorder.events if e["kind"] == "interlock.sensor_stuck"]
    assert ev[0]["details"]["sensor"] == "pressure"
    assert rig.plant.stream_command_ml_min("core") == 0.0 and rig.plant.valve_position == "waste"


def test_stuck_low_transducer_during_a_clog_is_caught_by_the_pump_pressure(make, ptext, quick_campaign):
    # the audit's case: transducer stuck at 0.01 bar while a clog builds (true pressure reached 414 bar)
    rig = make(ptext(), clock_mode="tick", pump_pressure_check=True)
    state = _when(rig, "stabilising", lambda r: (setattr(r.devices.pressure, "read_bar", lambda: 0.01),
                                              r.plant.inject_clog(30.0)))
    t = _tripped(rig, quick_campaign, "sensor_disagreement", "pressure")
    agreement = rig.platform.interlocks.pressure_agreement_bar
    t_cross = state["t"] + agreement / 30.0 * 60.0  # the pumps read > 1 bar above the stuck 0.01 bar
    assert t_cross - PERIOD_S <= t <= t_cross + 2 * PERIOD_S
    assert rig.plant.clog_bar < 2.0  # far below the 15 bar limit


def test_out_of_range_readings_trip(rig, quick_campaign):
    # a broken 4-20 mA loop reads far below vacuum
    state = _when(rig, "stabilising", lambda r: setattr(r.devices.pressure, "read_bar", lambda: -6.25))
    t = _tripped(rig, quick_campaign, "sensor_range", "pressure")
    assert 0 < t - state["t"] <= PERIOD_S + 1e-9


def test_open_thermocouple_reading_trips_out_of_range(rig, quick_campaign):
    state = _when(rig, "acquiring", lambda r: setattr(r.devices.hb1, "read_c", lambda: 1372.0))
    t = _tripped(rig, quick_campaign, "sensor_range", "hb1")
    assert 0 < t - state["t"] <= PERIOD_S + 1e-9


def test_drifting_transducer_trips_on_disagreement(rig, quick_campaign):
    drift_bar_min = -0.5
    sensor = rig.devices.pressure
    true_read = sensor.read_bar
    start = {}

    def drifting():
        return true_read() + drift_bar_min * (rig.clock.now() - start["t"]) / 60.0

    def inject(r):
        start["t"] = r.clock.now()
        sensor.read_bar = drifting

    _when(rig, "stabilising", inject)
    t = _tripped(rig, quick_campaign, "sensor_disagreement", "pressure")
    expected = start["t"] + rig.platform.interlocks.pressure_agreement_bar / abs(drift_bar_min) * 60.0
    assert abs(t - expected) <= 2 * PERIOD_S  # 120 s of drift to 1 bar; noise ±2 mbar


def test_heater_power_loss_trips_lost_device(rig, quick_campaign):
    state = _when(rig, "acquiring", lambda r: r.plant.inject_timeout("hb1"))
    t = _tripped(rig, quick_campaign, "lost_device", "hb1", unreachable=("HB1",))
    assert 0 <= t - state["t"] <= PERIOD_S + 1e-9


def test_device_fault_in_a_reading_trips_lost_device(rig, quick_campaign):
    def fault():
        raise DeviceError("stall alarm")

    state = _when(rig, "stabilising", lambda r: setattr(r.devices.core_pump, "flow_ml_min", fault))
    t = _tripped(rig, quick_campaign, "lost_device", "core_pump")
    assert 0 < t - state["t"] <= PERIOD_S + 1e-9


def test_spectrometer_error_trips(rig, quick_campaign):
    def broken():
        raise DeviceError("USB transfer error")

    _when(rig, "acquiring", lambda r: setattr(r.devices.uvvis, "acquire", broken))
    t0_spectra = len(rig.recorder.spectra)
    _tripped(rig, quick_campaign, "spectrometer_error", "uvvis")
    assert len(rig.recorder.spectra) == t0_spectra  # nothing stored from the failed acquisition


def test_spectrometer_bad_data_trips_and_stores_nothing(rig, quick_campaign):
    uv = rig.devices.uvvis
    real = uv.acquire

    def garbage():
        r = real()
        return dataclasses.replace(r, counts=np.full_like(r.counts, np.nan))

    _when(rig, "acquiring", lambda r: setattr(uv, "acquire", garbage))
    _tripped(rig, quick_campaign, "spectrometer_bad_data", "uvvis")
    assert len(rig.recorder.spectra) == 0


def test_saturated_spectra_trip_after_the_configured_count(rig, quick_campaign):
    uv = rig.devices.uvvis
    real = uv.acquire

    def saturated():
        return dataclasses.replace(real(), saturated=True)

    _when(rig, "acquiring", lambda r: setattr(uv, "acquire", saturated))
    _tripped(rig, quick_campaign, "spectrometer_saturated", "uvvis")
    n = rig.platform.interlocks.max_saturated_spectra
    stored = [s for s in rig.recorder.spectra.values() if s["kind"] == "absorbance"]
    assert len(stored) == n  # kept (flagged), not lost; the trip follows the n-th
    warnings = [e for e in rig.recorder.events if e["kind"] == "spectrometer.saturated"]
    assert len(warnings) == n


def test_stabilise_timeout_trips(make, ptext, quick_campaign):
    # 25 -> 180 C at 5 C/min takes 31 min: a 5 min time-out must trip
    rig = make(ptext(**{"stabilise_timeout_s = 7200.0": "stabilise_timeout_s = 300.0"}), clock_mode="tick")
    t = _tripped(rig, quick_campaign, "stabilise_timeout", None)
    assert 300.0 < t <= 300.0 + 2 * PERIOD_S


# ---------------------------------------------------------------------------------------------- unit level
def _snap(t, p=None, temps=None, sp=None, flows=None, model=None, pumps=None):
    return Snapshot(t, p, temps or {}, sp or {}, pump_pressures_bar=pumps or {},
                    commanded_flows_ml_min=flows or {}, model_pressure_bar=model)


def test_rules_unit_level():
    lim = PlausibilityLimits(stuck_window_s=60.0)
    s = SensorPlausibility(lim)
    kinds = lambda snap: [t.kind for t in s.evaluate(snap)[0]]  # noqa: E731
    assert kinds(_snap(0.0, 0.5, {"hb1": 25.0})) == []
    assert kinds(_snap(1.0, float("inf"))) == ["sensor_invalid"]
    assert kinds(_snap(2.0, True)) == ["sensor_invalid"]  # a bool is not a reading
    assert kinds(_snap(3.0, 25.0)) == ["sensor_range"]  # at the transducer's full scale: saturated
    assert kinds(_snap(4.0, 0.5, {"hb1": 25.0})) == []
    assert kinds(_snap(5.0, 8.0)) == ["sensor_rate"]  # 7.5 bar in 1 s
    # a set point 150 C away and a reading that does not move for the window: stuck
    s = SensorPlausibility(lim)
    for t in range(0, 61):
        trips = kinds(_snap(float(t), None, {"hb1": 25.0}, {"hb1": 180.0}))
        assert trips == ([] if t < 60 else ["sensor_stuck"]), t
    # the same with a live sensor (noise 0.1 C): nothing
    s = SensorPlausibility(lim)
    rng = np.random.default_rng(0)
    assert all(kinds(_snap(float(t), None, {"hb1": 25.0 + rng.normal(0, 0.1)}, {"hb1": 180.0})) == []
               for t in range(120))
    # a small set-point change (< 5 bands) asks nothing of the sensor
    s = SensorPlausibility(lim)
    assert all(kinds(_snap(float(t), None, {"hb1": 180.0}, {"hb1": 180.2})) == [] for t in range(120))
    # pressure below the hydraulic model once the flows have been steady for the window
    s = SensorPlausibility(lim)
    out = [kinds(_snap(float(t), 0.5, flows={"core_pump": 1.0}, model=4.0)) for t in range(62)]
    assert out[59] == [] and out[61] == ["sensor_model"]
    # above the model is left to the clog interlocks
    s = SensorPlausibility(lim)
    assert all(kinds(_snap(float(t), 9.0 + rng.normal(0, 0.01), flows={"core_pump": 1.0}, model=4.0)) == []
               for t in range(120))
