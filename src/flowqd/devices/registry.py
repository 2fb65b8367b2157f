"""Building the platform's devices from a platform configuration.

The platform never imports a backend: :func:`build_devices` imports ``flowqd.devices.sim`` (for
``driver = "sim"``) or a real driver module from :data:`DRIVERS` *by name*, lazily, so runtime code has no import
of the simulation (enforced by import-linter) and the hardware libraries (pymodbus, pyserial, seabreeze) load
only when a device uses them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from flowqd.devices.clock import Clock
from flowqd.devices.protocols import (
    DualSyringePump,
    PressureSensor,
    Spectrometer,
    TemperatureController,
    Valve,
)
from flowqd.errors import ConfigError

__all__ = ["DRIVERS", "ROLES", "Devices", "build_devices"]

#: Device roles of a platform, in the order they are built.
ROLES: tuple[str, ...] = ("core_pump", "shell_pump", "hb1", "hb2", "pressure", "outlet_valve", "uvvis", "pl")

#: Real drivers: ``driver`` name → ``"module:factory"``; a factory is ``factory(role, config, clock) -> device``.
DRIVERS: dict[str, str] = {
    "serial-syringe": "flowqd.devices.drivers.serial_pump:from_config",
    "modbus-tc": "flowqd.devices.drivers.modbus_tc:from_config",
    "seabreeze": "flowqd.devices.drivers.ocean:from_config",
}


@dataclass
class Devices:
    """The platform's devices by role (optional roles may be ``None``).

    ``backend`` is the simulated plant when any device is simulated (fault injection in tests), else ``None``.
    ``fast_forward`` is a :class:`~flowqd.devices.clock.FastForward` when *every* device is simulated (the engine
    then moves the clock event to event), else ``None``.
    """

    core_pump: DualSyringePump
    hb1: TemperatureController
    pressure: PressureSensor
    outlet_valve: Valve
    uvvis: Spectrometer
    shell_pump: DualSyringePump | None = None
    hb2: TemperatureController | None = None
    pl: Spectrometer | None = None
    backend: Any = field(default=None, repr=False)
    fast_forward: Any = field(default=None, repr=False)

    def heaters(self) -> dict[str, TemperatureController]:
        """Heaters by role."""
        return {r: h for r, h in (("hb1", self.hb1), ("hb2", self.hb2)) if h is not None}

    def pumps(self) -> dict[str, DualSyringePump]:
        """Pumps by role."""
        return {r: p for r, p in (("core_pump", self.core_pump), ("shell_pump", self.shell_pump)) if p is not None}


def build_devices(platform_config: Any, clock: Clock, twin: Any = None) -> Devices:
    """Build every configured device of ``platform_config`` (a :class:`flowqd.platform.config.PlatformConfig`).

    Parameters
    ----------
    platform_config : PlatformConfig
    clock : Clock
        The clock the devices (and the engine) use.
    twin : object, optional
        Twin for the simulated devices (default: per ``[sim] twin``).

    Raises
    ------
    ConfigError
        Unknown driver name (the message names the role's key and the value).
    """
    cfg = platform_config.devices
    source = getattr(platform_config, "source", "<platform>")
    roles = {r: getattr(cfg, r) for r in ROLES if getattr(cfg, r, None) is not None}
    for role, dev in roles.items():
        if dev.driver != "sim" and dev.driver not in DRIVERS:
            raise ConfigError(f"devices.{role}.driver = {dev.driver!r}: unknown driver "
                              f"(known: sim, {', '.join(sorted(DRIVERS))})", source=source)
    built: dict[str, Any] = {}
    backend = None
    sim_roles = tuple(r for r, d in roles.items() if d.driver == "sim")
    if sim_roles:
        sim = importlib.import_module("flowqd.devices.sim")
        sim_devices, backend = sim.build_sim_devices(platform_config, clock, twin=twin, roles=sim_roles)
        built.update(sim_devices)
    for role, dev in roles.items():
        if dev.driver == "sim":
            continue
        module_name, factory = DRIVERS[dev.driver].split(":")
        module = importlib.import_module(module_name)
        built[role] = getattr(module, factory)(role, dev, clock)
    all_sim = len(sim_roles) == len(roles)
    return Devices(**built, backend=backend,
                   fast_forward=getattr(backend, "fast_forward", None) if all_sim else None)
