"""A Modbus-RTU temperature controller (e.g. Eurotherm 3200) as a :class:`TemperatureController`.

The register map is data (``drivers/data/<model>.toml``: name → ``{address, scale}``), read at construction and
validated like every config (:mod:`flowqd._toml`: an unknown register name or key is an error, never ignored);
values are 16-bit two's-complement integers times ``scale``. Switching the output off (safe state) puts the loop
in manual mode with 0 % output; a new set point returns it to automatic.
"""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flowqd import _toml
from flowqd.devices.clock import Clock
from flowqd.devices.drivers.transport import ModbusClient, PymodbusClient
from flowqd.devices.protocols import check_ramp, check_range
from flowqd.errors import ConfigError, RangeError

__all__ = ["ModbusTemperatureController", "RegisterMap", "from_config", "load_register_map"]

REQUIRED = ("process_value", "target_setpoint", "output_percent", "setpoint_rate", "auto_manual")
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class _Register(BaseModel):
    """``{address, scale}``: a 16-bit holding register; engineering value = raw × scale."""

    model_config = _STRICT

    address: int = Field(ge=0, le=65535)
    scale: float = Field(default=1.0, gt=0)


class _Registers(BaseModel):
    """``[registers]``: the registers the driver uses (``working_setpoint`` is documentation: read by nothing)."""

    model_config = _STRICT

    process_value: _Register
    target_setpoint: _Register
    output_percent: _Register
    setpoint_rate: _Register
    auto_manual: _Register
    working_setpoint: _Register | None = None


class _RegisterMapFile(BaseModel):
    """A register-map TOML file."""

    model_config = _STRICT

    model: str | None = Field(default=None, min_length=1, max_length=200)
    verified: bool = False
    registers: _Registers


class RegisterMap:
    """Named registers: ``address`` and ``scale`` (engineering value = raw × scale)."""

    def __init__(self, model: str, registers: dict[str, dict[str, float]], *, verified: bool = False) -> None:
        missing = [r for r in REQUIRED if r not in registers]
        if missing:
            raise ConfigError(f"register map {model!r}: missing {', '.join(missing)}")
        self.model = model
        #: whether the addresses were checked against the vendor's communications manual (file key ``verified``)
        self.verified = bool(verified)
        self.registers = {k: (int(v["address"]), float(v.get("scale", 1.0))) for k, v in registers.items()}

    def __getitem__(self, name: str) -> tuple[int, float]:
        return self.registers[name]


def load_register_map(name_or_path: str = "eurotherm-3200") -> RegisterMap:
    """A packaged map by name (``eurotherm-3200``) or a TOML file path."""
    if name_or_path.endswith(".toml"):
        text = _toml.read_text(Path(name_or_path))
    else:
        res = files("flowqd.devices.drivers") / "data" / f"{name_or_path}.toml"
        if not res.is_file():
            raise ConfigError(f"no packaged register map {name_or_path!r}")
        text = res.read_text()
    spec = _toml.from_text(_RegisterMapFile, text, name_or_path)
    registers = {k: v.model_dump() for k, v in spec.registers if v is not None}
    return RegisterMap(spec.model or name_or_path, registers, verified=spec.verified)


def _to_raw(value: float, scale: float) -> int:
    raw = round(value / scale)
    if not -32768 <= raw <= 32767:
        raise RangeError(f"value {value:g} does not fit a 16-bit register at scale {scale:g}")
    return raw & 0xFFFF


def _from_raw(raw: int, scale: float) -> float:
    return (raw - 0x10000 if raw & 0x8000 else raw) * scale


class ModbusTemperatureController:
    """A heating-box controller on a :class:`ModbusClient`."""

    def __init__(self, client: ModbusClient, unit: int, name: str, *, register_map: RegisterMap, min_c: float,
                 max_c: float, max_ramp_c_min: float) -> None:
        self._c = client
        self.unit = int(unit)
        self.name = name
        self.map = register_map
        self.min_c = float(min_c)
        self.max_c = float(max_c)
        self.max_ramp_c_min = float(max_ramp_c_min)

    def _read(self, reg: str) -> float:
        address, scale = self.map[reg]
        return _from_raw(self._c.read_registers(address, 1, self.unit)[0], scale)

    def _write(self, reg: str, value: float) -> None:
        address, scale = self.map[reg]
        self._c.write_register(address, _to_raw(value, scale), self.unit)

    def set_setpoint_c(self, temperature_c: float) -> None:
        """Target temperature (range-checked before sending); back to automatic mode."""
        t = check_range(f"{self.name} set point", temperature_c, self.min_c, self.max_c, "°C")
        self._write("target_setpoint", t)
        self._write("auto_manual", 0)

    def setpoint_c(self) -> float:
        """Target temperature, °C."""
        return self._read("target_setpoint")

    def set_ramp_c_min(self, rate_c_min: float) -> None:
        """Set-point rate limit, °C/min."""
        r = check_ramp(self.name, rate_c_min, self.max_ramp_c_min)
        self._write("setpoint_rate", r)

    def ramp_c_min(self) -> float:
        """Set-point rate limit, °C/min."""
        return self._read("setpoint_rate")

    def read_c(self) -> float:
        """Process value, °C."""
        return self._read("process_value")

    def stop(self) -> None:
        """Manual mode, 0 % output."""
        self._write("auto_manual", 1)
        self._write("output_percent", 0.0)


def from_config(role: str, cfg: Any, clock: Clock, client: ModbusClient | None = None) -> ModbusTemperatureController:
    """Build from a :class:`~flowqd.platform.config.HeaterConfig` (``options.register_map``, ``options.baudrate``)."""
    if client is None:
        if not cfg.port:
            raise ConfigError(f"devices.{role}.port is required for driver 'modbus-tc'")
        client = PymodbusClient(cfg.port, int(cfg.options.get("baudrate", 9600)), cfg.timeout_s)
    rmap = load_register_map(str(cfg.options.get("register_map", "eurotherm-3200")))
    if not rmap.verified:
        logging.getLogger(__name__).warning(
            "devices.%s: the %s register map is not verified against the vendor manual (see its TOML file); "
            "check the addresses before heating", role, rmap.model)
    return ModbusTemperatureController(client, cfg.address if cfg.address is not None else 1, role,
                                       register_map=rmap, min_c=cfg.min_c, max_c=cfg.max_c,
                                       max_ramp_c_min=cfg.max_ramp_c_min)
