"""Sensor plausibility: a reading is believed only when it could be true.

The interlocks (:mod:`flowqd.platform.interlocks`) compare readings with limits; a sensor that lies defeats them —
a pressure transducer stuck at 0.01 bar lets a clog reach hundreds of bar, a NaN compares false with every limit.
:class:`SensorPlausibility` is fed every control period's readings (before the limit checks) and trips on:

==============  =========================================================================  ===================
rule            trips when                                                                 kind
==============  =========================================================================  ===================
invalid         a reading is not a finite number (NaN, ±inf, a bool or text from a driver)  sensor_invalid
range           pressure < ``sensor_min_bar`` or ≥ the transducer's ``max_bar``            sensor_range
                (saturated); temperature outside [``sensor_min_c``, ``sensor_max_c``]
rate            |ΔP/Δt| > ``max_pressure_step_bar_s`` or |ΔT/Δt| >                          sensor_rate
                ``max_temperature_step_c_min`` between two consecutive readings
stuck           after a set-point or flow change that should move the reading by more than  sensor_stuck
                5 noise bands, it stays within its band (``stuck_band_bar``,
                ``stuck_band_c``) for ``stuck_window_s``
disagreement    |inlet transducer − a pump's own outlet pressure| >                         sensor_disagreement
                ``pressure_agreement_bar`` (redundant signals)
model           inlet pressure below the hydraulic model for the commanded flows at the     sensor_model
                measured temperatures by more than ``pressure_model_tolerance_bar`` +
                ``pressure_model_fraction`` × model, flows steady for ``stuck_window_s``
==============  =========================================================================  ===================

The expected pressure change after a flow step and the model pressure come from
:meth:`flowqd.reactor.process.ProcessModel.pressure_drop_actual_bar` (laminar Hagen-Poiseuille drop with the
temperature-dependent viscosity of the stream; :mod:`flowqd.reactor.hydraulics`). A reading *above* the model is
left to the over-pressure and clog interlocks (a clog is exactly that). The heating boxes' controllers report no
output power, so no power-versus-temperature cross-check is made; a driver that adds one would add a rule here.

Every trip names the sensor (``Trip.sensor``) and the rule (``Trip.kind``).

Spectrometers are checked per reading by :meth:`SensorPlausibility.check_spectrum`: non-finite counts or values,
arrays that disagree in length with the wavelength axis, or a non-increasing axis trip ``spectrometer_bad_data``;
``max_saturated_spectra`` saturated readings in a row trip ``spectrometer_saturated``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PlausibilityLimits", "SensorPlausibility", "finite_reading_or_none"]

#: A change is "expected" when the model says the reading should move by more than this many noise bands.
EXPECTED_BANDS = 5.0


def finite_reading_or_none(value: Any) -> float | None:
    """``float(value)`` if a sensor reading is a finite real number (``bool`` and text are not), else ``None``.

    Stricter than :func:`flowqd.analysis.outcome.finite_or_none` (stored payloads), on purpose: a driver that
    returns ``True`` or ``"3"`` for a pressure is faulty, and the reading is treated as missing.

    >>> [finite_reading_or_none(v) for v in (1, float("nan"), True, "3")]
    [1.0, None, None, None]
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class PlausibilityLimits:
    """Thresholds of the plausibility rules (see the module docstring); built from the platform's
    ``[interlocks]`` table and the transducer's range by :meth:`from_config`."""

    sensor_min_bar: float = -1.0
    sensor_max_bar: float = 25.0
    sensor_min_c: float = -20.0
    sensor_max_c: float = 500.0
    max_pressure_step_bar_s: float = 5.0
    max_temperature_step_c_min: float = 60.0
    stuck_window_s: float = 120.0
    stuck_band_bar: float = 0.001
    stuck_band_c: float = 0.05
    pressure_agreement_bar: float = 1.0
    pressure_model_tolerance_bar: float = 1.0
    pressure_model_fraction: float = 0.5
    max_saturated_spectra: int = 3

    @classmethod
    def from_config(cls, interlocks: Any, sensor_max_bar: float) -> PlausibilityLimits:
        """From an :class:`~flowqd.platform.config.InterlockConfig` and ``devices.pressure.max_bar``."""
        names = [f for f in cls.__dataclass_fields__ if f != "sensor_max_bar"]
        return cls(sensor_max_bar=float(sensor_max_bar), **{n: getattr(interlocks, n) for n in names})

    def reading_range(self, bar: bool) -> tuple[float, float]:
        """``[low, high)`` of a believable pressure (``bar``) or temperature reading."""
        return (self.sensor_min_bar, self.sensor_max_bar) if bar else (self.sensor_min_c, self.sensor_max_c)

    def step_limit(self, bar: bool) -> float:
        """Largest believable rate of change: bar/s for pressure (``bar``), °C/min for temperature."""
        return self.max_pressure_step_bar_s if bar else self.max_temperature_step_c_min

    def stuck_band(self, sensor: str) -> float:
        """No change beyond this over the stuck window means ``sensor`` is stuck."""
        return self.stuck_band_bar if sensor == "pressure" else self.stuck_band_c

    def model_floor(self, model_bar: Any) -> Any:
        """Lowest believable inlet pressure for a hydraulic-model pressure (a float or an array of them)."""
        return model_bar - self.pressure_model_tolerance_bar - self.pressure_model_fraction * model_bar


def _commands(setpoints_c: Mapping[str, float | None], flows_ml_min: Mapping[str, float]) -> dict[str, float | None]:
    """The commands of one period, keyed ``<role>.setpoint`` / ``<role>.flow`` (a change opens stuck checks)."""
    return {**{f"{r}.setpoint": v for r, v in setpoints_c.items()}, **{f"{r}.flow": v for r, v in flows_ml_min.items()}}


@dataclass
class _Watch:
    """A pending stuck-sensor check: opened at a set-point/flow change that should move the reading."""

    since_s: float
    expected_change: float
    low: float
    high: float


class SensorPlausibility:
    """Stateful plausibility checks (keeps the last reading and the pending stuck checks of each sensor).

    Call :meth:`evaluate` once per control period with that period's snapshot, *before* the limit checks; it
    returns ``(trips, valid)``: the trips and the sensors whose readings may be believed this period.
    """

    def __init__(self, limits: PlausibilityLimits) -> None:
        self.limits = limits
        self._last: dict[str, tuple[float, float]] = {}
        self._watch: dict[str, _Watch] = {}
        self._commands: dict[str, float | None] | None = None
        self._steady_since_s: float | None = None
        self._saturated_in_row: dict[str, int] = {}
        self._last_model_bar: float | None = 0.0  # pumps are stopped before a run starts

    # ------------------------------------------------------------------------------------------------ readings
    def evaluate(self, snap: Any) -> tuple[list[Any], set[str]]:
        """Plausibility trips of one :class:`~flowqd.platform.interlocks.Snapshot` and the believable sensors."""
        from flowqd.platform.interlocks import Trip

        lim = self.limits
        trips: list[Trip] = []
        valid: set[str] = set()
        readings: dict[str, tuple[float | None, Any, str]] = {}
        if "pressure" not in snap.lost and snap.pressure_bar is not None:
            readings["pressure"] = (finite_reading_or_none(snap.pressure_bar), snap.pressure_bar, "bar")
        for role, value in snap.temperatures_c.items():
            readings[role] = (finite_reading_or_none(value), value, "°C")
        for role, value in snap.pump_pressures_bar.items():
            readings[f"{role}.pressure"] = (finite_reading_or_none(value), value, "bar")
        commands = _commands(snap.setpoints_c, snap.commanded_flows_ml_min)
        changed = commands != (self._commands or {})
        if changed or snap.model_pressure_bar is None:
            self._steady_since_s = snap.t_s
        for sensor, (value, raw, unit) in readings.items():
            if value is None:
                trips.append(Trip("sensor_invalid", f"{sensor} reading {raw!r} is not a finite number",
                                  sensor=sensor))
                self._last.pop(sensor, None)
                continue
            bar = unit == "bar"
            lo, hi = lim.reading_range(bar)
            if not lo <= value < hi:
                what = "saturated at the top of its range" if bar and value >= hi else "outside its physical range"
                trips.append(Trip("sensor_range", f"{sensor} reads {value:g} {unit}: {what} [{lo:g}, {hi:g}) {unit}",
                                  value, hi if value >= hi else lo, sensor=sensor))
                self._last.pop(sensor, None)
                continue
            prev = self._last.get(sensor)
            self._last[sensor] = (snap.t_s, value)
            if prev is not None and snap.t_s > prev[0]:
                dt_s = snap.t_s - prev[0]
                rate = abs(value - prev[1]) / dt_s * (1.0 if bar else 60.0)
                limit = lim.step_limit(bar)
                if rate > limit:
                    per = "bar/s" if bar else "°C/min"
                    trips.append(Trip("sensor_rate", f"{sensor} jumped {prev[1]:g} → {value:g} {unit} in {dt_s:g} s "
                                      f"({rate:.3g} {per}, limit {limit:g} {per})", rate, limit, sensor=sensor))
                    continue
            valid.add(sensor)
        trips += self._stuck(snap, commands, changed, readings)
        self._commands = commands
        self._last_model_bar = snap.model_pressure_bar
        trips += self._cross_checks(snap, valid)
        return trips, valid

    # ------------------------------------------------------------------------------------------------ quiet runs
    def commands_changed(self, setpoints_c: Mapping[str, float | None],
                         commanded_flows_ml_min: Mapping[str, float]) -> bool:
        """Whether these commands differ from those of the last evaluated reading (a change opens stuck checks)."""
        return _commands(setpoints_c, commanded_flows_ml_min) != (self._commands or {})

    def quiet_plan(self, times_s: np.ndarray, readings: Mapping[str, tuple[np.ndarray, str]],
                   model_pressure_bar: np.ndarray) -> _QuietSensorPlan:
        """Screen a run of readings under unchanged commands (see :meth:`Interlocks.evaluate_quiet`).

        ``readings``: sensor → (values over ``times_s``, unit ``"bar"`` or ``"°C"``); ``model_pressure_bar``: NaN
        where the model has no value. The plan's ``clear[i]`` is True where reading ``i`` certainly trips no
        rule, given that every earlier reading of the run tripped none (then each was believed, and the state
        moved exactly as :meth:`evaluate` moves it); :meth:`_QuietSensorPlan.apply` makes those state updates.
        Only exact float comparisons are used here (the same operations as :meth:`evaluate`).
        """
        lim = self.limits
        t = np.asarray(times_s, dtype=float)
        n = t.size
        clear = np.ones(n, dtype=bool)
        idx = np.arange(n)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            for sensor, (v, unit) in readings.items():
                bar = unit == "bar"
                lo, hi = lim.reading_range(bar)
                ok = np.isfinite(v) & (lo <= v) & (v < hi)
                pt, pv = np.empty(n), np.empty(n)
                pt[1:], pv[1:] = t[:-1], v[:-1]
                prev = self._last.get(sensor)
                has_prev = np.ones(n, dtype=bool)
                if prev is None:
                    has_prev[0] = False
                    pt[0] = pv[0] = np.nan
                else:
                    pt[0], pv[0] = prev
                rate = np.abs(v - pv) / (t - pt) * (1.0 if bar else 60.0)
                limit = lim.step_limit(bar)
                clear &= ok & ~(has_prev & (t > pt) & (rate > limit))
            watches: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
            for sensor, w in self._watch.items():
                if sensor not in readings:
                    continue  # not read in this run: the watch waits
                v = readings[sensor][0]
                lows = np.minimum.accumulate(np.concatenate(([w.low], v)))[1:]
                highs = np.maximum.accumulate(np.concatenate(([w.high], v)))[1:]
                band = lim.stuck_band(sensor)
                moved = highs - lows > band
                m = int(np.argmax(moved)) if moved.any() else n  # the watch ends (alive) here
                clear &= ~((idx < m) & (t - w.since_s >= lim.stuck_window_s))
                watches[sensor] = (lows, highs, m)
            model = np.asarray(model_pressure_bar, dtype=float)
            none = np.isnan(model)
            last_none = np.maximum.accumulate(np.where(none, idx, -1))
            start = np.nan if self._steady_since_s is None else self._steady_since_s
            steady_since = np.where(last_none >= 0, t[np.maximum(last_none, 0)], start)
            if "pressure" in readings:
                p = readings["pressure"][0]
                steady = t - steady_since >= lim.stuck_window_s  # NaN (never steady) compares False
                floor = lim.model_floor(model)
                clear &= ~(~none & steady & (p < floor))
        return _QuietSensorPlan(self, t, readings, model, steady_since, watches, clear)

    def _expected_changes(self, snap: Any, commands: dict[str, float | None]) -> dict[str, float]:
        """How far each sensor should move after the change of commands this period."""
        old = self._commands or {}
        out: dict[str, float] = {}
        for role, sp in snap.setpoints_c.items():
            t = finite_reading_or_none(snap.temperatures_c.get(role))
            if sp is not None and t is not None and old.get(f"{role}.setpoint") != sp:
                out[role] = abs(sp - t)
        if snap.model_pressure_bar is not None and self._last_model_bar is not None:
            out["pressure"] = abs(snap.model_pressure_bar - self._last_model_bar)
        return out

    def _stuck(self, snap: Any, commands: dict[str, float | None], changed: bool,
               readings: Mapping[str, tuple[float | None, Any, str]]) -> list[Any]:
        from flowqd.platform.interlocks import Trip

        lim = self.limits
        if changed:
            for sensor, delta in self._expected_changes(snap, commands).items():
                band = lim.stuck_band(sensor)
                value = readings.get(sensor, (None, None, ""))[0]
                if delta > EXPECTED_BANDS * band and value is not None:
                    self._watch[sensor] = _Watch(snap.t_s, delta, value, value)
        trips = []
        for sensor, w in list(self._watch.items()):
            value = readings.get(sensor, (None, None, ""))[0]
            if value is None:
                continue
            w.low, w.high = min(w.low, value), max(w.high, value)
            band = lim.stuck_band(sensor)
            unit = "bar" if sensor == "pressure" else "°C"
            if w.high - w.low > band:
                del self._watch[sensor]  # it moved: alive
            elif snap.t_s - w.since_s >= lim.stuck_window_s:
                del self._watch[sensor]
                trips.append(Trip("sensor_stuck", f"{sensor} stuck at {value:g} {unit}: no change beyond "
                                  f"±{band:g} {unit} in {lim.stuck_window_s:g} s after a change that should move it "
                                  f"by {w.expected_change:.3g} {unit}", value, band, sensor=sensor))
        return trips

    def _cross_checks(self, snap: Any, valid: set[str]) -> list[Any]:
        from flowqd.platform.interlocks import Trip

        lim = self.limits
        trips = []
        if "pressure" not in valid:
            return trips
        p = float(snap.pressure_bar)
        for role in snap.pump_pressures_bar:
            sensor = f"{role}.pressure"
            if sensor in valid and abs(float(snap.pump_pressures_bar[role]) - p) > lim.pressure_agreement_bar:
                q = float(snap.pump_pressures_bar[role])
                trips.append(Trip("sensor_disagreement", f"pressure transducer {p:.3g} bar and {role} pressure "
                                  f"{q:.3g} bar differ by more than {lim.pressure_agreement_bar:g} bar",
                                  abs(q - p), lim.pressure_agreement_bar, sensor="pressure"))
        model = snap.model_pressure_bar
        steady = self._steady_since_s is not None and snap.t_s - self._steady_since_s >= lim.stuck_window_s
        if model is not None and steady:
            floor = lim.model_floor(model)
            if p < floor:
                trips.append(Trip("sensor_model", f"pressure {p:.3g} bar below the hydraulic model {model:.3g} bar "
                                  f"for the measured flows and temperatures (floor {floor:.3g} bar)", p, floor,
                                  sensor="pressure"))
        return trips

    # ------------------------------------------------------------------------------------------------ spectra
    def check_spectrum(self, role: str, reading: Any) -> list[Any]:
        """Trips for one spectrometer reading (bad data now; saturation after ``max_saturated_spectra`` in a row)."""
        from flowqd.platform.interlocks import Trip

        problem = _bad_spectrum(reading)
        if problem is not None:
            return [Trip("spectrometer_bad_data", f"{role}: {problem}", sensor=role)]
        if bool(getattr(reading, "saturated", False)):
            n = self._saturated_in_row.get(role, 0) + 1
            self._saturated_in_row[role] = n
            if n >= self.limits.max_saturated_spectra:
                return [Trip("spectrometer_saturated", f"{role}: {n} saturated spectra in a row (detector at its full "
                             f"well; limit {self.limits.max_saturated_spectra})", float(n),
                             float(self.limits.max_saturated_spectra), sensor=role)]
        else:
            self._saturated_in_row[role] = 0
        return []


@dataclass
class _QuietSensorPlan:
    """Screened run of readings (:meth:`SensorPlausibility.quiet_plan`)."""

    owner: SensorPlausibility
    t: np.ndarray
    readings: Mapping[str, tuple[np.ndarray, str]]
    model: np.ndarray
    steady_since: np.ndarray
    watches: dict[str, tuple[np.ndarray, np.ndarray, int]]
    clear: np.ndarray

    def apply(self, a: int, b: int) -> None:
        """Move the state over readings ``a..b-1`` (all clear) exactly as :meth:`SensorPlausibility.evaluate`."""
        if b <= a:
            return
        o = self.owner
        last = b - 1
        t = float(self.t[last])
        for sensor, (v, _) in self.readings.items():
            o._last[sensor] = (t, float(v[last]))
        for sensor, (lows, highs, m) in self.watches.items():
            if m <= last:
                o._watch.pop(sensor, None)
            elif sensor in o._watch:
                w = o._watch[sensor]
                w.low, w.high = float(lows[last]), float(highs[last])
        since = float(self.steady_since[last])
        o._steady_since_s = None if math.isnan(since) else since
        model = float(self.model[last])
        o._last_model_bar = None if math.isnan(model) else model


def _bad_spectrum(reading: Any) -> str | None:
    """Why ``reading`` is not a usable spectrum, or ``None``."""
    try:
        wl = np.asarray(reading.wavelength_nm, dtype=float)
        counts = np.asarray(reading.counts, dtype=float)
        values = np.asarray(reading.spectrum.values, dtype=float)
    except (AttributeError, TypeError, ValueError) as exc:
        return f"malformed reading ({exc})"
    if wl.ndim != 1 or wl.size < 2:
        return f"wavelength axis of shape {wl.shape}"
    if counts.shape != wl.shape:
        return f"{counts.size} counts for {wl.size} wavelengths"
    for name, arr in (("wavelength", wl), ("counts", counts), ("processed values", values)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            return f"{bad} non-finite {name} (NaN/inf)"
    if not np.all(np.diff(wl) > 0):
        return "wavelength axis not strictly increasing"
    return None
