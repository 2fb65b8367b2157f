"""The batch evaluation of a quiet run of readings (``Interlocks.evaluate_quiet``, used by the event clock) trips at
the same reading, with the same trips, and leaves the same state as the straightforward one-by-one
``Interlocks.evaluate`` (issue 14: the fast path must not change a single safety decision).

Random traces (hypothesis): pressure drifts, clogs whose slope sits exactly at the limit, jumps, NaN, saturation,
stuck sensors after a change of commands, heaters running away or cooling from above their set point, and a
hydraulic model the pressure falls below.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowqd.platform.interlocks import Interlocks, Snapshot
from flowqd.platform.plausibility import PlausibilityLimits

MAX_RISE = 2.0


def _make(window_s: float, stuck_s: float) -> Interlocks:
    return Interlocks(max_pressure_bar=15.0, max_pressure_rise_bar_min=MAX_RISE, pressure_rise_window_s=window_s,
                      over_temperature_margin_c=15.0, limits_c={"hb1": 300.0, "hb2": 300.0},
                      plausibility=PlausibilityLimits(stuck_window_s=stuck_s))


def _state(il: Interlocks) -> dict[str, Any]:
    s = il.sensors
    return {"pressure": list(il._pressure), "temps": {k: list(v) for k, v in il._temps.items() if v},
            "last": dict(s._last), "watch": {k: vars(w).copy() for k, w in s._watch.items()},
            "commands": s._commands, "steady": s._steady_since_s, "model": s._last_model_bar}


def _trace(seed: int, n: int, period_s: float, kind: str) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    t0 = float(rng.choice([0.0, 3600.0, 4.0e5]))
    t = t0 + period_s * np.arange(1, n + 1)
    rel = t - t0
    noise = float(rng.choice([0.0, 1e-3, 0.02]))
    p = 3.0 + rng.normal(0.0, noise, n) if noise else np.full(n, 3.0)
    if kind == "clog_at_limit":  # slope exactly at the limit: rounding decides, both ways must agree
        p = 3.0 + MAX_RISE / 60.0 * rel
    elif kind == "clog":
        p = p + float(rng.uniform(0.5, 4.0)) / 60.0 * rel
    elif kind == "jump":
        p[rng.integers(n):] += float(rng.uniform(1.0, 20.0))
    elif kind == "bad":
        p[rng.integers(n)] = rng.choice([np.nan, np.inf, 30.0, -5.0])
    elif kind == "stuck":
        p = np.full(n, 3.0)
    temp = 200.0 + rng.normal(0.0, 0.05, n)
    if kind == "runaway":
        temp = 214.0 + float(rng.uniform(0.0, 2.0)) / 60.0 * rel + rng.normal(0.0, 0.01, n)
    elif kind == "cooling":
        temp = 240.0 - 0.3 * rel + rng.normal(0.0, 0.05, n)
    elif kind == "stuck":
        temp = np.full(n, 200.0)
    model = np.full(n, 3.0)
    if kind == "model":
        model = np.full(n, 9.0)
    model[rng.random(n) < 0.05] = np.nan
    return {"t": t, "p": p, "temps": {"hb1": temp}, "model": model}


def _snap(tr: dict[str, Any], i: int, setpoints: dict[str, float | None], flows: dict[str, float]) -> Snapshot:
    m = float(tr["model"][i])
    return Snapshot(float(tr["t"][i]), float(tr["p"][i]), {r: float(v[i]) for r, v in tr["temps"].items()},
                    dict(setpoints), {}, {}, None, {}, dict(flows), None if math.isnan(m) else m)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_pre=st.integers(0, 25), n=st.integers(1, 160),
       period_s=st.sampled_from([0.5, 1.0, 2.0]), window_s=st.sampled_from([3.0, 10.0, 30.0]),
       stuck_s=st.sampled_from([10.0, 40.0]), change=st.booleans(),
       kind=st.sampled_from(["calm", "clog", "clog_at_limit", "jump", "bad", "stuck", "runaway", "cooling",
                             "model"]))
def test_batch_evaluation_trips_at_the_same_reading_as_one_by_one(seed, n_pre, n, period_s, window_s, stuck_s,
                                                                   change, kind):
    tr = _trace(seed, n_pre + n, period_s, kind)
    ref, fast = _make(window_s, stuck_s), _make(window_s, stuck_s)
    before = ({"hb1": 190.0}, {"core_pump": 0.1})
    during = ({"hb1": 200.0}, {"core_pump": 0.2}) if change else before
    for i in range(n_pre):  # the same history on both
        a, b = ref.evaluate(_snap(tr, i, *before)), fast.evaluate(_snap(tr, i, *before))
        assert a == b
        if a:
            return
    expected = (n, [])
    for i in range(n_pre, n_pre + n):
        trips = ref.evaluate(_snap(tr, i, *during))
        if trips:
            expected = (i - n_pre, trips)
            break
    sl = slice(n_pre, n_pre + n)
    got = fast.evaluate_quiet(tr["t"][sl], tr["p"][sl], {r: v[sl] for r, v in tr["temps"].items()},
                              tr["model"][sl], setpoints_c=during[0], commanded_flows_ml_min=during[1])
    assert got == expected
    assert _state(fast) == _state(ref)


def test_a_clog_trips_at_the_same_reading_and_the_batch_is_cheap():
    """A clog of 3 bar/min in a 2,000-reading quiet run: the batch trips where one-by-one does, having evaluated
    only a handful of readings one by one."""
    n = 2000
    t = 1000.0 + np.arange(1, n + 1)
    p = 3.0 + np.where(t > 2500.0, 3.0 / 60.0 * (t - 2500.0), 0.0) + np.random.default_rng(0).normal(0, 1e-3, n)
    temps = {"hb1": np.full(n, 200.0)}
    model = np.full(n, 3.0)
    ref, fast = _make(10.0, 120.0), _make(10.0, 120.0)
    calls = {"n": 0}
    one = fast.evaluate

    def counted(snap: Snapshot) -> list[Any]:
        calls["n"] += 1
        return one(snap)

    fast.evaluate = counted  # type: ignore[method-assign]
    k_ref = next(i for i in range(n) if ref.evaluate(Snapshot(float(t[i]), float(p[i]), {"hb1": 200.0},
                                                              {"hb1": 200.0}, {}, {}, None, {}, {"core_pump": 0.2},
                                                              3.0)))
    k, trips = fast.evaluate_quiet(t, p, temps, model, setpoints_c={"hb1": 200.0},
                                   commanded_flows_ml_min={"core_pump": 0.2})
    assert k == k_ref and 1500 < k < 1520
    assert [tr.kind for tr in trips] == ["pressure_rise"]
    assert calls["n"] <= 5
