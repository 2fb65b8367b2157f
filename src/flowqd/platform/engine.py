"""The run engine: one control loop that takes a campaign through its conditions, safely.

State machine per condition (numbers from the platform's ``[control]`` table; the paper's platform in brackets):

1. **set points** — HB1 (and HB2, DDT pump for a shell condition) set points and ramps, core flow; valve to waste;
2. **stabilising** — until every heater in use has stayed within ``temperature_tolerance_c`` [1 °C] of its set
   point for ``temperature_hold_s`` [120 s]; longer than ``stabilise_timeout_s`` [2 h] trips ``stabilise_timeout``;
3. **flushing** — valve on waste for the time the particle RTD needs to replace ``washout_fraction`` [99 %] of
   the flow-cell content (:meth:`~flowqd.reactor.process.ProcessModel.washout_time_min`);
4. **acquiring** — ``n_spectra`` absorbance spectra (plus PL if a PL spectrometer exists), one per
   ``spectrum_interval_s`` [60 s]; each is analysed at once and committed (``record_spectrum``) before the next;
5. **judging** — steady state when the exciton peaks of the last ``drift_window`` [3] spectra span less than
   ``peak_drift_nm`` [1 nm]; otherwise one more spectrum, up to ``max_extra_spectra`` [5], then a warning;
6. **collecting** — valve to collect for ``collect_volume_ml`` at the outlet flow, back to waste.

Every control period [1 s] the engine services the alternating syringes, reads all devices, evaluates the
:mod:`~flowqd.platform.interlocks` (a trip → safe state in the same period, latched), records traces every
``trace_period_s`` and reports progress. The engine only calls ``clock.now()``/``clock.sleep()``, so the same
code runs the simulated platform (``SimClock``) and hardware (``RealClock``).

**Event-to-event clock** (``clock_mode="event"``, the default; effective only on a fully simulated platform, whose
devices offer a :class:`~flowqd.devices.clock.FastForward`): while waiting (flush, spectrum interval, collection)
the engine crosses each *quiet* interval — no pump needs servicing, every reading analytic — in one step up to
the next event (end of the wait, hand-over, fault, end of the quiet state), still building the snapshot of every
control period in it and passing each through the interlocks, recording the trace samples that fall in it, and
tripping at the same period the tick-by-tick engine (``clock_mode="tick"``) would. At a finite ``SimClock`` speed a
step is at most a quarter of a real second, so the stop flag is still polled several times a second.

**Resume** (``run(campaign, resume_run_id=...)``): completed conditions are skipped; the first incomplete
condition starts again at its set points (re-stabilise, re-flush — the reactor state after a crash is unknown);
its stored spectra are kept but marked superseded (``supersede_spectra``: not averaged, not judged), new ones get
the next ``seq`` (``record_spectrum`` is idempotent on ``seq``), and ``n_spectra`` fresh spectra are acquired to
judge steady state again. No spectrum is lost or duplicated.

**One engine per run**: when the recorder offers leases (:meth:`flowqd.store.Store.lease`), the engine holds the
run's lease from its start (or, on resume, before it changes anything) and renews it from the control loop; a second
engine is refused with :class:`~flowqd.errors.LeaseHeld`. **Storage faults** (:class:`~flowqd.errors.StorageError`:
disk full, read-only database) put the platform in its safe state and mark the run ``interrupted`` (resumable).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowqd.analysis.outcome import SpectrumOutcome
from flowqd.devices.clock import Clock
from flowqd.devices.protocols import DeviceError, DeviceTimeout, SpectrumReading
from flowqd.devices.registry import Devices
from flowqd.errors import FlowqdError, InterlockTrip, LeaseLost, StorageError
from flowqd.platform.analyzer import Analyzer, SpectrumAnalyzer
from flowqd.platform.config import CampaignCondition, CampaignConfig, PlatformConfig
from flowqd.platform.interlocks import Interlocks, Snapshot, Trip
from flowqd.platform.plausibility import PlausibilityLimits, finite_reading_or_none
from flowqd.platform.preflight import operating_point, preflight
from flowqd.platform.recorder import RunRecorder
from flowqd.reactor.conditions import Conditions
from flowqd.reactor.process import ProcessModel

__all__ = ["ConditionOutcome", "Progress", "RunEngine", "RunSummary"]

#: Trace samples of the simulated platform's event clock are written together, at the latest this long (wall
#: seconds) after the first of them, and at every phase change, spectrum, trip and the end of the run.
TRACE_FLUSH_WALL_S = 0.5

StopFlag = Callable[[], "str | None"]
PauseFlag = Callable[[], bool]


@dataclass(frozen=True)
class Progress:
    """A live-display update (sent every control period and at every phase change)."""

    run_id: int
    t_s: float
    phase: str
    condition_index: int | None
    n_conditions: int
    label: str = ""
    setpoints: dict[str, float] = field(default_factory=dict)
    temperatures_c: dict[str, float] = field(default_factory=dict)
    pressure_bar: float | None = None
    flows_ml_min: dict[str, float] = field(default_factory=dict)
    phase_remaining_s: float | None = None
    spectra: int = 0
    last_analysis: dict[str, Any] | None = None
    message: str = ""


@dataclass
class ConditionOutcome:
    """What happened to one condition in this session."""

    index: int
    status: str
    spectra: int = 0
    peaks_nm: list[float] = field(default_factory=list)
    steady: bool | None = None
    skipped: bool = False


@dataclass
class RunSummary:
    """Result of :meth:`RunEngine.run`."""

    run_id: int
    status: str
    conditions: list[ConditionOutcome] = field(default_factory=list)
    started_s: float = 0.0
    ended_s: float = 0.0


class RunEngine:
    """Drives a campaign on a platform's devices (see the module docstring).

    Parameters
    ----------
    platform : PlatformConfig
    devices : Devices
        Built by :func:`flowqd.devices.build_devices` with the same ``clock``.
    clock : Clock
    recorder : RunRecorder
    analyzer : callable, optional
        ``analyzer(reading) -> SpectrumOutcome``; default :class:`~flowqd.platform.analyzer.SpectrumAnalyzer`.
    stop_flag : callable, optional
        Returns a reason string when an emergency stop is requested (checked every control period).
    on_progress : callable, optional
        Receives a :class:`Progress` every control period.
    pause_flag : callable, optional
        True while a pause is requested (checked every control period): the platform holds its set points (pumps
        serviced, devices read, interlocks evaluated, traces recorded) and the phase clock stops until it clears.
    pump_pressure_check : bool, optional
        Read each pump's own pressure every period as a redundant signal for the plausibility cross-check
        (default: on for hardware, off for the simulated platform, see :mod:`flowqd.platform.plausibility`).
    """

    def __init__(self, platform: PlatformConfig, devices: Devices, clock: Clock, recorder: RunRecorder, *,
                 analyzer: Analyzer | None = None, stop_flag: StopFlag | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 process: ProcessModel | None = None, clock_mode: str = "event",
                 pause_flag: PauseFlag | None = None, pump_pressure_check: bool | None = None) -> None:
        if clock_mode not in ("event", "tick"):
            raise FlowqdError(f"clock_mode must be 'event' or 'tick', got {clock_mode!r}")
        self.clock_mode = clock_mode
        self.platform = platform
        self.pause_flag = pause_flag
        self._paused_s = 0.0
        self.devices = devices
        self.clock = clock
        self.recorder = recorder
        self.ctl = platform.control
        self.analyzer: Analyzer = analyzer or SpectrumAnalyzer.for_platform(platform)
        self.stop_flag = stop_flag
        self.on_progress = on_progress
        self.process = process or ProcessModel(platform.train())
        lock = platform.interlocks
        limits = {"hb1": self.process.max_temperature_c(self.process.core_box)}
        if self.process.shell_box is not None:
            limits["hb2"] = self.process.max_temperature_c(self.process.shell_box)
        for role, h in devices.heaters().items():
            limits[role] = min(limits.get(role, h.max_c), h.max_c)
        plausibility = PlausibilityLimits.from_config(lock, platform.devices.pressure.max_bar)
        self.interlocks = Interlocks(max_pressure_bar=lock.max_pressure_bar,
                                     max_pressure_rise_bar_min=lock.max_pressure_rise_bar_min,
                                     pressure_rise_window_s=lock.pressure_rise_window_s,
                                     over_temperature_margin_c=lock.over_temperature_margin_c, limits_c=limits,
                                     plausibility=plausibility)
        self.tripped: Trip | None = None
        self.run_id: int | None = None
        self._setpoints: dict[str, float | None] = {}
        self._flows: dict[str, float] = {}
        self._units = (1, 1)
        # the pumps' own pressure as a redundant signal (plausibility): on by default on hardware; off by default on
        # the simulated platform, whose pump pressure is the transducer's model again (no independent information)
        # and whose event clock replays the tick's noise stream, which an extra reading per period would shift
        self._pump_check = (getattr(devices, "fast_forward", None) is None) if pump_pressure_check is None \
            else bool(pump_pressure_check)
        self._condition_id: int | None = None
        self._condition_index: int | None = None
        self._label = ""
        self._n_conditions = 0
        self._phase = "idle"
        self._phase_end: float | None = None
        self._spectra_this_condition = 0
        self._last_analysis: dict[str, Any] | None = None
        self._last_trace_s = -np.inf
        # trace rows waiting to be written (simulated platform on the event clock only; hardware writes each tick's)
        self._traces: list[tuple[float, dict[str, float]]] = []  # queued trace samples: (t, {channel: value})
        self._trace_since: float | None = None
        self._batch_traces = clock_mode == "event" and getattr(devices, "fast_forward", None) is not None
        self.last_snapshot: Snapshot | None = None
        self._lease: Any = None

    # ================================================================================================ public API
    def run(self, campaign: CampaignConfig, *, resume_run_id: int | None = None) -> RunSummary:
        """Run (or resume) ``campaign``; return a summary. Raises :class:`InterlockTrip` on a trip (latched).

        Raises
        ------
        ConfigError
            Pre-flight failed (nothing was started).
        InterlockTrip
            A safety interlock tripped (the platform is in its safe state); or this engine tripped before.
        """
        if self.tripped is not None:
            raise InterlockTrip(f"interlock {self.tripped.kind} latched: resume explicitly with "
                                f"`flowqd run --resume {self.run_id}`")
        rec = self.recorder
        done: set[int] = set()
        if resume_run_id is not None:
            run = rec.get_run(resume_run_id)
            done = set(rec.completed_conditions(resume_run_id))
            if run.status == "completed":
                return RunSummary(resume_run_id, "completed",
                                  [ConditionOutcome(i, "completed", skipped=True) for i in sorted(done)])
        report = preflight(campaign, self.platform, process=self.process, skip_conditions=done)
        report.raise_if_failed()
        expect = getattr(self.devices.backend, "expect", None)
        if callable(expect):  # a simulated platform computes its twin's predictions for the campaign in one batch
            expect([operating_point(c) for i, c in enumerate(campaign.conditions) if i not in done])
        self._n_conditions = len(campaign.conditions)
        if resume_run_id is None:
            self.run_id = rec.start_run(campaign.name, platform_toml=self.platform.text, campaign_toml=campaign.text)
            self._take_lease()
            self._event("run.started", f"campaign {campaign.name!r}: {self._n_conditions} conditions, "
                        f"estimated {report.duration_min:.0f} min", details={"estimate_min": report.duration_min})
        else:
            self.run_id = resume_run_id
            self._take_lease()  # a second engine on a run that is being driven is refused here
            rec.set_run_status(resume_run_id, "running")
            self._event("run.resumed", f"resuming at the first incomplete condition; completed: {sorted(done)}",
                        details={"completed": sorted(done)})
        summary = RunSummary(self.run_id, "running", started_s=self.clock.now())
        try:
            self._start_up()
            for i, cond in enumerate(campaign.conditions):
                if i in done:
                    summary.conditions.append(ConditionOutcome(i, "completed", skipped=True))
                    continue
                summary.conditions.append(self._run_condition(i, cond))
            self._shut_down()
        except InterlockTrip:
            summary.status = "tripped"
            self._drop_lease()
            raise
        except LeaseLost:
            raise  # another engine drives the platform now: command nothing, write nothing
        except StorageError as exc:
            self._interrupted(exc)
        except BaseException as exc:
            self._safe_state()
            try:
                self._flush_traces_if_possible()
                self._condition_done("failed")
                self._event("run.failed", f"{type(exc).__name__}: {exc}", level="error")
                rec.finish_run(self.run_id, "failed")
            except StorageError:
                pass  # the original error is the one to report
            self._drop_lease()
            raise
        summary.status = "completed"
        summary.ended_s = self.clock.now()
        try:
            self._flush_traces()
            rec.finish_run(self.run_id, "completed")
            self._event("run.completed", "campaign finished; platform in its safe state")
        except StorageError as exc:
            self._interrupted(exc)
        self._drop_lease()
        self._progress("done")
        return summary

    # ================================================================================================ lease, storage
    def _take_lease(self) -> None:
        """Hold the run's lease (one engine per run) when the recorder offers leases (the database does)."""
        make = getattr(self.recorder, "lease", None)
        if make is None or self.run_id is None:
            return
        self._lease = make(self.run_id)
        self._lease.acquire()

    def _drop_lease(self) -> None:
        if self._lease is not None:
            try:
                self._lease.release()
            except StorageError:
                pass  # stale after its time-to-live anyway
            self._lease = None

    def _interrupted(self, exc: StorageError) -> None:
        """The database failed mid-run: safe state, mark the run ``interrupted`` if the database still takes that
        one small write, raise one line."""
        failed = self._safe_state()
        self._phase = "interrupted"
        marked = True
        release = getattr(self.recorder, "release_reserve", None)
        if release is not None:
            release()  # a full disk: free the ballast so the status can still be written
        try:
            self.recorder.set_run_status(self.run_id, "interrupted")  # type: ignore[arg-type]
            self._event("run.interrupted", str(exc), level="error", details={"failed_actions": failed})
        except StorageError:
            marked = False
        if marked:
            self._flush_traces_if_possible()  # after the status: the queued samples must not take its room
        self._drop_lease()
        state = "marked interrupted" if marked else "left as running (the database refused the status too)"
        raise StorageError(f"{exc}; pumps stopped, heaters off, outlet to waste; run {self.run_id} {state}: "
                           f"`flowqd run --resume {self.run_id}` once the database can be written") from None

    # ================================================================================================ phases
    def _start_up(self) -> None:
        d = self.devices
        self._guard(lambda: d.outlet_valve.move("waste"), "outlet_valve")
        self._guard(d.uvvis.take_dark, "uvvis")
        self._guard(d.uvvis.take_reference, "uvvis")
        if d.pl is not None:
            pl = d.pl
            self._guard(pl.take_dark, "pl")
            pl_cfg = self.platform.devices.pl
            if pl_cfg is not None and pl_cfg.sphere:
                self._guard(pl.take_reference, "pl")  # the PLQY blank: stock only, scattered excitation
        self._event("spectrometer.referenced", "dark and reference spectra taken",
                    details={"integration_ms": d.uvvis.integration_ms(), "averages": d.uvvis.averages()})

    def _apply_setpoints(self, entry: CampaignCondition) -> None:
        c = entry.conditions
        d = self.devices
        cfg = self.platform.devices
        self._units = (c.core_units, c.shell_units)
        d.hb1.set_ramp_c_min(cfg.hb1.ramp_c_min)
        d.hb1.set_setpoint_c(c.core_temperature_c)
        self._setpoints["hb1"] = c.core_temperature_c
        if c.shell:
            assert d.hb2 is not None and d.shell_pump is not None and cfg.hb2 is not None
            d.hb2.set_ramp_c_min(cfg.hb2.ramp_c_min)
            d.hb2.set_setpoint_c(c.shell_temperature_c)
            self._setpoints["hb2"] = c.shell_temperature_c
            d.shell_pump.set_flow_ml_min(c.ddt_flow_ml_min)
            self._flows["shell_pump"] = c.ddt_flow_ml_min
        else:
            if d.shell_pump is not None:
                d.shell_pump.stop()
                self._flows["shell_pump"] = 0.0
            if d.hb2 is not None:
                d.hb2.stop()
                self._setpoints["hb2"] = None
        d.core_pump.set_flow_ml_min(c.core_flow_ml_min)
        self._flows["core_pump"] = c.core_flow_ml_min
        d.outlet_valve.move("waste")
        sp = {f"{r}.temperature_c": v for r, v in self._setpoints.items() if v is not None}
        sp.update({f"{r}.flow_ml_min": v for r, v in self._flows.items()})
        assert self.run_id is not None
        self.recorder.record_sample(self.run_id, self.clock.now(), sp, role="setpoint")

    def _run_condition(self, i: int, entry: CampaignCondition) -> ConditionOutcome:
        assert self.run_id is not None
        rec = self.recorder
        c = operating_point(entry)
        tau_min = self.process.residence_time_min(c)
        wash_min = self.process.washout_time_min(c, self.ctl.washout_fraction)
        self._condition_index, self._label = i, entry.label or f"condition {i}"
        self._condition_id = rec.start_condition(self.run_id, i, **entry.setpoints(), residence_time_s=tau_min * 60.0)
        for_condition = getattr(self.analyzer, "for_condition", None)  # yield and production need the flows
        if for_condition is not None:
            for_condition(core_flow_ml_min=c.core_flow_ml_min, outlet_flow_ml_min=c.total_flow_ml_min)
        # Spectra from before an interruption are kept but marked superseded: the reactor state in between is
        # unknown, so the resumed condition is judged and averaged on fresh spectra only.
        existing = rec.completed_spectra_count(self.run_id, i)
        if existing:
            rec.supersede_spectra(self.run_id, i, "taken before the run was interrupted; not averaged")
        self._spectra_this_condition = 0
        self._event("condition.started", f"{self._label}: {self._describe(c)}; τ = {tau_min:.1f} min, flush "
                    f"{wash_min:.1f} min" + (f"; {existing} spectra from before the interruption kept, marked "
                                             "superseded, not averaged" if existing else ""),
                    details={"index": i, "superseded_spectra": existing, **entry.setpoints()})
        self._phase_change("setpoints")
        self._apply_setpoints(entry)
        self._stabilise(c)
        self._phase_change("flushing", wash_min * 60.0)
        self._wait(wash_min * 60.0)
        outcome = self._acquire(i, entry, 0)
        if entry.collect_volume_ml > 0:
            collect_s = entry.collect_volume_ml / c.total_flow_ml_min * 60.0
            self._phase_change("collecting", collect_s)
            self.devices.outlet_valve.move("collect")
            self._wait(collect_s)
            self.devices.outlet_valve.move("waste")
        self._condition_done("completed")
        self._event("condition.completed", f"{self._label}: {outcome.spectra} spectra, peak "
                    + (f"{np.mean(outcome.peaks_nm[-self.ctl.drift_window:]):.1f} nm" if outcome.peaks_nm else "n/a"),
                    details={"index": i, "steady": outcome.steady, "peaks_nm": outcome.peaks_nm})
        outcome.status = "completed"
        return outcome

    def _stabilise(self, c: Conditions) -> None:
        targets = {"hb1": c.core_temperature_c}
        if c.shell:
            targets["hb2"] = c.shell_temperature_c
        tol, hold = self.ctl.temperature_tolerance_c, self.ctl.temperature_hold_s
        self._phase_change("stabilising")
        start = self.clock.now()
        paused0 = self._paused_s
        stable_since: float | None = None

        def within(snap: Snapshot) -> bool:
            return all(r in snap.temperatures_c and abs(snap.temperatures_c[r] - v) < tol for r, v in targets.items())

        def within_each(temps: dict[str, np.ndarray]) -> np.ndarray:  # within() for every reading of a step
            n = len(next(iter(temps.values()))) if temps else 0
            ok = np.ones(n, dtype=bool)
            for r, v in targets.items():
                ok &= np.abs(temps[r] - v) < tol if r in temps else False
            return ok

        while True:  # quiet periods in steps, each reading still checked: up to the first within the band,
            # then through the hold up to the first outside it
            end = start + self.ctl.stabilise_timeout_s
            if stable_since is None:
                snap = self._fast_forward(end, lambda temps: ~within_each(temps))
            else:
                snap = self._fast_forward(min(stable_since + hold, end), within_each)
            if snap is None:
                snap = self._tick()
            t = self.clock.now()
            ok = within(snap)
            if not ok:
                stable_since = None
            elif stable_since is None:
                stable_since = t
            if stable_since is not None and t - stable_since >= hold:
                self._event("condition.stable", f"temperatures within ±{tol:g} °C for {hold:g} s",
                            details={"temperatures_c": dict(snap.temperatures_c)})
                return
            if t - start - (self._paused_s - paused0) > self.ctl.stabilise_timeout_s:
                self._trip([Trip("stabilise_timeout", f"temperatures not within ±{tol:g} °C of {targets} after "
                                 f"{self.ctl.stabilise_timeout_s:g} s")])

    def _acquire(self, i: int, entry: CampaignCondition, existing: int) -> ConditionOutcome:
        ctl = self.ctl
        fresh_needed = max(entry.n_spectra - existing, min(ctl.drift_window, entry.n_spectra))
        peaks: list[float] = []
        outcome = ConditionOutcome(i, "acquiring")
        acquired = extra = 0
        self._phase_change("acquiring")
        while True:
            if acquired >= fresh_needed:
                window = peaks[-ctl.drift_window:]
                if entry.n_spectra < 2 or (len(window) >= min(ctl.drift_window, entry.n_spectra)
                                       and max(window) - min(window) < ctl.peak_drift_nm):
                    outcome.steady = True
                    spread = (max(window) - min(window)) if window else 0.0
                    self._event("condition.steady", f"steady state: peak spread {spread:.2f} nm over the last "
                                f"{len(window)} spectra (< {ctl.peak_drift_nm:g} nm)",
                                details={"peaks_nm": window})
                    break
                if extra >= ctl.max_extra_spectra:
                    outcome.steady = False
                    self._event("condition.not_steady", f"peak still drifting after {extra} extra spectra "
                                f"(last {window}); continuing", level="warning", details={"peaks_nm": window})
                    break
                extra += 1
            if acquired > 0 or ctl.spectrum_interval_s > 0:
                self._wait(ctl.spectrum_interval_s)
            peak = self._take_spectra()
            acquired += 1
            if peak is not None:
                peaks.append(peak)
        outcome.spectra = acquired
        outcome.peaks_nm = peaks
        return outcome

    def _take_spectra(self) -> float | None:
        """Acquire, analyse and commit one absorbance (and PL) spectrum; return its exciton peak (nm) or None."""
        assert self.run_id is not None
        d = self.devices
        reading = self._guard(d.uvvis.acquire, "uvvis")
        peak, _ = self._record(reading)
        if d.pl is not None:
            pl = d.pl
            _, pl_out = self._record(self._guard(pl.acquire, "pl"))
            if self._last_analysis is not None:
                self._last_analysis.update(
                    pl_peak_wavelength_nm=pl_out.peak_wavelength_nm, pl_fwhm_nm=pl_out.fwhm_nm,
                    pl_cie_x=pl_out.cie_x, pl_cie_y=pl_out.cie_y, pl_error=pl_out.error, plqy=pl_out.plqy)
        self._progress(self._phase)
        return peak

    def _record(self, reading: SpectrumReading) -> tuple[float | None, SpectrumOutcome]:
        """Analyse and commit one reading; return (exciton peak of an absorbance spectrum or None, outcome)."""
        assert self.run_id is not None
        role = "uvvis" if reading.kind == "absorbance" else "pl"
        bad = self.interlocks.sensors.check_spectrum(role, reading)
        if bad and bad[0].kind == "spectrometer_bad_data":
            self._trip(bad)
        result = self.analyzer(reading)
        if reading.saturated:
            result = result.flagged_saturated()
            self._event("spectrometer.saturated", f"{reading.kind} spectrum saturated at "
                        f"{reading.integration_ms:g} ms; not used for the steady-state judgement", level="warning")
        self._flush_traces()
        seq = self.recorder.next_seq(self.run_id)
        self.recorder.record_spectrum(self.run_id, seq, reading, reading.spectrum, result,
                                      condition_id=self._condition_id, kind=reading.kind, method=result.method)
        if bad:
            self._trip(bad)  # saturated N times in a row: the spectrum is kept, flagged, then the trip
        if reading.kind != "absorbance":
            return None, result
        self._spectra_this_condition += 1
        self._last_analysis = {"seq": seq, "peak_wavelength_nm": result.peak_wavelength_nm, "x13_nm": result.x13_nm,
                               "sigma_nm": result.sigma_nm, "rsd": result.rsd, "error": result.error}
        peak = result.peak_wavelength_nm  # None or finite
        if reading.saturated or peak is None:
            return None, result
        return float(peak), result

    def _shut_down(self) -> None:
        self._safe_state()
        self._phase_change("done")

    # ================================================================================================ control loop
    def _wait(self, duration_s: float) -> None:
        end = self.clock.now() + duration_s
        self._phase_end = end
        while self.clock.now() < end - 1e-9:
            paused0 = self._paused_s
            if self._fast_forward(end) is None:
                self._tick()
            end += self._paused_s - paused0  # a pause stops the phase clock
            self._phase_end = end
        self._phase_end = None

    def _fast_forward(self, end_s: float, check: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
                      ) -> Snapshot | None:
        """Cross the quiet control periods before ``end_s`` in one step (see the module docstring) and return the
        last snapshot; ``None`` when there is nothing to cross (then the caller ticks). ``check(temperatures)``:
        per reading, False where the caller wants to stop; the step ends with the first such reading (the caller
        then treats its snapshot as a tick's)."""
        ff = self.devices.fast_forward
        if ff is None or self.clock_mode != "event" or self.run_id is None:
            return None
        if self.stop_flag is not None and self.stop_flag() is not None:
            return None
        if self.pause_flag is not None and self.pause_flag():  # a pause is held tick by tick
            return None
        period = self.ctl.control_period_s
        now = self.clock.now()
        n_wait = int(np.ceil((end_s - now) / period - 1e-9))  # periods left in this wait; the last one ticks
        speed = float(getattr(self.clock, "speedup", np.inf))
        n_max = n_wait - 1 if not np.isfinite(speed) else min(n_wait - 1, int(0.25 * speed / period))
        if n_max < 2:
            return None
        horizon = ff.quiet_until_s(now + n_max * period)
        n = min(n_max, int(np.floor((horizon - now) / period - 1e-9)))
        if n < 2:
            return None
        times = now + period * np.arange(1, n + 1)
        r = ff.readings(times)
        temps = {role: np.asarray(v, dtype=float) for role, v in r.temperatures_c.items()}
        if check is not None:  # the step ends with the first reading the caller rejects
            rejected = np.flatnonzero(~np.asarray(check(temps), dtype=bool))
            n = int(rejected[0]) + 1 if rejected.size else n
        setpoints = {role: self._setpoints.get(role) for role in temps}
        flows = dict(self._flows)
        temps_n = {role: v[:n] for role, v in temps.items()}
        model = self._model_pressure_many(temps_n, n)
        pressure = None if r.pressure_bar is None else np.asarray(r.pressure_bar[:n], dtype=float)
        k, trips = self.interlocks.evaluate_quiet(times[:n], pressure, temps_n, model, setpoints_c=setpoints,
                                                  commanded_flows_ml_min=flows)
        last = k if trips else n - 1  # the reading the step ends with
        t_last = float(times[last])
        snap = Snapshot(t_last, None if pressure is None else float(pressure[last]),
                        {role: float(v[last]) for role, v in temps.items()}, setpoints,
                        {role: False for role in r.flows_ml_min}, {}, None, commanded_flows_ml_min=flows,
                        model_pressure_bar=None if np.isnan(model[last]) else float(model[last]))
        self.last_snapshot = snap
        traces: list[tuple[float, dict[str, float]]] = []
        tp = self.ctl.trace_period_s - 1e-9
        for i in range(k if trips else n):  # a tripping reading is not traced (as tick by tick)
            t = float(times[i])
            if t - self._last_trace_s >= tp:
                self._last_trace_s = t
                readings = {f"{role}.temperature_c": float(v[i]) for role, v in temps.items()}
                readings.update({f"{role}.flow_ml_min": float(v[i]) for role, v in r.flows_ml_min.items()})
                readings.update({f"{role}.volume_ml": float(v[i]) for role, v in r.volumes_ml.items()})
                if pressure is not None:
                    readings["pressure_bar"] = float(pressure[i])
                traces.append((t, readings))
        self._write_traces(traces)
        ff.jump(t_last)
        self.clock.sleep(t_last - now)
        if trips:
            self._trip(trips)
        self._progress(self._phase, snap=snap, flows={role: float(v[last]) for role, v in r.flows_ml_min.items()})
        return snap

    def _write_traces(self, traces: list[tuple[float, dict[str, float]]]) -> None:
        """Queue trace samples; write them now on hardware, or once :data:`TRACE_FLUSH_WALL_S` has passed."""
        traces = [(t, readings) for t, readings in traces if readings]
        if not traces:
            return
        self._traces += traces
        if self._trace_since is None:
            self._trace_since = time.monotonic()
        if not self._batch_traces or time.monotonic() - self._trace_since >= TRACE_FLUSH_WALL_S:
            self._flush_traces()

    def _flush_traces(self) -> None:
        """Write the queued trace samples: one transaction where the recorder takes many rows."""
        traces, self._traces, self._trace_since = self._traces, [], None
        if not traces or self.run_id is None:
            return
        many = getattr(self.recorder, "add_trace_points", None)
        if callable(many):
            many(self.run_id, [(t, ch, v) for t, readings in traces for ch, v in readings.items()])
            return
        by_t: dict[float, dict[str, float]] = {}  # one sample per instant
        for t, readings in traces:
            by_t.setdefault(t, {}).update(readings)
        for t, readings in by_t.items():
            self.recorder.record_sample(self.run_id, t, readings)

    def _flush_traces_if_possible(self) -> None:
        """:meth:`_flush_traces` where the store may already be failing (the original error is the one to report)."""
        try:
            self._flush_traces()
        except StorageError:
            pass

    def _tick(self) -> Snapshot:
        """One control period: sleep, service pumps, read devices, evaluate interlocks, trace, progress."""
        snap = self._read_tick()
        if self.pause_flag is not None and self.pause_flag() and snap.stop_reason is None:
            snap = self._hold(snap)
        return snap

    def _hold(self, snap: Snapshot) -> Snapshot:
        """Pause: hold the set points, keep the control loop (interlocks included) until the flag clears."""
        assert self.run_id is not None
        t0 = self.clock.now()
        phase = self._phase
        self.recorder.set_run_status(self.run_id, "paused")
        self._event("run.paused", f"paused in phase {phase}; set points held")
        self._phase = "paused"
        while self.pause_flag is not None and self.pause_flag() and snap.stop_reason is None:
            snap = self._read_tick()
        self._phase = phase
        held = self.clock.now() - t0
        self._paused_s += held
        self.recorder.set_run_status(self.run_id, "running")
        self._event("run.continued", f"continued after {held / 60:.1f} min paused", details={"paused_s": held})
        return snap

    def _read_tick(self) -> Snapshot:
        self.clock.sleep(self.ctl.control_period_s)
        if self._lease is not None:
            self._lease.renew()  # wall-clock throttled heartbeat
        t = self.clock.now()
        d = self.devices
        lost: dict[str, str] = {}

        def read(role: str, fn: Callable[[], Any]) -> Any:
            try:
                return fn()
            except DeviceTimeout as exc:
                lost[role] = str(exc)
            except DeviceError as exc:
                lost[role] = f"device fault: {exc}"
            return None

        flows: dict[str, float] = {}
        volumes: dict[str, float] = {}
        starved: dict[str, bool] = {}
        pump_bar: dict[str, float] = {}
        for role, pump in d.pumps().items():
            read(role, pump.service)  # the alternating pump's swap logic; a time-out marks the role lost
            if role in lost:
                continue
            q = read(role, pump.flow_ml_min)
            v = read(role, pump.volume_left_ml)
            s = read(role, pump.starved)
            pp = read(role, pump.pressure_bar) if self._pump_check and self._flows.get(role, 0.0) > 0 else None
            if pp is not None:
                pump_bar[role] = pp
            if q is not None:
                flows[role] = q
            if v is not None:
                volumes[role] = v
            if s is not None:
                starved[role] = bool(s) and self._flows.get(role, 0.0) > 0
        pressure = read("pressure", d.pressure.read_bar)
        temps: dict[str, float] = {}
        for role, h in d.heaters().items():
            v = read(role, h.read_c)
            if v is not None:
                temps[role] = v
        stop = self.stop_flag() if self.stop_flag is not None else None
        snap = Snapshot(t, pressure, temps, {r: self._setpoints.get(r) for r in temps}, starved, lost, stop,
                        pump_bar, dict(self._flows), self._model_pressure_bar(temps))
        self.last_snapshot = snap
        trips = self.interlocks.evaluate(snap)
        if trips:
            self._trip(trips)
        if t - self._last_trace_s >= self.ctl.trace_period_s - 1e-9 and self.run_id is not None:
            self._last_trace_s = t
            readings = {f"{r}.temperature_c": v for r, v in temps.items()}
            readings.update({f"{r}.flow_ml_min": v for r, v in flows.items()})
            readings.update({f"{r}.volume_ml": v for r, v in volumes.items()})
            if pressure is not None:
                readings["pressure_bar"] = float(pressure)
            self._write_traces([(t, readings)])
        self._progress(self._phase, snap=snap, flows=flows)
        return snap

    def _model_pressure_bar(self, temps: dict[str, Any]) -> float | None:
        """Hydraulic-model inlet pressure for the commanded flows at the measured block temperatures (or None)."""
        core_q = self._flows.get("core_pump", 0.0)
        ddt_q = self._flows.get("shell_pump", 0.0)
        t_core = finite_reading_or_none(temps.get("hb1"))
        t_shell = finite_reading_or_none(temps.get("hb2"))
        if core_q <= 0 or t_core is None:
            return None
        shell = ddt_q > 0 and self.process.shell_box is not None
        try:
            return float(self.process.pressure_drop_actual_bar(
                core_q, t_core, ddt_flow_ml_min=ddt_q if shell else 0.0, shell=shell,
                shell_temperature_c=t_shell if t_shell is not None else t_core,
                core_units=self._units[0], shell_units=self._units[1]))
        except FlowqdError:
            return None

    def _model_pressure_many(self, temps: dict[str, np.ndarray], n: int) -> np.ndarray:
        """:meth:`_model_pressure_bar` for ``n`` readings at the commanded flows (NaN for None), bit for bit."""
        hb1, hb2 = temps.get("hb1"), temps.get("hb2")
        core_q = self._flows.get("core_pump", 0.0)
        ddt_q = self._flows.get("shell_pump", 0.0)
        if core_q <= 0 or hb1 is None:
            return np.full(n, np.nan)
        t_core = np.where(np.isfinite(hb1), hb1, np.nan)
        t_shell = t_core if hb2 is None else np.where(np.isfinite(hb2), hb2, t_core)
        shell = ddt_q > 0 and self.process.shell_box is not None
        try:
            return self.process.pressure_drop_actual_bar_many(
                core_q, t_core, ddt_flow_ml_min=ddt_q if shell else 0.0, shell=shell, shell_temperature_c=t_shell,
                core_units=self._units[0], shell_units=self._units[1])
        except FlowqdError:  # reading by reading: those the model refuses are NaN, each on its own
            each = ({role: float(v[i]) for role, v in temps.items()} for i in range(n))
            return np.array([np.nan if (m := self._model_pressure_bar(t)) is None else m for t in each], dtype=float)

    def _guard(self, fn: Callable[[], Any], role: str) -> Any:
        """Call a device outside the tick; a time-out trips the lost-device interlock, a device fault the
        ``spectrometer_error`` (spectrometers) or ``device_error`` interlock."""
        try:
            return fn()
        except DeviceTimeout as exc:
            self._trip([Trip("lost_device", f"lost device {role}: {exc}", sensor=role)])
        except DeviceError as exc:
            kind = "spectrometer_error" if role in ("uvvis", "pl") else "device_error"
            self._trip([Trip(kind, f"{role} fault: {exc}", sensor=role)])

    # ================================================================================================ safety
    def _safe_state(self) -> list[str]:
        """Pumps stopped, heaters to the safe set point and off, valve to waste; returns failed actions."""
        d = self.devices
        safe_c = self.platform.interlocks.safe_setpoint_c
        failed: list[str] = []
        for role, pump in d.pumps().items():
            try:
                pump.stop()
            except FlowqdError as exc:
                failed.append(f"{role}.stop: {exc}")
            self._flows[role] = 0.0
        for role, h in d.heaters().items():
            try:
                h.set_setpoint_c(max(safe_c, h.min_c))
            except FlowqdError as exc:
                failed.append(f"{role}.set_setpoint_c: {exc}")
            try:
                h.stop()
            except FlowqdError as exc:
                failed.append(f"{role}.stop: {exc}")
            self._setpoints[role] = None
        try:
            d.outlet_valve.move("waste")
        except FlowqdError as exc:
            failed.append(f"outlet_valve.move: {exc}")
        return failed

    def _trip(self, trips: list[Trip]) -> None:
        failed = self._safe_state()
        first = trips[0]
        self.tripped = first
        if self.run_id is not None:
            for trip in trips:
                self._event(f"interlock.{trip.kind}", trip.message, level="error",
                            details={"value": trip.value, "threshold": trip.threshold, "failed_actions": failed,
                                     "condition": self._condition_index, "sensor": trip.sensor,
                                     "rule": trip.kind})
            self._flush_traces_if_possible()
            self._condition_done("failed")
            self.recorder.finish_run(self.run_id, "tripped")
        self._phase = "tripped"
        self._progress("tripped", message=first.message)
        extra = f" (safe-state actions that failed: {'; '.join(failed)})" if failed else ""
        raise InterlockTrip(f"interlock {first.kind}: {first.message}; pumps stopped, heaters off, outlet to waste"
                            f"{extra}. Resume explicitly with `flowqd run --resume {self.run_id}`")

    # ================================================================================================ helpers
    def _condition_done(self, status: str) -> None:
        if self._condition_id is not None:
            self.recorder.finish_condition(self._condition_id, status)
            self._condition_id = None

    def _event(self, kind: str, message: str, *, level: str = "info", details: dict[str, Any] | None = None) -> None:
        if self.run_id is not None:
            self.recorder.record_event(self.run_id, kind, message, level=level, t_s=self.clock.now(),
                                       details=details or {})

    def _phase_change(self, phase: str, duration_s: float | None = None) -> None:
        self._flush_traces()
        self._phase = phase
        if phase not in ("setpoints", "done"):
            msg = f"{phase}" + (f" for {duration_s / 60:.1f} min" if duration_s else "")
            self._event(f"phase.{phase}", msg, details={"condition": self._condition_index})
        self._progress(phase)

    def _progress(self, phase: str, *, snap: Snapshot | None = None, flows: dict[str, float] | None = None,
                  message: str = "") -> None:
        if self.on_progress is None or self.run_id is None:
            return
        snap = snap or self.last_snapshot
        now = self.clock.now()
        sp = {f"{r}.temperature_c": v for r, v in self._setpoints.items() if v is not None}
        sp.update({f"{r}.flow_ml_min": v for r, v in self._flows.items() if v})
        self.on_progress(Progress(
            run_id=self.run_id, t_s=now, phase=phase, condition_index=self._condition_index,
            n_conditions=self._n_conditions, label=self._label, setpoints=sp,
            temperatures_c=dict(snap.temperatures_c) if snap else {},
            pressure_bar=snap.pressure_bar if snap else None, flows_ml_min=dict(flows or {}),
            phase_remaining_s=(self._phase_end - now) if self._phase_end is not None else None,
            spectra=self._spectra_this_condition, last_analysis=self._last_analysis, message=message))

    @staticmethod
    def _describe(c: Conditions) -> str:
        s = f"HB1 {c.core_temperature_c:g} °C, {c.core_flow_ml_min:g} mL/min"
        if c.shell:
            s += f", DDT {c.ddt_flow_ml_min:g} mL/min, HB2 {c.shell_temperature_c:g} °C"
        return s
