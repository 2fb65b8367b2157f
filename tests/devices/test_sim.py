"""Physics of the simulated platform: alternation without a gap, heater, clog, RTD washout, clock."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from flowqd.devices import SimClock, build_devices
from flowqd.devices.sim import SurrogateTwin
from flowqd.platform import platform_from_text

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "platform-wang-segets-2023.toml"


def _devices(**replace):
    text = EXAMPLE.read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    clock = SimClock(speedup=math.inf)
    return clock, build_devices(platform_from_text(text, "p.toml"), clock, twin=SurrogateTwin())


@pytest.mark.parametrize("q", [0.03, 0.1, 1.5])
def test_dual_syringe_alternation_has_no_flow_gap(q):
    clock, d = _devices()
    d.core_pump.set_flow_ml_min(q)
    for _ in range(60):
        clock.sleep(1.0)
        d.core_pump.service()
    d.backend.record_flows = True
    n = int(3.2 * 2.5 / q * 60)
    for _ in range(n):
        clock.sleep(1.0)
        d.core_pump.service()
    flows = np.array([f.core_ml_min for f in d.backend.flow_log])
    assert d.core_pump.swaps >= 3
    assert flows.min() > 0.97 * q and flows.max() < 1.03 * q  # sub-step resolution (0.25 s)


def test_switching_without_overlap_dips_to_zero():
    clock, d = _devices(**{"overlap = true": "overlap = false"})
    d.core_pump.set_flow_ml_min(0.3)
    d.backend.record_flows = True
    for _ in range(int(2.6 / 0.3 * 60)):
        clock.sleep(1.0)
        d.core_pump.service()
    flows = np.array([f.core_ml_min for f in d.backend.flow_log if f.t_s > 30])
    assert d.core_pump.swaps == 1 and flows.min() == 0.0


def test_heater_follows_the_ramp_and_settles_within_the_stability_band():
    clock, d = _devices()
    d.hb1.set_setpoint_c(200.0)
    temps = []
    for _ in range(3600):
        clock.sleep(1.0)
        temps.append(d.hb1.read_c())
    temps = np.array(temps)
    # 5 °C/min ramp from 25 °C: ~35 min; the PI keeps the overshoot small
    t_reach = int(np.argmax(temps > 199.0))
    assert 33 * 60 < t_reach < 40 * 60
    assert temps.max() < 203.0 and abs(temps[-1] - 200.0) < 0.3


def test_clog_adds_pressure_at_the_injected_rate():
    clock, d = _devices()
    d.core_pump.set_flow_ml_min(0.1)
    clock.sleep(60.0)
    p0 = d.backend.pressure_bar(noisy=False)
    d.backend.inject_clog(3.0)
    clock.sleep(120.0)
    assert d.backend.pressure_bar(noisy=False) - p0 == pytest.approx(6.0, abs=0.01)
    assert 0 < p0 < 0.05  # laminar ΔP of one cold-to-warm unit at 0.1 mL/min is mbar-scale


def test_outlet_follows_the_reactor_rtd_after_a_step():
    clock, d = _devices()
    plant = d.backend
    d.hb1.set_setpoint_c(180.0)
    d.core_pump.set_flow_ml_min(0.1)
    while not plant._segments[-1].key:  # until the block is at temperature
        clock.sleep(1.0)
        d.core_pump.service()
    t0 = plant._segments[-1].t_start_s
    op = plant._segments[-1].key
    for minutes in (20.0, 36.0, 50.0):
        while clock.now() < t0 + minutes * 60:
            clock.sleep(1.0)
            d.core_pump.service()
        w_new = dict((k, w) for k, w in plant.outlet_weights())[op]
        assert w_new == pytest.approx(plant.process.washout_fraction(op, (clock.now() - t0) / 60), abs=1e-6)
    assert w_new > 0.99


def test_sim_clock_is_virtual_and_can_be_throttled():
    c = SimClock(speedup=math.inf)
    t = time.monotonic()
    c.sleep(3600.0)
    assert c.now() == 3600.0 and time.monotonic() - t < 0.05
    c2 = SimClock(speedup=1000.0)
    t = time.monotonic()
    c2.sleep(100.0)
    assert 0.09 < time.monotonic() - t < 0.5
    with pytest.raises(Exception, match="negative"):
        c2.sleep(-1.0)


def test_stagnant_plug_is_simulated_from_its_residence_time_not_rejected():
    # issue 14: a plug left standing in the hot box (pump stopped) has a residence time far beyond the twin's
    # flow range; it is predicted at the range's longest residence time and counted, never a RangeError
    clock, d = _devices()
    plant = d.backend
    d.hb1.set_setpoint_c(200.0)
    d.core_pump.set_flow_ml_min(0.1)
    d.uvvis.take_dark()
    d.uvvis.take_reference()
    while clock.now() < 4 * 3600:
        clock.sleep(1.0)
        d.core_pump.service()
    (point, w), = plant.outlet_products()
    assert point.core_flow_ml_min == 0.1 and w == pytest.approx(1.0)  # hand-over dips: still the set point
    assert plant.extrapolated_plugs == 0
    d.core_pump.stop()
    d.core_pump.set_flow_ml_min(0.03)  # a slow restart after a 3 h stop: the plug inside stood still
    clock.sleep(3 * 3600.0)
    d.core_pump.stop()
    clock.sleep(3 * 3600.0)
    d.core_pump.set_flow_ml_min(0.1)
    for _ in range(3600):
        clock.sleep(1.0)
        d.core_pump.service()
    reading = d.uvvis.acquire()
    assert np.all(np.isfinite(reading.counts))
    flows = sorted(p.core_flow_ml_min for p, _ in plant.outlet_products())
    assert flows[0] == 0.03 and plant.extrapolated_plugs > 0  # the stood plug: longest residence the twin has
    assert flows[-1] == 0.1


def test_predictions_are_cached_per_point_and_batched():
    from flowqd.devices.sim import PredictionCache
    from flowqd.reactor.conditions import Conditions

    calls = []

    class BatchTwin(SurrogateTwin):
        def predict_batch(self, conds, *, bands=True):
            calls.append((len(conds), bands))
            return [self.predict(c) for c in conds]

    cache = PredictionCache(BatchTwin())
    points = [Conditions(t, q) for t in (180.0, 220.0) for q in (0.05, 0.1, 0.2)]
    assert cache.prefetch(points + points[:2]) == 6
    assert calls == [(6, False)]  # one call, no uncertainty bands
    assert cache.get(points[3]).peak_wavelength_nm == pytest.approx(SurrogateTwin().peak_nm(points[3]))
    assert cache.prefetch(points) == 0 and cache.hits == 1 and cache.misses == 0
    cache.get(Conditions(200.0, 0.1))
    assert calls[-1] == (1, False) and cache.misses == 1 and len(cache) == 7
