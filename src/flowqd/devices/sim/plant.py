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
  (:class:`~flowqd.devices.process.ProcessModel`) plus a clog term rising at ``inject_clog(rate)``;
* **outlet** — a new *product segment* starts when every block is within 2 °C of its set point and every flow
  within 5 % of its set point; the flow cell sees the twin's spectrum of each segment weighted by the RTD,
  ``w_k = F(t − t_k) − F(t − t_{k+1})`` (F: the reactor's cumulative particle RTD). Before the first segment the
  cell holds clear stock.

Fault injection: :meth:`SimPlant.inject_clog`, :meth:`SimPlant.inject_runaway`, :meth:`SimPlant.inject_timeout`,
:meth:`SimPlant.inject_refill_failure`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowqd.devices.clock import Clock
from flowqd.devices.process import OperatingPoint, ProcessModel
from flowqd.devices.protocols import DeviceTimeout

__all__ = ["HeaterParams", "SimPlant", "SyringeParams"]


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
    command_ml_min: float = 0.0
    flow_ml_min: float = 0.0
    started_at_s: float = -math.inf
    refilling: bool = False
    refill_broken: bool = False


@dataclass
class _Segment:
    t_start_s: float
    key: OperatingPoint | None


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
        ``predict(conditions)`` returning absorbance (1 mm path) and PL spectra (the digital twin or the surrogate).
    make_conditions : callable
        Builds the twin's ``Conditions`` from keyword arguments.
    ambient_c : float
    substep_s : float
    seed : int
    """

    clock: Clock
    process: ProcessModel
    twin: Any
    make_conditions: Callable[..., Any]
    ambient_c: float = 25.0
    substep_s: float = 0.25
    seed: int = 0
    twin_path_mm: float = 1.0
    pressure_noise_bar: float = 0.002
    record_flows: bool = False
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
        self._prediction_cache: dict[OperatingPoint, Any] = {}
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
        self.syringes[name] = _Syringe(name, params, reservoir, params.volume_ml)
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

    def check_alive(self, device: str) -> None:
        """Raise :class:`DeviceTimeout` when ``device`` was made to stop answering."""
        if device in self._dead:
            raise DeviceTimeout(f"{device}: no answer (simulated time-out)")

    # -- physics -------------------------------------------------------------------------------------------------
    def advance(self) -> None:
        """Integrate the physics up to ``clock.now()``."""
        t_end = self.clock.now()
        while self.t_s < t_end - 1e-9:
            dt = min(self.substep_s, t_end - self.t_s)
            self._step(dt)
            self.t_s += dt

    def _step(self, dt: float) -> None:
        for h in self.heaters.values():
            self._step_heater(h, dt)
        for s in self.syringes.values():
            self._step_syringe(s, dt)
        self._clog_bar += self._clog_rate_bar_s * dt
        self._update_segment()
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
            s.flow_ml_min = s.volume_ml * 60.0 / dt if dt > 0 else 0.0
            s.volume_ml = 0.0
            s.flow_ml_min = 0.0
        else:
            s.volume_ml -= used

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

    # -- pressure ------------------------------------------------------------------------------------------------
    @property
    def clog_bar(self) -> float:
        """Pressure added by the clog so far, bar."""
        return self._clog_bar

    def pressure_bar(self, noisy: bool = True) -> float:
        """Inlet gauge pressure: laminar ΔP at measured flows and temperatures + clog (+ sensor noise), bar."""
        self.advance()
        core = self.heaters.get(self.core_box)
        shell_h = self.heaters.get(self.shell_box) if self.shell_box else None
        ddt = self.stream_flow_ml_min("ddt")
        shell = ddt > 0 and shell_h is not None
        dp = self.process.pressure_drop_actual_bar(
            self.stream_flow_ml_min("core"), core.temperature_c if core else self.ambient_c,
            ddt_flow_ml_min=ddt if shell else 0.0, shell=shell,
            shell_temperature_c=shell_h.temperature_c if shell_h else self.ambient_c,
            core_units=self.core_units, shell_units=self.shell_units)
        p = dp + self._clog_bar
        if noisy:
            p += float(self.rng.normal(0.0, self.pressure_noise_bar))
        return p

    # -- outlet composition ------------------------------------------------------------------------------------
    def _current_point(self) -> OperatingPoint | None:
        """The operating point the reactor is at now, or ``None`` during a transient.

        At a point = every block within 2 °C of its set point and every delivered flow within 5 % of its
        command; flows are the delivered flows rounded to 3 significant digits.
        """
        core_h = self.heaters.get(self.core_box)
        q_core = self.stream_flow_ml_min("core")
        if core_h is None or not core_h.enabled or q_core <= 0:
            return None
        if abs(core_h.temperature_c - core_h.setpoint_c) > 2.0:
            return None
        q_ddt = self.stream_flow_ml_min("ddt")
        shell_h = self.heaters.get(self.shell_box) if self.shell_box else None
        shell = q_ddt > 0 and shell_h is not None and shell_h.enabled
        if shell:
            assert shell_h is not None
            if abs(shell_h.temperature_c - shell_h.setpoint_c) > 2.0:
                return None
        return OperatingPoint(round(core_h.setpoint_c, 3), float(f"{q_core:.3g}"), self.core_units, shell,
                              round(shell_h.setpoint_c, 3) if shell and shell_h else None,
                              float(f"{q_ddt:.3g}") if shell else None, self.shell_units)

    @staticmethod
    def _same_point(a: OperatingPoint | None, b: OperatingPoint | None) -> bool:
        if a is None or b is None:
            return a is b
        if a.shell != b.shell or a.core_units != b.core_units or a.shell_units != b.shell_units:
            return False
        if abs(a.core_temperature_c - b.core_temperature_c) > 0.5:
            return False
        if abs(a.core_flow_ml_min - b.core_flow_ml_min) > 0.05 * b.core_flow_ml_min:
            return False
        if a.shell:
            assert a.shell_temperature_c is not None and b.shell_temperature_c is not None
            assert a.ddt_flow_ml_min is not None and b.ddt_flow_ml_min is not None
            if abs(a.shell_temperature_c - b.shell_temperature_c) > 0.5:
                return False
            if abs(a.ddt_flow_ml_min - b.ddt_flow_ml_min) > 0.05 * b.ddt_flow_ml_min:
                return False
        return True

    def _update_segment(self) -> None:
        point = self._current_point()
        if point is not None and not self._same_point(point, self._segments[-1].key):
            self._segments.append(_Segment(self.t_s, point))

    def outlet_weights(self) -> list[tuple[OperatingPoint | None, float]]:
        """Fractions of the flow-cell content from each product segment (oldest first; they sum to 1).

        Segment k (entered between ``t_k`` and ``t_{k+1}``) has weight ``F(t − t_k) − F(t − t_{k+1})``, with F
        the particle RTD of the newest segment's operating point.
        """
        self.advance()
        op = self._segments[-1].key
        if op is None:
            return [(None, 1.0)]
        cum = []
        for seg in reversed(self._segments):
            f = 1.0 if not math.isfinite(seg.t_start_s) else self.process.washout_fraction(
                op, (self.t_s - seg.t_start_s) / 60.0)
            cum.append((seg.key, f))
            if f >= 1.0 - 1e-12:
                break
        cum.reverse()
        out = []
        for i, (key, f) in enumerate(cum):
            w = f - (cum[i + 1][1] if i + 1 < len(cum) else 0.0)
            if w > 1e-12:
                out.append((key, w))
        first_needed = len(self._segments) - len(cum)
        if first_needed > 0:
            del self._segments[:first_needed]
        return out

    def prediction(self, op: OperatingPoint) -> Any:
        """The twin's prediction at ``op`` (cached); a clear outlet inside a ``no_dots`` failure region."""
        if op not in self._prediction_cache:
            cond = self.make_conditions(**{k: v for k, v in dataclasses.asdict(op).items() if v is not None})
            pred = self.twin.predict(cond)
            if self.no_dots is not None and self.no_dots(op.core_temperature_c, op.core_flow_ml_min):
                pred = _ClearOutlet(np.asarray(pred.absorbance_wavelength_nm, dtype=float),
                                    np.asarray(pred.pl_wavelength_nm, dtype=float))
            self._prediction_cache[op] = pred
        return self._prediction_cache[op]

    def outlet_absorbance(self, wavelength_nm: np.ndarray, path_mm: float) -> np.ndarray:
        """Absorbance of the flow-cell content on ``wavelength_nm`` for a ``path_mm`` cell."""
        a = np.zeros_like(wavelength_nm, dtype=float)
        for op, w in self.outlet_weights():
            if op is None:
                continue
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
        for op, w in self.outlet_weights():
            if op is None:
                continue
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
        for op, w in self.outlet_weights():
            if op is None:
                continue
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
