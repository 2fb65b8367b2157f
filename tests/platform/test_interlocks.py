"""Fault injection on the simulated platform: every trip reaches the safe state in one control period and latches."""

from __future__ import annotations

import pytest

from flowqd.errors import InterlockTrip
from flowqd.platform.interlocks import Interlocks, Snapshot

PERIOD_S = 1.0


def _inject_when(rig, phase, action, condition_index=0):
    """Call ``action(rig, t)`` once, the first time the engine reports ``phase`` of ``condition_index``."""
    state = {}

    def hook(p):
        if "t" not in state and p.phase == phase and p.condition_index == condition_index:
            state["t"] = p.t_s
            action(rig, p.t_s)

    rig.engine.on_progress = hook
    return state


def _assert_safe_and_latched(rig, quick_campaign, trip_t):
    plant = rig.plant
    # at the trip instant: pumps commanded to 0, heaters off, outlet to waste
    assert plant.stream_command_ml_min("core") == 0.0
    assert all(not h.enabled for h in plant.heaters.values())
    assert plant.valve_position == "waste"
    assert rig.engine.last_snapshot.t_s == pytest.approx(trip_t)
    run_id = rig.engine.run_id
    assert rig.recorder.runs[run_id].status == "tripped"
    t_hot = plant.heaters["HB1"].temperature_c
    # nothing restarts by itself: 30 min later everything is still off and cooling
    rig.clock.advance(1800.0)
    plant.advance()
    assert plant.stream_flow_ml_min("core") == 0.0 and plant.stream_command_ml_min("core") == 0.0
    assert all(not h.enabled for h in plant.heaters.values())
    assert plant.heaters["HB1"].temperature_c < t_hot - 20
    assert plant.valve_position == "waste"
    with pytest.raises(InterlockTrip, match="latched"):
        rig.engine.run(quick_campaign)


def test_overpressure_trips_within_one_control_period(make, ptext, quick_campaign):
    # a fast clog (30 bar/min) with the rise detector disabled: the hard 15 bar limit must act
    rig = make(ptext(**{"max_pressure_rise_bar_min = 2.0": "max_pressure_rise_bar_min = 1000.0"}))
    state = _inject_when(rig, "flushing", lambda r, t: r.plant.inject_clog(30.0))
    with pytest.raises(InterlockTrip, match="overpressure"):
        rig.engine.run(quick_campaign)
    trip_t = rig.engine.last_snapshot.t_s
    p_base = 0.01  # hot-coil laminar drop at 0.1 mL/min is ~2 mbar
    t_cross = state["t"] + (15.0 - p_base) / 30.0 * 60.0  # when the true pressure passes 15 bar
    assert t_cross - 2 * PERIOD_S <= trip_t <= t_cross + PERIOD_S
    assert rig.engine.tripped.kind == "overpressure"
    assert rig.plant.clog_bar < 15.0 + 30.0 / 60.0 * (PERIOD_S + 0.01)
    _assert_safe_and_latched(rig, quick_campaign, trip_t)


def test_clog_pressure_rise_trips_before_the_limit(rig, quick_campaign):
    state = _inject_when(rig, "flushing", lambda r, t: r.plant.inject_clog(5.0))
    with pytest.raises(InterlockTrip, match="pressure_rise"):
        rig.engine.run(quick_campaign)
    trip_t = rig.engine.last_snapshot.t_s
    window = rig.platform.interlocks.pressure_rise_window_s
    assert 0 < trip_t - state["t"] <= window + PERIOD_S
    assert rig.plant.clog_bar < 1.0  # caught at < 1 bar of the 15 bar limit
    events = [e for e in rig.recorder.events if e["kind"] == "interlock.pressure_rise"]
    assert len(events) == 1 and events[0]["level"] == "error" and events[0]["details"]["value"] > 2.0
    _assert_safe_and_latched(rig, quick_campaign, trip_t)


def test_heater_runaway_trips_over_temperature(rig, quick_campaign):
    state = _inject_when(rig, "flushing", lambda r, t: r.plant.inject_runaway("HB1"))
    with pytest.raises(InterlockTrip, match="overtemperature"):
        rig.engine.run(quick_campaign)
    trip_t = rig.engine.last_snapshot.t_s
    t_block = rig.engine.last_snapshot.temperatures_c["hb1"]
    # 180 C set point + 15 C margin; at ~7 C/min the block moves < 0.2 C per period
    assert 195.0 < t_block < 196.0
    assert trip_t > state["t"]
    assert rig.plant.heaters["HB1"].runaway is False  # output relay opened
    _assert_safe_and_latched(rig, quick_campaign, trip_t)


def test_device_timeout_trips_lost_device(rig, quick_campaign):
    state = _inject_when(rig, "flushing", lambda r, t: r.plant.inject_timeout("pressure"))
    with pytest.raises(InterlockTrip, match="lost device pressure"):
        rig.engine.run(quick_campaign)
    trip_t = rig.engine.last_snapshot.t_s
    assert trip_t - state["t"] <= PERIOD_S + 1e-9
    _assert_safe_and_latched(rig, quick_campaign, trip_t)


def test_spectrometer_timeout_during_acquisition_trips(rig, quick_campaign):
    _inject_when(rig, "acquiring", lambda r, t: r.plant.inject_timeout("uvvis"))
    with pytest.raises(InterlockTrip, match="lost device uvvis"):
        rig.engine.run(quick_campaign)
    assert rig.plant.stream_command_ml_min("core") == 0.0


def test_syringe_empty_without_partner_trips_before_running_dry(rig, quick_campaign):
    rig.plant.record_flows = True
    # syringe B refills fail: A hands over to B (full at start), B then has no partner
    _inject_when(rig, "stabilising", lambda r, t: r.plant.inject_refill_failure("core_pump.A"))
    with pytest.raises(InterlockTrip, match="syringe_empty"):
        rig.engine.run(quick_campaign)
    pump = rig.devices.core_pump
    assert pump.swaps >= 1  # the first hand-over happened (with no gap)
    active = rig.plant.syringes[f"core_pump.{pump.active_syringe()}"]
    assert 0.0 < active.volume_ml <= 0.26  # tripped at the hand-over volume, before running dry
    q = 0.1
    flows = [f.core_ml_min for f in rig.plant.flow_log if f.t_s > 60.0 and f.t_s < rig.engine.last_snapshot.t_s]
    assert min(flows) > 0.95 * q  # no gap before the trip, including the swap


def test_emergency_stop_flag(make, quick_campaign):
    box = {}
    rig = make(stop_flag=lambda: box.get("reason"))
    _inject_when(rig, "flushing", lambda r, t: box.update(reason="operator"))
    with pytest.raises(InterlockTrip, match="emergency stop: operator"):
        rig.engine.run(quick_campaign)
    assert rig.engine.tripped.kind == "emergency_stop"
    assert rig.plant.stream_command_ml_min("core") == 0.0


def test_interlocks_unit_rise_needs_a_trend_not_noise():
    lock = Interlocks(max_pressure_bar=15, max_pressure_rise_bar_min=2, pressure_rise_window_s=10,
                      over_temperature_margin_c=15, limits_c={"hb1": 350})
    import numpy as np

    rng = np.random.default_rng(1)
    for t in range(60):  # 0.05 bar noise, no trend: never trips
        assert lock.evaluate(Snapshot(float(t), 1.0 + rng.normal(0, 0.05))) == []
    trips = []
    for t in range(60, 80):  # 3 bar/min ramp
        trips = lock.evaluate(Snapshot(float(t), 1.0 + 3.0 * (t - 60) / 60.0))
        if trips:
            break
    assert trips and trips[0].kind == "pressure_rise" and 2.0 < trips[0].value < 3.5
    assert t - 60 <= 10
    # hot block below its set point + margin, or above it while cooling: no trip
    assert lock.evaluate(Snapshot(100.0, None, {"hb1": 210.0}, {"hb1": 200.0})) == []
    assert [t.kind for t in lock.evaluate(Snapshot(400.0, None, {"hb1": 351.0}, {"hb1": 200.0}))] == \
        ["overtemperature"]
