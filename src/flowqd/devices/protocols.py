"""Capability protocols of the platform's devices.

Every device the run engine touches is one of these narrow, *synchronous* protocols (``typing.Protocol``,
``runtime_checkable``). Synchronous was chosen on purpose: the engine is a single control loop ticking once per
control period (1 s on the paper's platform), every call is short (a register read, one serial line, one
spectrum of ≤ 1 s) and a synchronous loop is trivially deterministic under a simulated clock. A real driver
whose call can hang must bound it with its transport timeout and raise :class:`DeviceTimeout`.

Rules every implementation follows (the contract tests in ``tests/devices`` check them):

* units are in the names (``_ml_min``, ``_c``, ``_bar``, ``_ms``, ``_nm``);
* a set point outside the device's range raises :class:`~flowqd.errors.RangeError` — never a silent clamp;
* a device that stops answering raises :class:`DeviceTimeout` (the interlocks then trip "lost device");
* ``stop()`` is always safe to call and idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from flowqd.analysis.spectrum import Spectrum
from flowqd.errors import FlowqdError, RangeError

__all__ = [
    "VALVE_POSITIONS",
    "DeviceError",
    "DeviceTimeout",
    "DualSyringePump",
    "FlowSource",
    "PressureSensor",
    "Spectrometer",
    "SpectrumReading",
    "SyringePump",
    "TemperatureController",
    "Valve",
    "absorbance_from_counts",
    "check_ramp",
    "check_range",
    "spectrum_reading",
]

#: Outlet valve positions: ``waste`` (flush, start-up, safe state), ``collect`` (product), ``sample`` (offline vial).
VALVE_POSITIONS: tuple[str, ...] = ("waste", "collect", "sample")


class DeviceTimeout(FlowqdError, TimeoutError):
    """A device did not answer within its time-out (the "lost device" interlock trips on this)."""


class DeviceError(FlowqdError, RuntimeError):
    """A device answered with a fault (stall, command error, exception code)."""


def check_range(what: str, value: float, low: float, high: float, unit: str) -> float:
    """Return ``float(value)`` or raise :class:`RangeError` naming ``what`` when outside ``[low, high]``.

    >>> check_range("flow", 0.1, 0.0, 1.5, "mL/min")
    0.1
    """
    v = float(value)
    if not np.isfinite(v) or v < low or v > high:
        raise RangeError(f"{what} = {value:g} {unit} is outside [{low:g}, {high:g}] {unit}")
    return v


def check_ramp(name: str, rate_c_min: float, max_ramp_c_min: float) -> float:
    """Return the set-point ramp rate or raise :class:`RangeError` when outside (0, ``max_ramp_c_min``] °C/min.

    >>> check_ramp("hb1", 10, 20)
    10.0
    """
    r = float(rate_c_min)
    if not 0 < r <= max_ramp_c_min:
        raise RangeError(f"{name} ramp = {r:g} °C/min is outside (0, {max_ramp_c_min:g}] °C/min")
    return r


@runtime_checkable
class FlowSource(Protocol):
    """What every pump offers the engine: a flow set point, the delivered flow, volume, pressure and stop.

    Attributes
    ----------
    name : str
    syringe_volume_ml : float
        Nominal syringe volume (2.5 mL on the paper's platform).
    pressure_rating_bar : float
        Maximum allowed pressure (20 bar on the paper's platform).
    min_flow_ml_min, max_flow_ml_min : float
        Range of a non-zero flow set point; 0 means stop.
    """

    name: str
    syringe_volume_ml: float
    pressure_rating_bar: float
    min_flow_ml_min: float
    max_flow_ml_min: float

    def set_flow_ml_min(self, flow_ml_min: float) -> None:
        """Dispense at ``flow_ml_min`` (0 stops); outside ``[min, max]`` raises RangeError."""
        ...

    def flow_ml_min(self) -> float:
        """Delivered flow, mL/min."""
        ...

    def volume_left_ml(self) -> float:
        """Liquid left in the (active) syringe, mL."""
        ...

    def pressure_bar(self) -> float:
        """Pressure at the pump outlet, bar (gauge)."""
        ...

    def stop(self) -> None:
        """Stop the drive at once."""
        ...


@runtime_checkable
class SyringePump(FlowSource, Protocol):
    """One syringe with a refill valve to its reservoir."""

    def refill(self) -> None:
        """Start refilling from the reservoir (non-blocking; flow set point must be 0)."""
        ...

    def is_refilling(self) -> bool:
        """True while a refill is under way."""
        ...


@runtime_checkable
class DualSyringePump(FlowSource, Protocol):
    """Two syringes alternating to give a truly continuous flow (the paper's core pump).

    The flow set point and reading are the total of both syringes. The engine calls :meth:`service` once per
    control period; it starts the partner syringe before the active one empties (overlap) and refills the emptied
    one, so the delivered flow has no gap.
    """

    def active_syringe(self) -> str:
        """Name of the syringe now dispensing ("A" or "B")."""
        ...

    def partner_ready(self) -> bool:
        """True when the idle syringe is full and can take over."""
        ...

    def starved(self) -> bool:
        """True when the active syringe is at its hand-over volume and no partner is ready (about to run dry)."""
        ...

    def service(self) -> None:
        """Do the alternation bookkeeping (call once per control period)."""
        ...


@runtime_checkable
class TemperatureController(Protocol):
    """A heating box controller (PID on the block temperature).

    Attributes
    ----------
    min_c, max_c : float
        Allowed set-point range (HB1: up to 350 °C, HB2: up to 220 °C in the paper).
    max_ramp_c_min : float
        Fastest allowed set-point ramp.
    """

    name: str
    min_c: float
    max_c: float
    max_ramp_c_min: float

    def set_setpoint_c(self, temperature_c: float) -> None:
        """Target temperature; outside ``[min_c, max_c]`` raises RangeError. Re-enables the output."""
        ...

    def setpoint_c(self) -> float:
        """Current target temperature, °C."""
        ...

    def set_ramp_c_min(self, rate_c_min: float) -> None:
        """Set-point ramp rate, °C/min (``0 < rate <= max_ramp_c_min``)."""
        ...

    def ramp_c_min(self) -> float:
        """Set-point ramp rate, °C/min."""
        ...

    def read_c(self) -> float:
        """Measured block temperature (process value), °C."""
        ...

    def stop(self) -> None:
        """Switch the heating output off (safe state)."""
        ...


@runtime_checkable
class PressureSensor(Protocol):
    """Inline pressure transducer."""

    name: str
    max_bar: float

    def read_bar(self) -> float:
        """Pressure, bar (gauge)."""
        ...


@runtime_checkable
class Valve(Protocol):
    """Outlet selection valve."""

    name: str
    positions: tuple[str, ...]

    def move(self, position: str) -> None:
        """Switch to ``position``; an unknown position raises RangeError."""
        ...

    def position(self) -> str:
        """Current position."""
        ...


@dataclass(frozen=True)
class SpectrumReading:
    """One acquisition: raw counts plus the processed :class:`~flowqd.analysis.spectrum.Spectrum`.

    Attribute names match what :meth:`flowqd.store.Store.record_spectrum` reads from a raw acquisition.

    Attributes
    ----------
    kind : {"absorbance", "pl"}
    wavelength_nm : ndarray, shape (N,)
        Detector pixel wavelengths.
    counts : ndarray, shape (N,)
        Sample counts (mean over ``averages`` scans).
    dark, reference : ndarray or None
        Dark counts and (absorbance only) reference counts at the same integration time.
    spectrum : Spectrum
        Absorbance (decadic, the flow cell's path) or dark-corrected PL intensity.
    integration_ms : float
    averages : int
    saturated : bool
        True when any sample pixel reached the detector's full well.
    t_s : float
        Clock time of the acquisition.
    """

    kind: str
    wavelength_nm: np.ndarray
    counts: np.ndarray
    dark: np.ndarray | None
    reference: np.ndarray | None
    spectrum: Spectrum
    integration_ms: float
    averages: int
    saturated: bool
    t_s: float
    meta: dict[str, Any] = field(default_factory=dict)


def absorbance_from_counts(counts: np.ndarray, dark: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Decadic absorbance ``A = -log10((S - D) / (R - D))``.

    A pixel whose dark-corrected signal is below one count is photon-starved: its absorbance is reported at the
    detection limit ``log10(R - D)`` (the most a one-count signal can tell), not as infinity.

    >>> absorbance_from_counts(np.array([1100.0]), np.array([100.0]), np.array([10100.0])).round(6).tolist()
    [1.0]
    """
    s = np.asarray(counts, dtype=float) - np.asarray(dark, dtype=float)
    r = np.asarray(reference, dtype=float) - np.asarray(dark, dtype=float)
    if np.any(r <= 1.0):
        raise RangeError("reference counts do not exceed the dark counts: take a new reference (lamp on?)")
    return -np.log10(np.maximum(s, 1.0) / r)


def spectrum_reading(name: str, mode: str, wavelength_nm: np.ndarray, counts: np.ndarray, dark: np.ndarray,
                     reference: np.ndarray | None, *, integration_ms: float, averages: int, path_mm: float,
                     saturated: bool, t_s: float, metadata: dict[str, Any] | None = None) -> SpectrumReading:
    """The :class:`SpectrumReading` of one acquisition: absorbance (``mode="absorbance"``, needs ``reference``) or
    dark-subtracted photon counts (PL), with the acquisition settings in the spectrum's metadata."""
    if mode == "absorbance":
        if reference is None:
            raise RangeError(f"{name}: take a reference spectrum first")
        values, kind = absorbance_from_counts(counts, dark, reference), "absorbance"
    else:
        values, kind = counts - dark, "intensity"
    spectrum = Spectrum(wavelength_nm, values, kind=kind, source=f"{name}@{t_s:.1f}s",
                        metadata={"integration_ms": integration_ms, "averages": averages, "path_mm": path_mm,
                                  "quantity": "photon", **(metadata or {})})
    return SpectrumReading(kind="absorbance" if mode == "absorbance" else "pl", wavelength_nm=wavelength_nm.copy(),
                           counts=counts, dark=dark.copy(), reference=None if reference is None else reference.copy(),
                           spectrum=spectrum, integration_ms=integration_ms, averages=averages, saturated=saturated,
                           t_s=t_s)


@runtime_checkable
class Spectrometer(Protocol):
    """Fibre spectrometer on the flow cell: UV-vis absorbance (``mode="absorbance"``) or PL (``mode="pl"``).

    Attributes
    ----------
    mode : {"absorbance", "pl"}
    full_well_counts : float
        Counts at which a pixel saturates.
    path_mm : float
        Optical path of the flow cell (1 mm on the paper's platform).
    """

    name: str
    mode: str
    full_well_counts: float
    path_mm: float

    def wavelength_nm(self) -> np.ndarray:
        """Pixel wavelengths, nm (increasing)."""
        ...

    def integration_ms(self) -> float:
        """Integration time per scan, ms."""
        ...

    def set_integration_ms(self, integration_ms: float) -> None:
        """Set the integration time (range checked; invalidates the dark and reference)."""
        ...

    def averages(self) -> int:
        """Scans averaged per acquisition."""
        ...

    def set_averages(self, averages: int) -> None:
        """Set the scans averaged per acquisition (≥ 1)."""
        ...

    def take_dark(self) -> np.ndarray:
        """Acquire and keep a dark spectrum (shutter closed) at the current integration time."""
        ...

    def take_reference(self) -> np.ndarray:
        """Acquire and keep a reference (blank) spectrum; absorbance mode only."""
        ...

    def acquire(self) -> SpectrumReading:
        """Acquire one (averaged) spectrum; needs a dark (and a reference in absorbance mode)."""
        ...
