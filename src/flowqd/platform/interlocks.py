"""Safety interlocks, evaluated by the run engine once per control period.

=====================  ===========================================================================  ==========
interlock              trips when                                                                   kind
=====================  ===========================================================================  ==========
over-pressure          inlet pressure > ``max_pressure_bar`` (15 bar; syringes rated 20 bar)         overpressure
pressure rise (clog)   least-squares dP/dt over ``pressure_rise_window_s`` > ``max_pressure_rise``    pressure_rise
over-temperature       block T > its box limit, or T > set point + margin (15 °C) *and* rising        overtemperature
lost device            a device raised :class:`~flowqd.devices.protocols.DeviceTimeout` (or a fault)  lost_device
implausible sensor     NaN/inf, out of range, jump, stuck, disagreement, below the hydraulic model   sensor_*
spectrometer fault     a device error, bad data (NaN, wrong length), N saturated spectra in a row    spectrometer_*
stabilise time-out     temperatures not within tolerance after ``stabilise_timeout_s``              stabilise_timeout
syringe empty          the active syringe reached its hand-over volume with no partner ready        syringe_empty
emergency stop         the stop flag is set (``flowqd stop`` / SIGINT / SIGTERM)                    emergency_stop
=====================  ===========================================================================  ==========

The sensor rules are :mod:`flowqd.platform.plausibility`; they run first, and a reading they reject is not used
by the limit checks (a NaN compares false with every limit). Over-pressure is judged on the highest believable
pressure signal: the inlet transducer and each pump's own outlet pressure.

On a trip the engine puts the platform in its **safe state** in the same control period — pumps stopped,
heaters to ``safe_setpoint_c`` with the output switched off, outlet valve to waste — logs an ``interlock.*``
event, marks the run ``tripped`` and raises :class:`~flowqd.errors.InterlockTrip`. A trip **latches**: nothing
restarts until an operator runs ``flowqd run --resume RUN_ID``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from flowqd.platform.plausibility import PlausibilityLimits, SensorPlausibility

__all__ = ["Interlocks", "Snapshot", "Trip"]


@dataclass(frozen=True)
class Snapshot:
    """What the engine read in one control period.

    Attributes
    ----------
    t_s : float
    pressure_bar : float or None
        ``None`` when the sensor did not answer (listed in ``lost``).
    temperatures_c, setpoints_c : mapping role → °C
        Block temperatures and set points of the heaters that answered (set point ``None`` = output off).
    starved : mapping role → bool
        Pumps whose active syringe is at its hand-over volume without a ready partner.
    lost : mapping role → message
        Devices that timed out this period.
    stop_reason : str or None
        Set when an emergency stop was requested.
    pump_pressures_bar : mapping role → bar
        Each pump's own outlet pressure (a redundant pressure signal).
    commanded_flows_ml_min : mapping role → mL/min
        The flows the engine commanded (0 = stopped).
    model_pressure_bar : float or None
        The hydraulic model's inlet pressure for the commanded flows and measured temperatures.
    """

    t_s: float
    pressure_bar: float | None = None
    temperatures_c: Mapping[str, float] = field(default_factory=dict)
    setpoints_c: Mapping[str, float | None] = field(default_factory=dict)
    starved: Mapping[str, bool] = field(default_factory=dict)
    lost: Mapping[str, str] = field(default_factory=dict)
    stop_reason: str | None = None
    pump_pressures_bar: Mapping[str, float] = field(default_factory=dict)
    commanded_flows_ml_min: Mapping[str, float] = field(default_factory=dict)
    model_pressure_bar: float | None = None


@dataclass(frozen=True)
class Trip:
    """One tripped interlock; ``sensor`` names the sensor or device a plausibility rule rejected."""

    kind: str
    message: str
    value: float | None = None
    threshold: float | None = None
    sensor: str | None = None


class Interlocks:
    """Stateful evaluation of the interlocks (keeps the pressure and temperature histories).

    Parameters
    ----------
    max_pressure_bar, max_pressure_rise_bar_min, pressure_rise_window_s : float
    over_temperature_margin_c : float
    limits_c : mapping role → °C
        Hard limit of each heater (the box limit).
    plausibility : PlausibilityLimits, optional
        Sensor plausibility thresholds (default: :class:`PlausibilityLimits` defaults).
    """

    def __init__(self, *, max_pressure_bar: float, max_pressure_rise_bar_min: float, pressure_rise_window_s: float,
                 over_temperature_margin_c: float, limits_c: Mapping[str, float],
                 plausibility: PlausibilityLimits | None = None) -> None:
        self.max_pressure_bar = float(max_pressure_bar)
        self.max_rise_bar_min = float(max_pressure_rise_bar_min)
        self.window_s = float(pressure_rise_window_s)
        self.margin_c = float(over_temperature_margin_c)
        self.limits_c = dict(limits_c)
        self._pressure: deque[tuple[float, float]] = deque()
        self._temps: dict[str, deque[tuple[float, float]]] = {}
        self.sensors = SensorPlausibility(plausibility or PlausibilityLimits())

    @staticmethod
    def _slope_per_min(points: deque[tuple[float, float]]) -> float:
        # plain floats: a window holds a few dozen points and this runs for every reading (numpy costs 100 µs)
        n = len(points)
        t_mean = sum(p[0] for p in points) / n
        y_mean = sum(p[1] for p in points) / n
        denom = sum((p[0] - t_mean) ** 2 for p in points)
        num = sum((p[0] - t_mean) * (p[1] - y_mean) for p in points)
        return 0.0 if denom <= 0 else num / denom * 60.0

    def _push(self, hist: deque[tuple[float, float]], t: float, v: float) -> None:
        hist.append((t, v))
        while hist and hist[0][0] < t - self.window_s - 1e-9:
            hist.popleft()

    def pressure_rise_bar_min(self) -> float | None:
        """Current dP/dt estimate, bar/min (``None`` until half a window of samples exists)."""
        h = self._pressure
        if len(h) < 3 or h[-1][0] - h[0][0] < 0.5 * self.window_s:
            return None
        return self._slope_per_min(h)

    def evaluate_quiet(self, times_s: np.ndarray, pressure_bar: np.ndarray | None,
                       temperatures_c: Mapping[str, np.ndarray], model_pressure_bar: np.ndarray, *,
                       setpoints_c: Mapping[str, float | None], commanded_flows_ml_min: Mapping[str, float],
                       ) -> tuple[int, list[Trip]]:
        """Evaluate a run of readings taken under unchanged commands, as :meth:`evaluate` would one by one.

        The same result and the same state afterwards as calling :meth:`evaluate` on the snapshot of each reading
        in turn (no lost device, no stop request, no starved pump, no pump pressures) up to and including the
        first that trips. Returns ``(i, trips)``: the index of that reading and its trips, or ``(n, [])``.

        How: every rule is screened for the whole run at once with array operations that give, reading by
        reading, the state the one-by-one evaluation would have reached had nothing tripped before. The limit
        and plausibility comparisons are the same float operations as in :meth:`evaluate`, so they decide
        alike. The least-squares slopes (clog, heater runaway) are computed in a different order, so a reading
        whose slope lies within a rounding-error bound of its limit is not cleared. Every reading that is not
        cleared is evaluated by :meth:`evaluate` itself; the trips are always its own.

        Parameters
        ----------
        times_s : ndarray
            Reading instants (increasing).
        pressure_bar : ndarray or None
            Inlet pressure readings (``None``: no pressure sensor).
        temperatures_c : mapping role → ndarray
        model_pressure_bar : ndarray
            The hydraulic model's pressure for each reading, NaN where it has none.
        setpoints_c, commanded_flows_ml_min : mapping
            The commands in force for the whole run.
        """
        t = np.asarray(times_s, dtype=float)
        n = t.size
        temps = {r: np.asarray(v, dtype=float) for r, v in temperatures_c.items()}
        p = None if pressure_bar is None else np.asarray(pressure_bar, dtype=float)
        model = np.asarray(model_pressure_bar, dtype=float)

        def snap(i: int) -> Snapshot:
            m = float(model[i])
            return Snapshot(float(t[i]), None if p is None else float(p[i]), {r: float(v[i]) for r, v in temps.items()},
                            dict(setpoints_c), {}, {}, None, {}, dict(commanded_flows_ml_min),
                            None if np.isnan(m) else m)

        start = 0
        if n and self.sensors.commands_changed(setpoints_c, commanded_flows_ml_min):
            trips = self.evaluate(snap(0))  # a change of commands opens stuck checks: the straightforward way
            if trips:
                return 0, trips
            start = 1
        if start >= n:
            return n, []
        sl = slice(start, n)
        readings: dict[str, tuple[np.ndarray, str]] = {}
        if p is not None:
            readings["pressure"] = (p[sl], "bar")
        readings.update({r: (v[sl], "°C") for r, v in temps.items()})
        sensors = self.sensors.quiet_plan(t[sl], readings, model[sl])
        limits = self._quiet_plan(t[sl], readings, setpoints_c)
        clear = sensors.clear & limits.clear
        pos = 0
        m = n - start
        while pos < m:
            blocked = np.flatnonzero(~clear[pos:])
            stop = pos + int(blocked[0]) if blocked.size else m
            sensors.apply(pos, stop)
            limits.apply(pos, stop)
            if stop >= m:
                break
            trips = self.evaluate(snap(start + stop))
            if trips:
                return start + stop, trips
            pos = stop + 1
        return n, []

    def _quiet_plan(self, t: np.ndarray, readings: Mapping[str, tuple[np.ndarray, str]],
                    setpoints_c: Mapping[str, float | None]) -> _QuietLimitPlan:
        """The limit checks of :meth:`evaluate_quiet` (all readings believed)."""
        n = t.size
        clear = np.ones(n, dtype=bool)
        hist: dict[str, tuple[deque[tuple[float, float]], np.ndarray]] = {}
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if "pressure" in readings:
                p = readings["pressure"][0]
                clear &= ~(p > self.max_pressure_bar)
                h = self._pressure
                span, count, slope, err = _window_slopes(h, t, p, self.window_s)
                armed = (count >= 3) & (span >= 0.5 * self.window_s)
                clear &= ~armed | (slope + err < self.max_rise_bar_min)
                hist["pressure"] = (h, p)
            for role, (v, unit) in readings.items():
                if unit == "bar":
                    continue
                h = self._temps.get(role, deque())  # installed by the plan's apply, as evaluate() would
                limit = self.limits_c.get(role)
                if limit is not None:
                    clear &= ~(v > limit)
                sp = setpoints_c.get(role)
                if sp is not None:
                    _, count, slope, err = _window_slopes(h, t, v, self.window_s)
                    above = v > sp + self.margin_c
                    clear &= ~(above & (count >= 3) & ~(slope + err <= 0.5))
                hist[role] = (h, v)
        return _QuietLimitPlan(self, t, hist, clear)

    def evaluate(self, snap: Snapshot) -> list[Trip]:
        """All interlocks tripped by ``snap`` (empty list: all clear)."""
        trips: list[Trip] = []
        if snap.stop_reason is not None:
            trips.append(Trip("emergency_stop", f"emergency stop: {snap.stop_reason}"))
        for role, msg in snap.lost.items():
            trips.append(Trip("lost_device", f"lost device {role}: {msg}", sensor=role))
        implausible, valid = self.sensors.evaluate(snap)
        trips += implausible
        pressures = {f"{r} pressure": float(v) for r, v in snap.pump_pressures_bar.items() if f"{r}.pressure" in valid}
        if "pressure" in valid:
            pressures["pressure"] = float(snap.pressure_bar)  # type: ignore[arg-type]
            self._push(self._pressure, snap.t_s, float(snap.pressure_bar))  # type: ignore[arg-type]
        if pressures:
            name, p = max(pressures.items(), key=lambda kv: kv[1])
            if p > self.max_pressure_bar:
                trips.append(Trip("overpressure", f"{name} {p:.2f} bar above the limit {self.max_pressure_bar:g} bar",
                                  p, self.max_pressure_bar, sensor=name.split()[0]))
        if "pressure" in valid:
            rise = self.pressure_rise_bar_min()
            if rise is not None and rise > self.max_rise_bar_min:
                trips.append(Trip("pressure_rise", f"pressure rising at {rise:.2f} bar/min (limit "
                                  f"{self.max_rise_bar_min:g} bar/min over {self.window_s:g} s): clog?",
                                  rise, self.max_rise_bar_min))
        for role, temp in snap.temperatures_c.items():
            if role not in valid:
                continue
            hist = self._temps.setdefault(role, deque())
            self._push(hist, snap.t_s, float(temp))
            limit = self.limits_c.get(role)
            if limit is not None and temp > limit:
                trips.append(Trip("overtemperature", f"{role} at {temp:.1f} °C above its limit {limit:g} °C",
                                  temp, limit))
                continue
            sp = snap.setpoints_c.get(role)
            if sp is not None and temp > sp + self.margin_c and len(hist) >= 3 and self._slope_per_min(hist) > 0.5:
                trips.append(Trip("overtemperature", f"{role} at {temp:.1f} °C and rising, {temp - sp:.1f} °C above "
                                  f"its set point {sp:g} °C (margin {self.margin_c:g} °C): heater runaway?",
                                  temp, sp + self.margin_c))
        for role, starved in snap.starved.items():
            if starved:
                trips.append(Trip("syringe_empty", f"{role}: active syringe nearly empty and no partner syringe "
                                  "ready to take over"))
        return trips


def _window_slopes(hist: deque[tuple[float, float]], t: np.ndarray, v: np.ndarray, window_s: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares slopes (per minute) of the trailing window after each new reading, as
    :meth:`Interlocks._slope_per_min` would compute them after :meth:`Interlocks._push`, with a bound on their
    difference from that computation.

    Returns the span of each window (its newest time less its oldest), the number of points in it, the slopes
    (NaN where the spread of times is zero) and the bound: a multiple (10³) of the first-order rounding-error
    bound of both summation orders, covering the centring of absolute times in the straightforward computation.
    """
    n = t.size
    k = len(hist)
    ht = np.concatenate((np.array([q[0] for q in hist], dtype=float), t))
    hv = np.concatenate((np.array([q[1] for q in hist], dtype=float), v))
    last = k + np.arange(n)
    first = np.searchsorted(ht, t - window_s - 1e-9, side="left")  # the trims of Interlocks._push
    first = np.minimum(first, last)
    count = last - first + 1
    width = int(count.max()) if n else 0
    cols = np.arange(width)
    mask = cols[None, :] < count[:, None]
    ix = np.minimum(first[:, None] + cols[None, :], last[:, None])
    tt = np.where(mask, ht[ix] - t[:, None], 0.0)  # relative to the newest reading (exact shift of origin)
    yy = np.where(mask, hv[ix], 0.0)
    tm = tt.sum(axis=1) / count
    ym = yy.sum(axis=1) / count
    dt = np.where(mask, tt - tm[:, None], 0.0)
    dy = np.where(mask, yy - ym[:, None], 0.0)
    denom = (dt * dt).sum(axis=1)
    num = (dt * dy).sum(axis=1)
    slope = np.where(denom > 0, num / np.where(denom > 0, denom, 1.0) * 60.0, np.nan)
    eps = np.finfo(float).eps
    scale_t = np.abs(ht[ix]).max(axis=1, initial=0.0) + np.abs(t)  # absolute times: the straightforward centring
    adt, ady = np.abs(dt), np.abs(dy)
    err_num = count * ((adt * ady).sum(axis=1) + scale_t * ady.sum(axis=1)
                       + np.abs(yy).max(axis=1, initial=0.0) * adt.sum(axis=1))
    err_den = count * (denom + 2.0 * scale_t * adt.sum(axis=1))
    bound = 1e3 * 4.0 * eps * 60.0 * (err_num + np.abs(slope) / 60.0 * err_den) / np.where(denom > 0, denom, 1.0)
    return ht[last] - ht[first], count, slope, np.where(denom > 0, bound, np.inf)


@dataclass
class _QuietLimitPlan:
    """Screened run of readings for the limit rules (:meth:`Interlocks.evaluate_quiet`)."""

    owner: Interlocks
    t: np.ndarray
    hist: dict[str, tuple[deque[tuple[float, float]], np.ndarray]]
    clear: np.ndarray

    def apply(self, a: int, b: int) -> None:
        """Push readings ``a..b-1`` to the histories and trim them as :meth:`Interlocks.evaluate` does."""
        if b <= a:
            return
        window = self.owner.window_s
        t_last = float(self.t[b - 1])
        lo = max(a, int(np.searchsorted(self.t[:b], t_last - window - 1e-9, side="left")))
        for name, (h, v) in self.hist.items():
            if name != "pressure":
                h = self.owner._temps.setdefault(name, h)
            if lo > a:
                h.clear()  # every earlier point falls out of the window too
            h.extend(zip(self.t[lo:b].tolist(), v[lo:b].tolist(), strict=True))
            while h and h[0][0] < t_last - window - 1e-9:
                h.popleft()
