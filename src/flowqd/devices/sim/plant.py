"""The simulated plant: heating boxes, syringes, pressure, outlet composition — one state, one clock.

Every simulated device is a thin view on one :class:`SimPlant`. Whenever a device is asked anything, the plant
first integrates its physics from its last update to ``clock.now()`` in sub-steps of ``substep_s`` (0.25 s), so
the engine's control loop, the clock and the physics stay consistent without threads.

Physics (parameters in :class:`HeaterParams`, :class:`SyringeParams`):

* **heating box** — lumped thermal mass ``C dT/dt = P − h (T − T_amb)`` (aluminium block + cartridges), power
  ``0 ≤ P ≤ P_max`` from a PI controller (anti-wind-up) on a set point ramped at ``ramp_c_min``;
* **syringe** — delivered flow follows the command with a first-order lag ``tau_s`` after a dead time
  ``start_delay_s`` from standstill (drive backlash / compliance: the *switch transient*); volume bookkeeping;
  refill from a finite reservoir at ``refill_flow_ml_min``;
* **pressure** — the reactor's laminar pressure drop at the measured flows and block temperatures
  (:class:`~flowqd.reactor.process.ProcessModel`) plus a clog term rising at ``inject_clog(rate)``;
* **outlet** — a new *product segment* (a plug) starts when every block in use is within 2 °C of its set point and
  the commanded flows change by more than 5 % (set points, never transient delivered flows); the flow cell sees
  the twin's spectrum of each segment weighted by the RTD, ``w_k = F(t − t_k) − F(t − t_{k+1})`` (F: the reactor's
  cumulative particle RTD). Before the first segment the cell holds clear stock.
* **plug product** — what a plug carries is decided by its own history, not by the set point: its residence time
  in the core box is the time the pumps took to deliver one box volume after it entered,
  ``τ_k = t(V_k + V_box) − t_k`` (``V`` the delivered volume; until that volume has passed, the mean delivered flow
  since ``t_k``), so zero flow, ramps, hand-over dips and stagnant plugs all give a plug a definite residence
  time ``V_box/q̄_k``. The twin is asked at the set-point temperature and ``q̄_k`` (snapped to the set point within
  2 %, else on a 1 % logarithmic grid so transients share predictions). A plug whose ``q̄`` lies outside the twin's
  calibrated flow range is given the prediction at the nearest end of that range (the twin does not extend beyond
  it) and counted in :attr:`SimPlant.extrapolated_plugs` — simulated, never rejected: validation is for set points.
* **material** — every stream's reservoir + syringes + delivered volume is constant (:meth:`SimPlant.material_ml`).
* **quiet intervals** — :meth:`SimPlant.quiet_until_s` and :meth:`SimPlant.jump` let an event-driven clock cross
  an interval in which nothing but time changes (heaters at their fixed point, flows at their commands, no refill,
  no fault) in one analytic step; see :mod:`flowqd.devices.sim.forward`.

Fault injection: :meth:`SimPlant.inject_clog`, :meth:`SimPlant.inject_runaway`, :meth:`SimPlant.inject_timeout`,
:meth:`SimPlant.inject_refill_failure`; :meth:`SimPlant.schedule` runs any of them at a given simulated time.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowqd.devices.clock import Clock
from flowqd.devices.protocols import DeviceTimeout
from flowqd.devices.sim.predictions import PredictionCache
from flowqd.reactor.conditions import Conditions
from flowqd.reactor.geometry import PUMP_RANGE_ML_MIN
from flowqd.reactor.process import ProcessModel

__all__ = ["HeaterParams", "SimPlant", "SyringeParams"]

#: A heater counts as settled (jump-able) within this many °C of its set point, with |dT/dt| below it per 100 s.
_SETTLED_C = 0.01
#: A delivered flow counts as equal to its command within this relative difference.
_FLOW_RTOL = 1e-4
#: Longest stepped fast-forward, s.
_STEPPED_MAX_S = 60.0
#: A plug's mean flow within this fraction of its set point is predicted at the set point.
_SNAP_RTOL = 0.02
#: Plugs off the set point are predicted on a logarithmic flow grid of this ratio (transients share predictions).
_FLOW_GRID_RATIO = 1.01


@dataclass(frozen=True)
class HeaterParams:
    """Lumped heating-box model (defaults: ~1.7 kg Al block with three cartridges)."""

    capacity_j_k: float = 1500.0
    loss_w_k: float = 1.2
    max_power_w: float = 450.0
    kp_w_k: float = 40.0
    ki_w_k_s: float = 0.25
    noise_c: float = 0.05


@dataclass(frozen=True)
class SyringeParams:
    """One syringe drive."""

    volume_ml: float = 2.5
    tau_s: float = 4.0
    start_delay_s: float = 3.0
    refill_flow_ml_min: float = 5.0


@dataclass
class _Heater:
    name: str
    params: HeaterParams
    temperature_c: float
    setpoint_c: float
    ramped_c: float
    ramp_c_min: float
    enabled: bool = False
    integral_w: float = 0.0
    runaway: bool = False


@dataclass
class _Syringe:
    name: str
    params: SyringeParams
    reservoir: str
    volume_ml: float
    stream: str = "core"
    command_ml_min: float = 0.0
    flow_ml_min: float = 0.0
    started_at_s: float = -math.inf
    refilling: bool = False
    refill_broken: bool = False


@dataclass(frozen=True)
class _Commanded:
    """What the devices were commanded while a plug entered: block set points (°C) and stream flows (mL/min).

    Device state, not a model set point: a block may be commanded to 60 °C (no product), which
    :class:`~flowqd.reactor.conditions.Conditions` refuses. A plug's product is a ``Conditions``
    (:meth:`SimPlant._plug_point`). The shell fields are read only when ``shell``.
    """

    core_temperature_c: float
    core_flow_ml_min: float
    core_units: int
    shell: bool = False
    shell_temperature_c: float = 0.0
    ddt_flow_ml_min: float = 0.0
    shell_units: int = 1


@dataclass
class _Segment:
    t_start_s: float
    key: _Commanded | None
    core_ml: float = 0.0  # delivered core volume when the plug entered
    ddt_ml: float = 0.0


@dataclass(frozen=True)
class _ClearOutlet:
    """What a ``no_dots`` failure region puts out: no absorbance, no PL."""

    absorbance_wavelength_nm: np.ndarray
    pl_wavelength_nm: np.ndarray
    plqy: float = float("nan")

    @property
    def absorbance(self) -> np.ndarray:
        return np.zeros_like(self.absorbance_wavelength_nm)

    @property
    def pl_intensity(self) -> np.ndarray:
        return np.zeros_like(self.pl_wavelength_nm)


@dataclass
class FlowSample:
    """One sub-step of the delivered flows (kept when ``record_flows`` is on)."""

    t_s: float
    core_ml_min: float
    ddt_ml_min: float


@dataclass
class SimPlant:
    """State and physics of the simulated platform.

    Parameters
    ----------
    clock : Clock
    process : ProcessModel
        Hydraulics and RTD of the reactor train.
    twin : object
        ``predict(conditions)`` (a :class:`~flowqd.reactor.conditions.Conditions`) returning absorbance (1 mm
        path) and PL spectra (the digital twin or the surrogate).
    ambient_c : float
    substep_s : float
    seed : int
    """

    clock: Clock
    process: ProcessModel
    twin: Any
    ambient_c: float = 25.0
    substep_s: float = 0.25
    seed: int = 0
    twin_path_mm: float = 1.0
    pressure_noise_bar: float = 0.002
    record_flows: bool = False
    reaction_min_c: float = 100.0
    flow_range_ml_min: tuple[float, float] = PUMP_RANGE_ML_MIN
    heaters: dict[str, _Heater] = field(default_factory=dict)
    syringes: dict[str, _Syringe] = field(default_factory=dict)
    reservoirs_ml: dict[str, float] = field(default_factory=dict)
    valve_position: str = "waste"
    flow_log: list[FlowSample] = field(default_factory=list)
    core_units: int = 1
    shell_units: int = 1
    #: Relative Gaussian noise on every simulated absorbance value (``[sim] measurement_noise``).
    measurement_noise: float = 0.0
    #: Failure model: ``no_dots(core_temperature_c, core_flow_ml_min)`` → the outlet stays clear there.
    no_dots: Callable[[float, float], bool] | None = None

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.t_s = self.clock.now()
        self._clog_bar = 0.0
        self._clog_rate_bar_s = 0.0
        self._dead: set[str] = set()
        self._segments: list[_Segment] = [_Segment(-math.inf, None)]
        self.predictions = PredictionCache(self.twin)
        self.delivered_ml: dict[str, float] = {"core": 0.0, "ddt": 0.0}
        self._hist_t: list[float] = [self.t_s]
        self._hist_core: list[float] = [0.0]
        self._hist_ddt: list[float] = [0.0]
        self._box_ml: dict[int, float] = {}
        self._scheduled: list[tuple[float, int, Callable[[], Any]]] = []
        self._order = itertools.count()
        self._advancing = False
        self._analytic = False
        self._drawn: tuple[Any, np.ndarray, int] | None = None
        self._rewind: tuple[Any, ...] | None = None
        #: Plugs whose mean flow lay outside the twin's flow range (predicted at the range's nearest end).
        self.extrapolated_plugs = 0
        #: The platform's :class:`~flowqd.devices.clock.FastForward` (set by ``build_sim_devices``).
        self.fast_forward: Any = None
        self.core_syringes: tuple[str, ...] = ()
        self.ddt_syringes: tuple[str, ...] = ()
        self.core_box = self.process.core_box
        self.shell_box = self.process.shell_box

    # -- construction -----------------------------------------------------------------------------------------
    def add_heater(self, name: str, params: HeaterParams, ramp_c_min: float) -> None:
        """Add a heating box at ambient temperature, output off."""
        self.heaters[name] = _Heater(name, params, self.ambient_c, self.ambient_c, self.ambient_c, ramp_c_min)

    def add_syringe(self, name: str, params: SyringeParams, reservoir: str, stream: str) -> None:
        """Add a full syringe fed from ``reservoir``; ``stream`` is ``"core"`` or ``"ddt"``."""
        self.syringes[name] = _Syringe(name, params, reservoir, params.volume_ml, stream)
        if stream == "core":
            self.core_syringes += (name,)
        else:
            self.ddt_syringes += (name,)

    # -- faults --------------------------------------------------------------------------------------------------
    def inject_clog(self, rate_bar_per_min: float) -> None:
        """Start a clog: the pressure rises by ``rate_bar_per_min`` from now on (0 freezes it)."""
        self.advance()
        self._clog_rate_bar_s = float(rate_bar_per_min) / 60.0

    def inject_runaway(self, heater: str) -> None:
        """Heater runaway: the output sticks at full power until the output is switched off (``stop``)."""
        self.advance()
        self.heaters[heater].runaway = True

    def inject_timeout(self, device: str) -> None:
        """The device ``device`` stops answering (its calls raise :class:`DeviceTimeout`)."""
        self._dead.add(device)

    def clear_timeout(self, device: str) -> None:
        """The device answers again."""
        self._dead.discard(device)

    def inject_refill_failure(self, syringe: str) -> None:
        """The syringe's refill valve is stuck: refills do nothing (e.g. an empty or blocked reservoir line)."""
        self.syringes[syringe].refill_broken = True

    def schedule(self, t_s: float, action: Callable[[], Any]) -> None:
        """Run ``action`` (e.g. ``lambda: plant.inject_clog(5.0)``) when the physics reaches ``t_s``.

        Scheduled actions bound :meth:`quiet_until_s`, so an event-driven clock meets them at the same instant as a
        tick-by-tick one.
        """
        heapq.heappush(self._scheduled, (float(t_s), next(self._order), action))

    def check_alive(self, device: str) -> None:
        """Raise :class:`DeviceTimeout` when ``device`` was made to stop answering."""
        if device in self._dead:
            raise DeviceTimeout(f"{device}: no answer (simulated time-out)")

    # -- physics -------------------------------------------------------------------------------------------------
    def advance(self) -> None:
        """Integrate the physics up to ``clock.now()`` (running scheduled actions on the way)."""
        self._advance_to(self.clock.now())

    def _advance_to(self, t_end: float) -> None:
        if self._advancing:  # an action calling back into the plant
            return
        self._advancing = True
        try:
            while True:
                self._run_due()
                if self.t_s >= t_end - 1e-9:
                    break
                t_stop = min(t_end, self._scheduled[0][0]) if self._scheduled else t_end
                while self.t_s < t_stop - 1e-9:
                    dt = min(self.substep_s, t_stop - self.t_s)
                    self._step(dt)
                    self.t_s += dt
        finally:
            self._advancing = False

    def _run_due(self) -> None:
        while self._scheduled and self._scheduled[0][0] <= self.t_s + 1e-9:
            _, _, action = heapq.heappop(self._scheduled)
            action()

    def _step(self, dt: float) -> None:
        for h in self.heaters.values():
            self._step_heater(h, dt)
        for s in self.syringes.values():
            self._step_syringe(s, dt)
        self._clog_bar += self._clog_rate_bar_s * dt
        self._hist_t.append(self.t_s + dt)
        self._hist_core.append(self.delivered_ml["core"])
        self._hist_ddt.append(self.delivered_ml["ddt"])
        self._update_segment(self.t_s + dt)
        if self.record_flows:
            self.flow_log.append(FlowSample(self.t_s + dt, self.stream_flow_ml_min("core"),
                                            self.stream_flow_ml_min("ddt")))

    def _step_heater(self, h: _Heater, dt: float) -> None:
        p = h.params
        if h.enabled:
            step = h.ramp_c_min / 60.0 * dt
            h.ramped_c += max(-step, min(step, h.setpoint_c - h.ramped_c))
        if h.runaway:
            power = p.max_power_w
        elif h.enabled:
            error = h.ramped_c - h.temperature_c
            u = p.kp_w_k * error + h.integral_w
            if 0.0 < u < p.max_power_w or (u >= p.max_power_w and error < 0) or (u <= 0 and error > 0):
                h.integral_w += p.ki_w_k_s * error * dt
            power = min(max(p.kp_w_k * error + h.integral_w, 0.0), p.max_power_w)
        else:
            power = 0.0
        h.temperature_c += (power - p.loss_w_k * (h.temperature_c - self.ambient_c)) / p.capacity_j_k * dt

    def _step_syringe(self, s: _Syringe, dt: float) -> None:
        p = s.params
        if s.refilling:
            s.flow_ml_min = 0.0
            if s.refill_broken:
                return
            want = min(p.refill_flow_ml_min * dt / 60.0, p.volume_ml - s.volume_ml,
                       self.reservoirs_ml.get(s.reservoir, 0.0))
            s.volume_ml += want
            self.reservoirs_ml[s.reservoir] = self.reservoirs_ml.get(s.reservoir, 0.0) - want
            if s.volume_ml >= p.volume_ml - 1e-9 or self.reservoirs_ml[s.reservoir] <= 1e-12:
                s.refilling = False
            return
        target = s.command_ml_min if self.t_s >= s.started_at_s + p.start_delay_s else 0.0
        if s.volume_ml <= 0.0:
            target = 0.0
        s.flow_ml_min += (target - s.flow_ml_min) * (1.0 - math.exp(-dt / p.tau_s))
        if s.command_ml_min == 0.0 and s.flow_ml_min < 1e-6:
            s.flow_ml_min = 0.0
        used = s.flow_ml_min * dt / 60.0
        if used >= s.volume_ml:
            self.delivered_ml[s.stream] += s.volume_ml
            s.volume_ml = 0.0
            s.flow_ml_min = 0.0
        else:
            s.volume_ml -= used
            self.delivered_ml[s.stream] += used

    # -- quiet intervals (event-driven clock) ---------------------------------------------------------------------
    def _heater_settled(self, h: _Heater) -> bool:
        p = h.params
        if h.runaway:
            return False
        if not h.enabled:
            return abs(h.temperature_c - self.ambient_c) <= _SETTLED_C
        if h.ramped_c != h.setpoint_c:
            return False
        error = h.ramped_c - h.temperature_c
        power = min(max(p.kp_w_k * error + h.integral_w, 0.0), p.max_power_w)
        dtdt = (power - p.loss_w_k * (h.temperature_c - self.ambient_c)) / p.capacity_j_k
        fixed = p.loss_w_k * (h.setpoint_c - self.ambient_c)
        return abs(error) <= _SETTLED_C and abs(dtdt) * 100.0 <= _SETTLED_C and 0.0 < fixed < p.max_power_w

    def quiet_until_s(self, t_limit_s: float) -> float:
        """Latest time ≤ ``t_limit_s`` up to which no device needs servicing (``self.t_s`` when not now).

        Bounded by a timed-out device (not quiet at all), the next scheduled action and the first syringe running
        dry (the pumps bound the hand-overs themselves). Inside it the state is either *analytic* — every heater
        at its fixed point (the PI's settled state, within 0.01 °C, a fifth of the sensor noise) or off and at
        ambient, every syringe at rest, refilling, or delivering its command after its start transient (within
        1e-4) — and is crossed in one step, or it is *stepped*: the same sub-step physics as tick by tick (a
        heater ramping or running away, a syringe accelerating), without the engine's per-period device calls.
        """
        self.advance()
        t = self.t_s
        if self._dead:
            return t
        analytic = all(self._heater_settled(h) for h in self.heaters.values())
        horizon = float(t_limit_s)
        if self._scheduled:
            horizon = min(horizon, self._scheduled[0][0])
        for sy in self.syringes.values():
            if sy.refilling:  # linear refill: analytic until it ends (full, or the reservoir empty)
                room = min(sy.params.volume_ml - sy.volume_ml, self.reservoirs_ml.get(sy.reservoir, 0.0))
                if sy.refill_broken or room <= 0.0:
                    analytic = False
                else:
                    horizon = min(horizon, t + room / sy.params.refill_flow_ml_min * 60.0)
                continue
            if sy.command_ml_min == 0.0:
                analytic = analytic and sy.flow_ml_min == 0.0
                continue
            if sy.volume_ml <= 0.0:
                return t
            if (t < sy.started_at_s + sy.params.start_delay_s
                    or abs(sy.flow_ml_min - sy.command_ml_min) > _FLOW_RTOL * sy.command_ml_min):
                analytic = False
            horizon = min(horizon, t + sy.volume_ml / max(sy.command_ml_min, sy.flow_ml_min) * 60.0)
        self._analytic = analytic
        if not analytic:  # an early stop (trip, band reached) re-steps from the start: keep stepped runs short
            horizon = min(horizon, t + _STEPPED_MAX_S)
        return max(horizon, t)

    def quiet_readings(self, times_s: np.ndarray, heaters: Iterable[str], *,
                       pressure_max_bar: float | None) -> dict[str, Any]:
        """Sensor and syringe values at ``times_s`` (inside :meth:`quiet_until_s`); follow with :meth:`jump`.

        Analytic: nothing moves until :meth:`jump`. Stepped: the physics is stepped to the last instant already
        (``jump`` to an earlier instant steps again from the start).

        The sensor noise is drawn in the order a control period reads the sensors (pressure, then each heater),
        so the random stream is the tick-by-tick one. Returns a dict: ``pressure_bar`` (array or None),
        ``temperatures_c`` {heater: array}, ``flows_ml_min`` and ``volumes_ml`` {syringe: array}.
        """
        times = np.asarray(times_s, dtype=float)
        names = list(heaters)
        cols = (1 if pressure_max_bar is not None else 0) + len(names)
        self._drawn = (self.rng.bit_generator.state, times, cols)  # rewound by jump() when stopped early
        z = self.rng.normal(0.0, 1.0, size=(times.size, cols))
        if self._analytic:
            levels = {n: np.full(times.size, self.heaters[n].setpoint_c if self.heaters[n].enabled
                                 else self.heaters[n].temperature_c) for n in names}
            base = self._pressure_deterministic_bar() + self._clog_rate_bar_s * (times - self.t_s)
            flows = {k: np.full(times.size, sy.command_ml_min if sy.command_ml_min > 0 else 0.0)
                     for k, sy in self.syringes.items()}
            volumes = {}
            for k, sy in self.syringes.items():
                if sy.refilling:
                    volumes[k] = np.minimum(sy.volume_ml + sy.params.refill_flow_ml_min * (times - self.t_s) / 60.0,
                                            sy.params.volume_ml)
                else:
                    volumes[k] = sy.volume_ml - flows[k] * (times - self.t_s) / 60.0
        else:
            levels, base, flows, volumes = self._step_through(times, names)
        out: dict[str, Any] = {"pressure_bar": None, "flows_ml_min": flows, "volumes_ml": volumes}
        j = 0
        if pressure_max_bar is not None:
            out["pressure_bar"] = np.minimum(base + self.pressure_noise_bar * z[:, 0], pressure_max_bar)
            j = 1
        out["temperatures_c"] = {n: levels[n] + self.heaters[n].params.noise_c * z[:, j + k]
                                 for k, n in enumerate(names)}
        return out

    def _save(self) -> tuple[Any, ...]:
        return ({k: dataclasses.replace(h) for k, h in self.heaters.items()},
                {k: dataclasses.replace(sy) for k, sy in self.syringes.items()}, dict(self.reservoirs_ml),
                dict(self.delivered_ml), self._clog_bar, self.t_s, len(self._hist_t), len(self._segments),
                len(self.flow_log), self.extrapolated_plugs)

    def _restore(self, saved: tuple[Any, ...]) -> None:
        heaters, syringes, reservoirs, delivered, clog, t_s, n_hist, n_seg, n_log, n_extra = saved
        for k, h in heaters.items():
            self.heaters[k].__dict__.update(h.__dict__)
        for k, sy in syringes.items():
            self.syringes[k].__dict__.update(sy.__dict__)
        self.reservoirs_ml, self.delivered_ml, self._clog_bar, self.t_s = reservoirs, delivered, clog, t_s
        del self._hist_t[n_hist:], self._hist_core[n_hist:], self._hist_ddt[n_hist:]
        del self._segments[n_seg:], self.flow_log[n_log:]
        self.extrapolated_plugs = n_extra

    def _step_through(self, times: np.ndarray, names: list[str]) -> tuple[
            dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Step the physics through ``times`` recording the readings (the state is kept, with a way back for an
        early stop: :meth:`jump` restores the start and steps to the stop)."""
        self._rewind = self._save()
        n = times.size
        temps = {k: np.empty(n) for k in names}
        flows = {k: np.empty(n) for k in self.syringes}
        volumes = {k: np.empty(n) for k in self.syringes}
        base = np.empty(n)
        for i, ti in enumerate(times):
            while self.t_s < ti - 1e-9:
                dt = min(self.substep_s, ti - self.t_s)
                self._step(dt)
                self.t_s += dt
            for k in names:
                temps[k][i] = self.heaters[k].temperature_c
            for k, sy in self.syringes.items():
                flows[k][i] = sy.flow_ml_min
                volumes[k][i] = sy.volume_ml
            base[i] = self._pressure_deterministic_bar()
        return temps, base, flows, volumes

    def jump(self, t_s: float) -> None:
        """Cross a quiet interval to ``t_s`` (call only up to :meth:`quiet_until_s`).

        Analytic: in one step — heaters go to the fixed point they were settling on, syringes deliver their
        commands or refill linearly, the clog grows linearly, the delivered volumes are booked. Stepped: the
        sub-step physics up to ``t_s``. Noise drawn by :meth:`quiet_readings` for instants after ``t_s`` is
        given back to the random stream.
        """
        if self._drawn is not None:
            state, times, cols = self._drawn
            self._drawn = None
            k = int(np.searchsorted(times, float(t_s) + 1e-9))
            if k < times.size:
                self.rng.bit_generator.state = state
                self.rng.normal(0.0, 1.0, size=(k, cols))
        if not self._analytic:
            if self._rewind is not None and float(t_s) < self.t_s - 1e-9:
                self._restore(self._rewind)
            self._rewind = None
            self._advance_to(float(t_s))
            return
        dt = float(t_s) - self.t_s
        if dt <= 0:
            return
        for h in self.heaters.values():
            if h.enabled:
                h.temperature_c = h.ramped_c = h.setpoint_c
                h.integral_w = h.params.loss_w_k * (h.setpoint_c - self.ambient_c)
        for sy in self.syringes.values():
            if sy.refilling:
                want = min(sy.params.refill_flow_ml_min * dt / 60.0, sy.params.volume_ml - sy.volume_ml,
                           self.reservoirs_ml.get(sy.reservoir, 0.0))
                sy.volume_ml += want
                self.reservoirs_ml[sy.reservoir] = self.reservoirs_ml.get(sy.reservoir, 0.0) - want
                if sy.volume_ml >= sy.params.volume_ml - 1e-9 or self.reservoirs_ml[sy.reservoir] <= 1e-12:
                    sy.refilling = False
            elif sy.command_ml_min > 0.0:
                sy.flow_ml_min = sy.command_ml_min
                used = min(sy.command_ml_min * dt / 60.0, sy.volume_ml)
                sy.volume_ml -= used
                self.delivered_ml[sy.stream] += used
        self._clog_bar += self._clog_rate_bar_s * dt
        self.t_s = float(t_s)
        self._hist_t.append(self.t_s)
        self._hist_core.append(self.delivered_ml["core"])
        self._hist_ddt.append(self.delivered_ml["ddt"])
        self._update_segment(self.t_s)
        if self.record_flows:
            self.flow_log.append(FlowSample(self.t_s, self.stream_flow_ml_min("core"),
                                            self.stream_flow_ml_min("ddt")))

    # -- syringe commands ---------------------------------------------------------------------------------------
    def set_syringe_flow(self, name: str, flow_ml_min: float) -> None:
        """Command a dispense flow (0 stops, with the drive's deceleration lag)."""
        self.advance()
        s = self.syringes[name]
        if flow_ml_min > 0 and (s.command_ml_min == 0.0 or s.refilling):
            s.started_at_s = self.t_s
        s.refilling = False
        s.command_ml_min = float(flow_ml_min)

    def stop_syringe(self, name: str) -> None:
        """Stop at once (dispense and refill)."""
        self.advance()
        s = self.syringes[name]
        s.command_ml_min = 0.0
        s.flow_ml_min = 0.0
        s.refilling = False

    def refill_syringe(self, name: str) -> None:
        """Start a refill from the reservoir (the dispense command is dropped)."""
        self.advance()
        s = self.syringes[name]
        s.command_ml_min = 0.0
        s.flow_ml_min = 0.0
        s.refilling = s.volume_ml < s.params.volume_ml - 1e-9

    def stream_flow_ml_min(self, stream: str) -> float:
        """Delivered flow of a stream (``"core"`` or ``"ddt"``), mL/min."""
        names = self.core_syringes if stream == "core" else self.ddt_syringes
        return float(sum(self.syringes[n].flow_ml_min for n in names))

    def stream_command_ml_min(self, stream: str) -> float:
        """Commanded flow of a stream, mL/min."""
        names = self.core_syringes if stream == "core" else self.ddt_syringes
        return float(sum(self.syringes[n].command_ml_min for n in names))

    def material_ml(self, stream: str) -> float:
        """Reservoir + syringes + delivered volume of a stream, mL (constant: nothing is created or lost)."""
        names = self.core_syringes if stream == "core" else self.ddt_syringes
        reservoirs = {self.syringes[n].reservoir for n in names}
        return float(sum(self.reservoirs_ml.get(r, 0.0) for r in reservoirs)
                     + sum(self.syringes[n].volume_ml for n in names) + self.delivered_ml[stream])

    # -- pressure ------------------------------------------------------------------------------------------------
    @property
    def clog_bar(self) -> float:
        """Pressure added by the clog so far, bar."""
        return self._clog_bar

    def pressure_bar(self, noisy: bool = True) -> float:
        """Inlet gauge pressure: laminar ΔP at measured flows and temperatures + clog (+ sensor noise), bar."""
        self.advance()
        p = self._pressure_deterministic_bar()
        if noisy:
            p += float(self.rng.normal(0.0, self.pressure_noise_bar))
        return p

    def _pressure_deterministic_bar(self) -> float:
        core = self.heaters.get(self.core_box)
        shell_h = self.heaters.get(self.shell_box) if self.shell_box else None
        ddt = self.stream_flow_ml_min("ddt")
        shell = ddt > 0 and shell_h is not None
        dp = self.process.pressure_drop_actual_bar(
            self.stream_flow_ml_min("core"), core.temperature_c if core else self.ambient_c,
            ddt_flow_ml_min=ddt if shell else 0.0, shell=shell,
            shell_temperature_c=shell_h.temperature_c if shell_h else self.ambient_c,
            core_units=self.core_units, shell_units=self.shell_units)
        return float(dp + self._clog_bar)

    # -- outlet composition ------------------------------------------------------------------------------------
    def _current_point(self) -> _Commanded | None:
        """The set points the reactor is making product at now, or ``None`` (no flow, a block off its set point).

        At a point = the core stream commanded to flow and every block in use within 2 °C of its set point. The
        flows are the *commanded* stream flows (3 significant digits): a plug is identified by set points; what
        it carries follows from its own flow history (:meth:`_plug_point`).
        """
        core_h = self.heaters.get(self.core_box)
        q_core = self.stream_command_ml_min("core")
        if core_h is None or not core_h.enabled or q_core <= 0:
            return None
        if abs(core_h.temperature_c - core_h.setpoint_c) > 2.0:
            return None
        q_ddt = self.stream_command_ml_min("ddt")
        shell_h = self.heaters.get(self.shell_box) if self.shell_box else None
        shell = q_ddt > 0 and shell_h is not None and shell_h.enabled
        core = (round(core_h.setpoint_c, 3), float(f"{q_core:.3g}"), self.core_units)
        if not shell:
            return _Commanded(*core, shell_units=self.shell_units)
        assert shell_h is not None
        if abs(shell_h.temperature_c - shell_h.setpoint_c) > 2.0:
            return None
        return _Commanded(*core, True, round(shell_h.setpoint_c, 3), float(f"{q_ddt:.3g}"), self.shell_units)

    @staticmethod
    def _same_point(a: _Commanded | None, b: _Commanded | None) -> bool:
        if a is None or b is None:
            return a is b
        if a.shell != b.shell or a.core_units != b.core_units or a.shell_units != b.shell_units:
            return False
        if abs(a.core_temperature_c - b.core_temperature_c) > 0.5:
            return False
        if abs(a.core_flow_ml_min - b.core_flow_ml_min) > 0.05 * b.core_flow_ml_min:
            return False
        if a.shell:
            if abs(a.shell_temperature_c - b.shell_temperature_c) > 0.5:
                return False
            if abs(a.ddt_flow_ml_min - b.ddt_flow_ml_min) > 0.05 * b.ddt_flow_ml_min:
                return False
        return True

    def _update_segment(self, t_s: float) -> None:
        point = self._current_point()
        if point is not None and not self._same_point(point, self._segments[-1].key):
            self._segments.append(_Segment(t_s, point, self.delivered_ml["core"], self.delivered_ml["ddt"]))

    # -- plugs ---------------------------------------------------------------------------------------------------
    def _box_volume_ml(self, core_units: int) -> float:
        v = self._box_ml.get(core_units)
        if v is None:
            train = self.process.train.with_units(self.core_box, int(core_units))
            stage = train.section(self.core_box)
            v = float(sum(t.volume_ml for t in stage.tubes))  # type: ignore[union-attr]
            self._box_ml[core_units] = v
        return v

    def _mean_flows(self, seg: _Segment) -> tuple[float, float]:
        """Mean delivered (core, DDT) flows over the plug's stay in the core box (so far), mL/min."""
        key = seg.key
        assert key is not None
        target = seg.core_ml + self._box_volume_ml(key.core_units)
        hist_t, hist_c = self._hist_t, self._hist_core
        if hist_c[-1] >= target:
            j = bisect.bisect_left(hist_c, target)  # the first sample at which the box volume had passed
            if j == 0:
                t_x = hist_t[0]
            else:
                c0, c1 = hist_c[j - 1], hist_c[j]
                t_x = hist_t[j - 1] + (target - c0) / (c1 - c0) * (hist_t[j] - hist_t[j - 1])
        else:
            t_x = self.t_s
        span_s = t_x - seg.t_start_s
        if span_s <= 1e-9:
            return key.core_flow_ml_min, key.ddt_flow_ml_min if key.shell else 0.0
        # np.interp on the samples around t_x only: the same bracketing pair, so the same value, without converting
        # the whole history (hours of 0.25 s sub-steps) to an array at every call
        lo, hi = max(bisect.bisect_left(hist_t, t_x) - 1, 0), bisect.bisect_right(hist_t, t_x) + 1
        near_t = hist_t[lo:hi]
        core = (float(np.interp(t_x, near_t, hist_c[lo:hi])) - seg.core_ml) / span_s * 60.0
        ddt = (float(np.interp(t_x, near_t, self._hist_ddt[lo:hi])) - seg.ddt_ml) / span_s * 60.0
        return core, ddt

    def _plug_flow(self, q_ml_min: float, set_ml_min: float) -> float:
        """The flow a plug is predicted at: its set point within 2 %, else on the 1 % log grid, inside the range."""
        if set_ml_min > 0 and abs(q_ml_min / set_ml_min - 1.0) <= _SNAP_RTOL:
            return set_ml_min
        lo, hi = self.flow_range_ml_min
        if not lo <= q_ml_min <= hi:
            self.extrapolated_plugs += 1
            return lo if q_ml_min < lo else hi
        step = math.log(_FLOW_GRID_RATIO)
        return float(f"{math.exp(round(math.log(q_ml_min) / step) * step):.4g}")

    def _plug_point(self, seg: _Segment) -> Conditions | None:
        """The operating point whose product the plug carries: set-point temperatures, its own mean flows."""
        key = seg.key
        if key is None or key.core_temperature_c < self.reaction_min_c:
            return None  # clear stock, or a block too cold for the precursor to react
        q_core, q_ddt = self._mean_flows(seg)
        core = self._plug_flow(q_core, key.core_flow_ml_min)
        if not key.shell:
            return Conditions(key.core_temperature_c, core, key.core_units)
        ddt = self._plug_flow(q_ddt, key.ddt_flow_ml_min)
        return Conditions(key.core_temperature_c, core, key.core_units, True, key.shell_temperature_c, ddt,
                          key.shell_units)

    def outlet_weights(self) -> list[tuple[_Commanded | None, float]]:
        """Fractions of the flow-cell content from each product segment (oldest first; they sum to 1).

        Segment k (entered between ``t_k`` and ``t_{k+1}``) has weight ``F(t − t_k) − F(t − t_{k+1})``, with F
        the particle RTD at the newest segment's commanded temperatures and flows; each segment is given by what
        the devices were commanded while it entered (``None``: the clear stock before the first).
        """
        return [(seg.key, w) for seg, w in self._segment_weights()]

    def _segment_weights(self) -> list[tuple[_Segment, float]]:
        self.advance()
        op = self._segments[-1].key
        if op is None:
            return [(self._segments[-1], 1.0)]
        cum: list[tuple[_Segment, float]] = []
        for seg in reversed(self._segments):
            f = 1.0 if not math.isfinite(seg.t_start_s) else self._washout_fraction(
                op, (self.t_s - seg.t_start_s) / 60.0)
            cum.append((seg, f))
            if f >= 1.0 - 1e-12:
                break
        cum.reverse()
        out = []
        for i, (seg, f) in enumerate(cum):
            w = f - (cum[i + 1][1] if i + 1 < len(cum) else 0.0)
            if w > 1e-12:
                out.append((seg, w))
        first_needed = len(self._segments) - len(cum)
        if first_needed > 0:
            del self._segments[:first_needed]
        t_first = self._segments[0].t_start_s
        if math.isfinite(t_first):
            j = max(bisect.bisect_right(self._hist_t, t_first) - 1, 0)  # np.searchsorted(side="right") on a list
            if j > 0:
                del self._hist_t[:j], self._hist_core[:j], self._hist_ddt[:j]
        return out

    def _washout_fraction(self, key: _Commanded, elapsed_min: float) -> float:
        """F(t) of the particle RTD at the commanded temperatures and flows ``key``."""
        if elapsed_min <= 0:
            return 0.0
        rtd = self.process.rtd_at(key.core_temperature_c, key.core_flow_ml_min, core_units=key.core_units,
                                  shell=key.shell, shell_temperature_c=key.shell_temperature_c,
                                  ddt_flow_ml_min=key.ddt_flow_ml_min, shell_units=key.shell_units)
        return float(rtd.cdf(float(elapsed_min)))

    def outlet_products(self) -> list[tuple[Conditions, float]]:
        """Fractions of the flow-cell content per *product* (the operating point each plug was made at, from its
        own residence time; clear stock left out), oldest first."""
        out: dict[Conditions, float] = {}
        for seg, w in self._segment_weights():
            point = self._plug_point(seg)
            if point is not None:
                out[point] = out.get(point, 0.0) + w
        self.predictions.prefetch(out)  # the plugs the twin has not seen yet, in one batch
        return list(out.items())

    def expect(self, points: Iterable[Conditions]) -> None:
        """Compute the twin's predictions at ``points`` (a campaign's set points) now, in one batch."""
        self.predictions.prefetch(self._normal_point(p) for p in points)

    @staticmethod
    def _normal_point(op: Conditions) -> Conditions:
        """``op`` as the plant keys it (3 significant digits of flow; shell fields only for a shell)."""
        t_c, q_ml_min = round(op.core_temperature_c, 3), float(f"{op.core_flow_ml_min:.3g}")
        if not op.shell:
            return Conditions(t_c, q_ml_min, op.core_units)
        return Conditions(t_c, q_ml_min, op.core_units, True, round(op.shell_temperature_c, 3),
                          float(f"{op.ddt_flow_ml_min:.3g}"), op.shell_units)

    def prediction(self, op: Conditions) -> Any:
        """The twin's prediction at ``op`` (cached); a clear outlet inside a ``no_dots`` failure region."""
        pred = self.predictions.get(op)
        if self.no_dots is not None and self.no_dots(op.core_temperature_c, op.core_flow_ml_min):
            return _ClearOutlet(np.asarray(pred.absorbance_wavelength_nm, dtype=float),
                                np.asarray(pred.pl_wavelength_nm, dtype=float))
        return pred

    def outlet_absorbance(self, wavelength_nm: np.ndarray, path_mm: float) -> np.ndarray:
        """Absorbance of the flow-cell content on ``wavelength_nm`` for a ``path_mm`` cell."""
        a = np.zeros_like(wavelength_nm, dtype=float)
        for op, w in self.outlet_products():
            pred = self.prediction(op)
            wl = np.asarray(pred.absorbance_wavelength_nm, dtype=float)
            a += w * np.interp(wavelength_nm, wl, np.asarray(pred.absorbance, dtype=float), left=np.nan,
                               right=np.nan)
        a = np.where(np.isfinite(a), a, 0.0)
        if self.measurement_noise > 0:
            a = a * (1.0 + self.measurement_noise * self.rng.normal(0.0, 1.0, a.shape))
        return a * path_mm / self.twin_path_mm

    def outlet_sphere(self, wavelength_nm: np.ndarray, excitation_nm: float,
                      path_mm: float) -> tuple[float, np.ndarray]:
        """The flow cell in an integrating sphere under ``excitation_nm``: ``(absorptance, emission)``.

        ``absorptance = 1 − 10^−A`` with A the content's absorbance at the excitation wavelength for ``path_mm``
        (RTD-blended over the segments). ``emission`` (1/nm, on ``wavelength_nm``) is the photon density emitted per
        absorbed excitation photon: each segment absorbs its share ``A_k/A`` and emits with the twin's PLQY and
        the twin's PL band shape (normalised to unit area), so ``∫ emission dλ`` = the blended PLQY. A core
        without a predicted PLQY (NaN) emits nothing. Re-absorption and sphere losses are not modelled.
        """
        grid = np.asarray(wavelength_nm, dtype=float)
        parts: list[tuple[float, Any]] = []
        total = 0.0
        for op, w in self.outlet_products():
            pred = self.prediction(op)
            a_ex = float(np.interp(excitation_nm, np.asarray(pred.absorbance_wavelength_nm, dtype=float),
                                   np.asarray(pred.absorbance, dtype=float)))
            a_k = max(w * a_ex * path_mm / self.twin_path_mm, 0.0) if math.isfinite(a_ex) else 0.0
            total += a_k
            parts.append((a_k, pred))
        emission = np.zeros_like(grid)
        if total <= 0.0:
            return 0.0, emission
        for a_k, pred in parts:
            qy = float(getattr(pred, "plqy", float("nan")))
            wl = np.asarray(pred.pl_wavelength_nm, dtype=float)
            pl = np.asarray(pred.pl_intensity, dtype=float)
            area = float(np.trapezoid(pl, wl)) if pl.size > 1 else 0.0
            if not math.isfinite(qy) or qy <= 0.0 or not area > 0.0:
                continue
            emission += (a_k / total) * qy * np.interp(grid, wl, pl / area, left=0.0, right=0.0)
        return float(1.0 - 10.0 ** (-total)), emission

    def outlet_pl(self, wavelength_nm: np.ndarray) -> np.ndarray:
        """PL of the flow-cell content on ``wavelength_nm``, scaled so PLQY 0.3 at its peak is 1."""
        out = np.zeros_like(wavelength_nm, dtype=float)
        for op, w in self.outlet_products():
            pred = self.prediction(op)
            pl = np.asarray(pred.pl_intensity, dtype=float)
            peak = float(np.max(pl)) if pl.size else 0.0
            if peak <= 0:
                continue
            plqy = float(getattr(pred, "plqy", 0.3) or 0.0)
            shape = pl / peak * plqy / 0.3
            out += w * np.interp(wavelength_nm, np.asarray(pred.pl_wavelength_nm, dtype=float), shape, left=0.0,
                                 right=0.0)
        return out
