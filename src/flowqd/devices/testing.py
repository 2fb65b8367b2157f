"""Test support: fake transports for the real drivers and the device contract test base classes.

Contract classes (pybaselines ``BaseTester`` / ophyd-async style): a test class for any implementation of a
protocol inherits the matching ``*Contract`` and defines ``make(self) -> (device, advance)``, where
``advance(dt_s)`` lets ``dt_s`` seconds of (simulated) time pass. Every implementation — simulated devices and
real drivers on fake transports — then runs the same behavioural checks. Never imported by runtime code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from flowqd.devices.clock import Clock
from flowqd.devices.protocols import (
    DeviceTimeout,
    PressureSensor,
    Spectrometer,
    SyringePump,
    TemperatureController,
    Valve,
)
from flowqd.errors import RangeError

__all__ = [
    "FakeModbusController",
    "FakePumpFirmware",
    "FakeSeabreezeDevice",
    "PressureSensorContract",
    "SpectrometerContract",
    "SyringePumpContract",
    "TemperatureControllerContract",
    "ValveContract",
]

Advance = Callable[[float], None]


# ================================================================================================ fakes
class FakePumpFirmware:
    """A :class:`~flowqd.devices.drivers.transport.LineTransport` emulating the serial pump controller."""

    def __init__(self, clock: Clock, addresses: tuple[int, ...] = (0, 1), volume_ml: float = 2.5,
                 refill_ml_min: float = 2.5) -> None:
        self.clock = clock
        self.volume_ml = volume_ml
        self.refill_ml_min = refill_ml_min
        self.state = {a: {"vol": volume_ml, "rate": 0.0, "mode": "IDLE"} for a in addresses}
        self.t = clock.now()
        self.dead = False
        self.log: list[str] = []

    def _advance(self) -> None:
        now = self.clock.now()
        dt_min = (now - self.t) / 60.0
        self.t = now
        for s in self.state.values():
            if s["mode"] == "RUN":
                s["vol"] = max(s["vol"] - s["rate"] * dt_min, 0.0)
                if s["vol"] == 0.0:
                    s["mode"], s["rate"] = "IDLE", 0.0
            elif s["mode"] == "REFILL":
                s["vol"] = min(s["vol"] + self.refill_ml_min * dt_min, self.volume_ml)
                if s["vol"] >= self.volume_ml:
                    s["mode"] = "IDLE"

    def query(self, line: str, timeout_s: float) -> str:
        """Answer one command line."""
        if self.dead:
            raise DeviceTimeout(f"no reply to {line!r} within {timeout_s:g} s")
        self.log.append(line)
        self._advance()
        parts = line.split()
        addr = int(parts[0])
        if addr not in self.state:
            raise DeviceTimeout(f"no device at address {addr}")
        s = self.state[addr]
        head = f"{addr:02d}"
        cmd = parts[1] if len(parts) > 1 else ""
        if cmd == "RAT" and len(parts) == 3:
            q = float(parts[2])
            if q < 0 or q > 10:
                return f"{head} ERR 3 out of range"
            s["rate"], s["mode"] = q, ("RUN" if q > 0 else "IDLE")
            return f"{head} OK"
        if cmd == "STP":
            s["rate"], s["mode"] = 0.0, "IDLE"
            return f"{head} OK"
        if cmd == "REF":
            s["rate"], s["mode"] = 0.0, "REFILL"
            return f"{head} OK"
        if cmd == "FLO?":
            return f"{head} FLO {s['rate'] if s['mode'] == 'RUN' else 0.0:.4f}"
        if cmd == "VOL?":
            return f"{head} VOL {s['vol']:.4f}"
        if cmd == "PRS?":
            return f"{head} PRS 0.010"
        if cmd == "STA?":
            return f"{head} STA {s['mode']}"
        return f"{head} ERR 1 unknown command"

    def close(self) -> None:
        """Nothing to release."""


class FakeModbusController:
    """A :class:`~flowqd.devices.drivers.transport.ModbusClient` emulating a Eurotherm-like controller.

    PV follows SP (auto mode, rate-limited set point) with a first-order lag ``tau_s``; manual 0 % output lets it
    cool to ``ambient_c`` with the same lag.
    """

    def __init__(self, clock: Clock, unit: int = 1, tau_s: float = 60.0, ambient_c: float = 25.0) -> None:
        self.clock = clock
        self.unit = unit
        self.tau_s = tau_s
        self.ambient_c = ambient_c
        self.regs: dict[int, int] = {1: 250, 2: 250, 3: 0, 5: 250, 35: 100, 273: 1}
        self.pv = ambient_c
        self.t = clock.now()
        self.dead = False

    def _advance(self) -> None:
        now = self.clock.now()
        dt = now - self.t
        self.t = now
        target = self.ambient_c if self.regs[273] == 1 else self.regs[2] / 10.0
        self.pv += (target - self.pv) * (1.0 - math.exp(-dt / self.tau_s))
        self.regs[1] = round(self.pv * 10) & 0xFFFF

    def read_registers(self, address: int, count: int, unit: int) -> list[int]:
        """Read registers."""
        if self.dead or unit != self.unit:
            raise DeviceTimeout(f"Modbus unit {unit}: no answer")
        self._advance()
        return [self.regs.get(address + i, 0) for i in range(count)]

    def write_register(self, address: int, value: int, unit: int) -> None:
        """Write a register."""
        if self.dead or unit != self.unit:
            raise DeviceTimeout(f"Modbus unit {unit}: no answer")
        self._advance()
        self.regs[address] = int(value) & 0xFFFF


class FakeSeabreezeDevice:
    """Stands in for ``seabreeze.spectrometers.Spectrometer``: lamp × 10^(−A) + dark + shot noise, 16-bit."""

    max_intensity = 65535.0
    integration_time_micros_limits = (1000, 10_000_000)

    def __init__(self, pixels: int = 2048, seed: int = 0) -> None:
        self._wl = np.linspace(400.0, 900.0, pixels)
        self._rng = np.random.default_rng(seed)
        self._int_us = 100_000
        self.absorbance = np.zeros(pixels)
        self.shutter_closed = False
        self.lamp_counts_100ms = 40000.0

    def wavelengths(self) -> np.ndarray:
        """Pixel wavelengths."""
        return self._wl.copy()

    def integration_time_micros(self, us: int) -> None:
        """Set the integration time."""
        self._int_us = int(us)

    def intensities(self, correct_dark_counts: bool = False, correct_nonlinearity: bool = False) -> np.ndarray:
        """One scan."""
        signal = 0.0 if self.shutter_closed else self.lamp_counts_100ms * self._int_us / 100_000 * 10 ** (
            -self.absorbance)
        mean = 1000.0 + signal
        return np.clip(mean + self._rng.normal(0, 1, self._wl.size) * np.sqrt(mean), 0, self.max_intensity)

    def set_shutter(self, closed: bool) -> None:
        """Shutter callback for the driver."""
        self.shutter_closed = closed


# ================================================================================================ contracts
class SyringePumpContract:
    """Behaviour every :class:`SyringePump` shows. Define ``make(self) -> (pump, advance)``."""

    make: Callable[..., tuple[Any, Advance]]
    flow_ml_min = 0.5

    def test_satisfies_protocol(self) -> None:
        pump, _ = self.make()
        assert isinstance(pump, SyringePump)
        assert pump.syringe_volume_ml > 0 and pump.max_flow_ml_min > pump.min_flow_ml_min >= 0

    def test_range_violation_raises_and_changes_nothing(self) -> None:
        pump, advance = self.make()
        with pytest.raises(RangeError):
            pump.set_flow_ml_min(pump.max_flow_ml_min * 1.5)
        with pytest.raises(RangeError):
            pump.set_flow_ml_min(-0.1)
        advance(30.0)
        assert pump.flow_ml_min() == 0.0
        assert pump.volume_left_ml() == pytest.approx(pump.syringe_volume_ml)

    def test_dispenses_and_books_volume(self) -> None:
        pump, advance = self.make()
        v0 = pump.volume_left_ml()
        pump.set_flow_ml_min(self.flow_ml_min)
        advance(60.0)
        assert pump.flow_ml_min() == pytest.approx(self.flow_ml_min, rel=0.05)
        used = v0 - pump.volume_left_ml()
        assert 0.8 * self.flow_ml_min <= used <= 1.02 * self.flow_ml_min  # start-up transient may cost up to 20 %

    def test_stop_is_immediate_and_idempotent(self) -> None:
        pump, advance = self.make()
        pump.set_flow_ml_min(self.flow_ml_min)
        advance(20.0)
        pump.stop()
        pump.stop()
        v = pump.volume_left_ml()
        advance(20.0)
        assert pump.flow_ml_min() == 0.0 and pump.volume_left_ml() == pytest.approx(v)

    def test_refill_restores_the_volume(self) -> None:
        pump, advance = self.make()
        pump.set_flow_ml_min(self.flow_ml_min)
        advance(120.0)
        pump.stop()
        assert pump.volume_left_ml() < pump.syringe_volume_ml - 0.5
        pump.refill()
        assert pump.is_refilling()
        advance(300.0)
        assert not pump.is_refilling()
        assert pump.volume_left_ml() == pytest.approx(pump.syringe_volume_ml, abs=1e-3)


class TemperatureControllerContract:
    """Behaviour every :class:`TemperatureController` shows. Define ``make(self) -> (controller, advance)``."""

    make: Callable[..., tuple[Any, Advance]]
    target_c = 150.0

    def test_satisfies_protocol(self) -> None:
        tc, _ = self.make()
        assert isinstance(tc, TemperatureController)
        assert tc.max_c > tc.min_c

    def test_out_of_range_set_point_raises_and_keeps_the_old_one(self) -> None:
        tc, _ = self.make()
        tc.set_setpoint_c(self.target_c)
        with pytest.raises(RangeError):
            tc.set_setpoint_c(tc.max_c + 1.0)
        with pytest.raises(RangeError):
            tc.set_ramp_c_min(tc.max_ramp_c_min * 2)
        assert tc.setpoint_c() == pytest.approx(self.target_c)

    def test_reaches_the_set_point_and_cools_when_stopped(self) -> None:
        tc, advance = self.make()
        tc.set_ramp_c_min(min(10.0, tc.max_ramp_c_min))
        tc.set_setpoint_c(self.target_c)
        advance(3600.0)
        assert tc.read_c() == pytest.approx(self.target_c, abs=1.0)
        tc.stop()
        tc.stop()
        advance(600.0)
        assert tc.read_c() < self.target_c - 20.0


class PressureSensorContract:
    """Define ``make(self) -> (sensor, advance)``."""

    make: Callable[..., tuple[Any, Advance]]

    def test_reads_a_finite_pressure(self) -> None:
        sensor, advance = self.make()
        assert isinstance(sensor, PressureSensor)
        advance(1.0)
        p = sensor.read_bar()
        assert math.isfinite(p) and -0.5 < p < sensor.max_bar


class ValveContract:
    """Define ``make(self) -> (valve, advance)``."""

    make: Callable[..., tuple[Any, Advance]]

    def test_moves_to_every_position_and_refuses_others(self) -> None:
        valve, _ = self.make()
        assert isinstance(valve, Valve)
        for pos in valve.positions:
            valve.move(pos)
            assert valve.position() == pos
        with pytest.raises(RangeError):
            valve.move("drain")
        assert valve.position() == valve.positions[-1]


class SpectrometerContract:
    """Define ``make(self) -> (spectrometer, advance)``; the flow cell must hold a blank."""

    make: Callable[..., tuple[Any, Advance]]

    def test_satisfies_protocol(self) -> None:
        spec, _ = self.make()
        assert isinstance(spec, Spectrometer)
        wl = spec.wavelength_nm()
        assert wl.ndim == 1 and np.all(np.diff(wl) > 0)

    def test_needs_dark_and_reference(self) -> None:
        spec, _ = self.make()
        with pytest.raises(RangeError):
            spec.acquire()
        spec.take_dark()
        if spec.mode == "absorbance":
            with pytest.raises(RangeError):
                spec.acquire()

    def test_blank_reads_zero_absorbance(self) -> None:
        spec, advance = self.make()
        spec.take_dark()
        if spec.mode == "absorbance":
            spec.take_reference()
        advance(1.0)
        r = spec.acquire()
        assert r.counts.shape == r.wavelength_nm.shape == r.spectrum.values.shape
        assert r.integration_ms == spec.integration_ms() and r.averages == spec.averages()
        assert r.saturated is False
        if spec.mode == "absorbance":
            assert r.spectrum.kind == "absorbance"
            assert abs(float(np.median(r.spectrum.values))) < 0.01
            assert float(np.std(r.spectrum.values)) < 0.02

    def test_integration_time_range_and_invalidation(self) -> None:
        spec, _ = self.make()
        with pytest.raises(RangeError):
            spec.set_integration_ms(0.0)
        spec.take_dark()
        spec.set_integration_ms(spec.integration_ms() / 2)
        with pytest.raises(RangeError):  # the dark of the old integration time is gone
            spec.acquire()
