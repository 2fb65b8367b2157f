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
