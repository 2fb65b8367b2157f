"""Device layer: capability protocols, clocks, the device registry, real drivers and (in ``devices.sim``) the
simulated platform.

Runtime code (platform, store, report) imports only this package's public names; the simulation and the
hardware drivers are imported by name inside :func:`build_devices`.
"""

from flowqd.devices.alternating import AlternatingPump
from flowqd.devices.clock import Clock, RealClock, SimClock
from flowqd.devices.protocols import (
    VALVE_POSITIONS,
    DeviceError,
    DeviceTimeout,
    DualSyringePump,
    PressureSensor,
    Spectrometer,
    SpectrumReading,
    SyringePump,
    TemperatureController,
    Valve,
    absorbance_from_counts,
)
from flowqd.devices.registry import DRIVERS, ROLES, Devices, build_devices

__all__ = [
    "DRIVERS",
    "ROLES",
    "VALVE_POSITIONS",
    "AlternatingPump",
    "Clock",
    "DeviceError",
    "DeviceTimeout",
    "Devices",
    "DualSyringePump",
    "PressureSensor",
    "RealClock",
    "SimClock",
    "Spectrometer",
    "SpectrumReading",
    "SyringePump",
    "TemperatureController",
    "Valve",
    "absorbance_from_counts",
    "build_devices",
]
