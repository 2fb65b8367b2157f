"""Simulated devices: thin views on a :class:`~flowqd.devices.sim.plant.SimPlant` implementing the protocols."""

from __future__ import annotations

import numpy as np

from flowqd.devices.protocols import (
    VALVE_POSITIONS,
    SpectrumReading,
    check_ramp,
    check_range,
    spectrum_reading,
)
from flowqd.devices.sim.plant import SimPlant
from flowqd.errors import RangeError

__all__ = ["SimPressureSensor", "SimSpectrometer", "SimSyringePump", "SimTemperatureController", "SimValve"]


class SimSyringePump:
    """One simulated syringe (see :class:`~flowqd.devices.sim.plant.SyringeParams`)."""

    def __init__(self, plant: SimPlant, name: str, *, device: str, pressure_rating_bar: float = 20.0,
                 min_flow_ml_min: float = 0.03, max_flow_ml_min: float = 1.5) -> None:
        self._plant = plant
        self.name = name
        self.device = device
        self.syringe_volume_ml = plant.syringes[name].params.volume_ml
        self.pressure_rating_bar = float(pressure_rating_bar)
        self.min_flow_ml_min = float(min_flow_ml_min)
        self.max_flow_ml_min = float(max_flow_ml_min)

    def _ok(self) -> None:
        self._plant.check_alive(self.device)
        self._plant.advance()

    def set_flow_ml_min(self, flow_ml_min: float) -> None:
        """Dispense at ``flow_ml_min`` (0 stops)."""
        self._ok()
        q = float(flow_ml_min)
        if q != 0.0:
            check_range(f"{self.name} flow", q, self.min_flow_ml_min, self.max_flow_ml_min, "mL/min")
        self._plant.set_syringe_flow(self.name, q)

    def flow_ml_min(self) -> float:
        """Delivered flow, mL/min."""
        self._ok()
        return self._plant.syringes[self.name].flow_ml_min

    def volume_left_ml(self) -> float:
        """Liquid left, mL."""
        self._ok()
        return self._plant.syringes[self.name].volume_ml

    def pressure_bar(self) -> float:
        """Outlet pressure, bar."""
        self._ok()
        return self._plant.pressure_bar()

    def refill(self) -> None:
        """Start a refill from the reservoir."""
        self._ok()
        self._plant.refill_syringe(self.name)

    def is_refilling(self) -> bool:
        """True while refilling."""
        self._ok()
        return self._plant.syringes[self.name].refilling

    def stop(self) -> None:
        """Stop at once."""
        self._ok()
        self._plant.stop_syringe(self.name)


class SimTemperatureController:
    """A simulated heating-box controller (PI on a lumped thermal mass)."""

    def __init__(self, plant: SimPlant, name: str, *, min_c: float, max_c: float, max_ramp_c_min: float,
                 device: str | None = None) -> None:
        self._plant = plant
        self.name = name
        self.device = device or name
        self.min_c = float(min_c)
        self.max_c = float(max_c)
        self.max_ramp_c_min = float(max_ramp_c_min)

    @property
    def _h(self):
        self._plant.check_alive(self.device)
        self._plant.advance()
        return self._plant.heaters[self.name]

    def set_setpoint_c(self, temperature_c: float) -> None:
        """Target temperature (range-checked); switches the output on."""
        t = check_range(f"{self.name} set point", temperature_c, self.min_c, self.max_c, "°C")
        h = self._h
        if not h.enabled:
            h.ramped_c = h.temperature_c
            h.integral_w = 0.0
            h.enabled = True
        h.setpoint_c = t

    def setpoint_c(self) -> float:
        """Target temperature, °C."""
        return self._h.setpoint_c

    def set_ramp_c_min(self, rate_c_min: float) -> None:
        """Set-point ramp rate, °C/min."""
        r = check_ramp(self.name, rate_c_min, self.max_ramp_c_min)
        self._h.ramp_c_min = r

    def ramp_c_min(self) -> float:
        """Set-point ramp rate, °C/min."""
        return self._h.ramp_c_min

    def read_c(self) -> float:
        """Block temperature with sensor noise, °C."""
        h = self._h
        return float(h.temperature_c + self._plant.rng.normal(0.0, h.params.noise_c))

    def stop(self) -> None:
        """Output off (and the runaway relay opened)."""
        h = self._h
        h.enabled = False
        h.runaway = False
        h.integral_w = 0.0


class SimPressureSensor:
    """Simulated inlet pressure transducer."""

    def __init__(self, plant: SimPlant, name: str, *, max_bar: float = 25.0) -> None:
        self._plant = plant
        self.name = name
        self.max_bar = float(max_bar)

    def read_bar(self) -> float:
        """Pressure, bar (readings above the sensor range saturate at ``max_bar``)."""
        self._plant.check_alive(self.name)
        return min(self._plant.pressure_bar(), self.max_bar)


class SimValve:
    """Simulated outlet valve."""

    positions: tuple[str, ...] = VALVE_POSITIONS

    def __init__(self, plant: SimPlant, name: str) -> None:
        self._plant = plant
        self.name = name

    def move(self, position: str) -> None:
        """Switch position."""
        self._plant.check_alive(self.name)
        if position not in self.positions:
            raise RangeError(f"{self.name}: unknown position {position!r} (one of {', '.join(self.positions)})")
        self._plant.advance()
        self._plant.valve_position = position

    def position(self) -> str:
        """Current position."""
        self._plant.check_alive(self.name)
        return self._plant.valve_position


class SimSpectrometer:
    """Simulated fibre spectrometer on the flow cell (absorbance or PL).

    Counts per pixel: ``dark + lamp(λ)·(t_int/100 ms)·10^(−A(λ))`` (absorbance) or
    ``dark + pl_peak_counts·(t_int/100 ms)·PL(λ)`` (PL), with shot noise (1 count per photo-electron), read
    noise, averaging over ``averages`` scans and clipping at ``full_well_counts``. ``A(λ)`` is the twin's
    absorbance of the flow-cell content (RTD-blended, see the plant) for ``path_mm``.
    """

    def __init__(self, plant: SimPlant, name: str, *, mode: str = "absorbance", path_mm: float = 1.0,
                 wavelength_min_nm: float = 400.0, wavelength_max_nm: float = 900.0, pixels: int = 2048,
                 integration_ms: float = 100.0, averages: int = 10, full_well_counts: float = 65535.0,
                 lamp_peak_counts: float = 42000.0, pl_peak_counts: float = 30000.0, dark_counts: float = 1000.0,
                 read_noise_counts: float = 8.0, min_integration_ms: float = 1.0,
                 max_integration_ms: float = 10000.0, excitation_nm: float | None = None,
                 excitation_fwhm_nm: float = 8.0, sphere_excitation_counts: float = 25000.0) -> None:
        if mode not in ("absorbance", "pl"):
            raise RangeError(f"{name}: unknown spectrometer mode {mode!r} (absorbance, pl)")
        self._plant = plant
        self.name = name
        self.mode = mode
        self.path_mm = float(path_mm)
        self.full_well_counts = float(full_well_counts)
        self._wl = np.linspace(float(wavelength_min_nm), float(wavelength_max_nm), int(pixels))
        self._int_ms = float(integration_ms)
        self._avg = int(averages)
        self._lamp_peak = float(lamp_peak_counts)
        self._pl_peak = float(pl_peak_counts)
        self._dark_level = float(dark_counts)
        self._read_noise = float(read_noise_counts)
        self._int_range = (float(min_integration_ms), float(max_integration_ms))
        self._dark: np.ndarray | None = None
        self._reference: np.ndarray | None = None
        # Deuterium-halogen lamp through fibre + flow cell: broad halogen hump, weaker towards 400 nm.
        x = self._wl
        self._lamp_shape = 0.25 + 0.75 * np.exp(-0.5 * ((x - 640.0) / 170.0) ** 2)
        self._lamp_shape /= self._lamp_shape.max()
        # Integrating sphere (PL mode with an excitation wavelength): LED band scattered by the sphere, peak 1.
        self.excitation_nm = None if excitation_nm is None else float(excitation_nm)
        self._sphere_counts = float(sphere_excitation_counts)
        sig = float(excitation_fwhm_nm) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        self._exc_shape = (np.exp(-0.5 * ((x - self.excitation_nm) / sig) ** 2) if self.excitation_nm is not None
                           else np.zeros_like(x))

    def _ok(self) -> None:
        self._plant.check_alive(self.name)
        self._plant.advance()

    def wavelength_nm(self) -> np.ndarray:
        """Pixel wavelengths, nm."""
        return self._wl.copy()

    def integration_ms(self) -> float:
        """Integration time, ms."""
        return self._int_ms

    def set_integration_ms(self, integration_ms: float) -> None:
        """Set the integration time (drops dark and reference)."""
        self._int_ms = check_range(f"{self.name} integration time", integration_ms, *self._int_range, "ms")
        self._dark = None
        self._reference = None

    def averages(self) -> int:
        """Scans per acquisition."""
        return self._avg

    def set_averages(self, averages: int) -> None:
        """Set scans per acquisition (1-1000)."""
        self._avg = int(check_range(f"{self.name} averages", averages, 1, 1000, ""))

    def _scan(self, signal: np.ndarray) -> np.ndarray:
        rng = self._plant.rng
        n = self._avg
        mean = self._dark_level + signal
        noise = np.sqrt(np.maximum(mean, 0.0) / n + self._read_noise**2 / n)
        counts = mean + rng.normal(0.0, 1.0, mean.shape) * noise
        return np.clip(counts, 0.0, self.full_well_counts)

    def _scale(self) -> float:
        return self._int_ms / 100.0

    def take_dark(self) -> np.ndarray:
        """Shutter closed."""
        self._ok()
        self._dark = self._scan(np.zeros_like(self._wl))
        return self._dark.copy()

    @property
    def sphere(self) -> bool:
        """PL in an integrating sphere (an excitation wavelength is set): the reference is the PLQY blank."""
        return self.mode == "pl" and self.excitation_nm is not None

    def _excitation(self) -> np.ndarray:
        return self._sphere_counts * self._scale() * self._exc_shape

    def take_reference(self) -> np.ndarray:
        """Absorbance: lamp through the blank (solvent bypass of the flow cell). Sphere PL: the blank — the
        scattered excitation band with stock/solvent only in the cell (measurement 1 of the two-measurement PLQY).
        """
        self._ok()
        if self.sphere:
            self._reference = self._scan(self._excitation())
            return self._reference.copy()
        if self.mode != "absorbance":
            raise RangeError(f"{self.name}: a reference is only taken in absorbance mode or on a sphere")
        self._reference = self._scan(self._lamp_peak * self._scale() * self._lamp_shape)
        return self._reference.copy()

    def acquire(self) -> SpectrumReading:
        """One averaged acquisition of the flow cell."""
        self._ok()
        if self._dark is None:
            raise RangeError(f"{self.name}: take a dark spectrum first (integration time changed?)")
        if self.mode == "absorbance":
            if self._reference is None:
                raise RangeError(f"{self.name}: take a reference spectrum first")
            a = self._plant.outlet_absorbance(self._wl, self.path_mm)
            signal = self._lamp_peak * self._scale() * self._lamp_shape * 10.0 ** (-a)
        elif self.sphere:
            if self._reference is None:
                raise RangeError(f"{self.name}: take the blank (reference) spectrum first")
            assert self.excitation_nm is not None
            absorptance, emission = self._plant.outlet_sphere(self._wl, self.excitation_nm, self.path_mm)
            exc = self._excitation()
            absorbed = absorptance * float(np.trapezoid(exc, self._wl))  # counts·nm of absorbed photons
            signal = (1.0 - absorptance) * exc + absorbed * emission
        else:
            signal = self._pl_peak * self._scale() * self._plant.outlet_pl(self._wl)
        raw_mean = self._dark_level + signal
        saturated = bool(np.any(raw_mean >= self.full_well_counts))
        counts = self._scan(signal)
        return spectrum_reading(self.name, self.mode, self._wl, counts, self._dark, self._reference,
                                integration_ms=self._int_ms, averages=self._avg, path_mm=self.path_mm,
                                saturated=saturated, t_s=self._plant.clock.now(),
                                metadata={"excitation_nm": self.excitation_nm} if self.sphere else None)
