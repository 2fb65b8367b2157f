"""An Ocean Insight spectrometer through python-seabreeze, as a :class:`Spectrometer`.

The driver wraps any object with seabreeze's ``Spectrometer`` methods (``wavelengths()``,
``intensities(correct_dark_counts, correct_nonlinearity)``, ``integration_time_micros(us)``, ``max_intensity``,
``integration_time_micros_limits``), so it is tested against a fake. Averaging, dark and reference are done here;
absorbance is ``-log10((S − D)/(R − D))`` (:func:`~flowqd.devices.protocols.absorbance_from_counts`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from flowqd.devices.clock import Clock
from flowqd.devices.protocols import (
    DeviceError,
    DeviceTimeout,
    SpectrumReading,
    check_range,
    spectrum_reading,
)
from flowqd.errors import ConfigError, RangeError

__all__ = ["OceanSpectrometer", "from_config"]


class OceanSpectrometer:
    """A seabreeze spectrometer on the flow cell."""

    def __init__(self, device: Any, name: str, clock: Clock, *, mode: str = "absorbance", path_mm: float = 1.0,
                 integration_ms: float = 100.0, averages: int = 10,
                 shutter: Callable[[bool], None] | None = None) -> None:
        if mode not in ("absorbance", "pl"):
            raise RangeError(f"{name}: unknown spectrometer mode {mode!r} (absorbance, pl)")
        self._dev = device
        self._shutter = shutter
        self.name = name
        self._clock = clock
        self.mode = mode
        self.path_mm = float(path_mm)
        self.full_well_counts = float(device.max_intensity)
        lo_us, hi_us = device.integration_time_micros_limits
        self._limits_ms = (lo_us / 1000.0, hi_us / 1000.0)
        self._wl = np.asarray(self._call(device.wavelengths), dtype=float)
        self._avg = 1
        self._dark: np.ndarray | None = None
        self._reference: np.ndarray | None = None
        self.set_integration_ms(integration_ms)
        self.set_averages(averages)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (DeviceTimeout, DeviceError, RangeError):
            raise
        except Exception as exc:  # seabreeze raises SeaBreezeError / USB errors
            text = f"{self.name}: {type(exc).__name__}: {exc}"
            raise (DeviceTimeout(text) if "timeout" in str(exc).lower() else DeviceError(text)) from exc

    def wavelength_nm(self) -> np.ndarray:
        """Pixel wavelengths, nm."""
        return self._wl.copy()

    def integration_ms(self) -> float:
        """Integration time, ms."""
        return self._int_ms

    def set_integration_ms(self, integration_ms: float) -> None:
        """Set the integration time (drops dark and reference)."""
        self._int_ms = check_range(f"{self.name} integration time", integration_ms, *self._limits_ms, "ms")
        self._call(self._dev.integration_time_micros, round(self._int_ms * 1000))
        self._dark = self._reference = None

    def averages(self) -> int:
        """Scans averaged per acquisition."""
        return self._avg

    def set_averages(self, averages: int) -> None:
        """Scans per acquisition (1-1000)."""
        self._avg = int(check_range(f"{self.name} averages", averages, 1, 1000, ""))

    def _scan(self) -> tuple[np.ndarray, bool]:
        scans = np.array([self._call(self._dev.intensities, False, False) for _ in range(self._avg)], dtype=float)
        return scans.mean(axis=0), bool(np.any(scans >= self.full_well_counts))

    def take_dark(self) -> np.ndarray:
        """Dark spectrum: the ``shutter`` callback closes the light path (else the operator must)."""
        if self._shutter is not None:
            self._shutter(True)
        try:
            self._dark, _ = self._scan()
        finally:
            if self._shutter is not None:
                self._shutter(False)
        return self._dark.copy()

    def take_reference(self) -> np.ndarray:
        """Reference spectrum: the lamp through the blank (absorbance), or the PLQY blank on an integrating sphere
        (PL mode: excitation scattered by the sphere with solvent/stock only in the cell)."""
        self._reference, saturated = self._scan()
        if saturated:
            raise RangeError(f"{self.name}: reference saturated at {self._int_ms:g} ms; lower the integration time")
        return self._reference.copy()

    def acquire(self) -> SpectrumReading:
        """One averaged acquisition."""
        if self._dark is None:
            raise RangeError(f"{self.name}: take a dark spectrum first")
        counts, saturated = self._scan()
        return spectrum_reading(self.name, self.mode, self._wl, counts, self._dark, self._reference,
                                integration_ms=self._int_ms, averages=self._avg, path_mm=self.path_mm,
                                saturated=saturated, t_s=self._clock.now())


def from_config(role: str, cfg: Any, clock: Clock, device: Any = None) -> OceanSpectrometer:
    """Open the spectrometer with serial number ``port`` (or the first one) via seabreeze."""
    if device is None:
        try:
            from seabreeze.spectrometers import Spectrometer  # pyright: ignore[reportMissingImports]  # [hardware] extra
        except ImportError:
            raise ConfigError("driver 'seabreeze' needs python-seabreeze: pip install 'flowqd[hardware]'") from None
        device = Spectrometer.from_serial_number(cfg.port) if cfg.port else Spectrometer.from_first_available()
    return OceanSpectrometer(device, role, clock, mode=cfg.mode, path_mm=cfg.path_mm,
                             integration_ms=cfg.integration_ms, averages=cfg.averages)
