"""Transports: a line-oriented byte stream and a Modbus register client (protocols + lazy real implementations)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from flowqd.devices.protocols import DeviceError, DeviceTimeout
from flowqd.errors import ConfigError

__all__ = ["LineTransport", "ModbusClient", "PymodbusClient", "SerialLineTransport"]


@runtime_checkable
class LineTransport(Protocol):
    """Request/response over a byte stream with line terminators."""

    def query(self, line: str, timeout_s: float) -> str:
        """Send ``line`` (terminator added) and return the reply line (terminator stripped).

        Raises :class:`DeviceTimeout` when no complete reply arrives within ``timeout_s``.
        """
        ...

    def close(self) -> None:
        """Release the port."""
        ...


@runtime_checkable
class ModbusClient(Protocol):
    """Holding-register access of one Modbus RTU/TCP link."""

    def read_registers(self, address: int, count: int, unit: int) -> list[int]:
        """Read ``count`` 16-bit holding registers from ``address`` of device ``unit``."""
        ...

    def write_register(self, address: int, value: int, unit: int) -> None:
        """Write one 16-bit holding register."""
        ...


class SerialLineTransport:
    """A pyserial port (imported lazily): 8N1, ``\\r`` terminated lines.

    Parameters
    ----------
    port : str
        ``/dev/ttyUSB0``, ``COM4`` or a pyserial URL (``loop://``, ``socket://host:port``).
    baudrate : int
    """

    def __init__(self, port: str, baudrate: int = 9600, terminator: bytes = b"\r") -> None:
        try:
            import serial  # pyright: ignore[reportMissingModuleSource]  # pyserial (stubs bundled): the [hardware] extra
        except ImportError:
            raise ConfigError("this driver needs pyserial: pip install 'flowqd[hardware]'") from None
        self._serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0.1)
        self._term = terminator

    def query(self, line: str, timeout_s: float) -> str:
        """Write a line and read one reply line."""
        import time

        self._serial.reset_input_buffer()
        self._serial.write(line.encode("ascii") + self._term)
        buf = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            buf += self._serial.read(64)
            if self._term in buf:
                return buf.split(self._term, 1)[0].decode("ascii", errors="replace").strip()
        raise DeviceTimeout(f"no reply to {line!r} within {timeout_s:g} s")

    def close(self) -> None:
        """Close the port."""
        self._serial.close()


class PymodbusClient:
    """pymodbus serial (RTU) client, imported lazily; ``device_id=`` keyword of pymodbus ≥ 3.10."""

    def __init__(self, port: str, baudrate: int = 9600, timeout_s: float = 1.0) -> None:
        try:
            from pymodbus.client import ModbusSerialClient  # pyright: ignore[reportMissingImports]  # [hardware] extra
        except ImportError:
            raise ConfigError("this driver needs pymodbus: pip install 'flowqd[hardware]'") from None
        self._client: Any = ModbusSerialClient(port=port, baudrate=baudrate, timeout=timeout_s)
        if not self._client.connect():
            raise DeviceTimeout(f"cannot open Modbus port {port}")

    def read_registers(self, address: int, count: int, unit: int) -> list[int]:
        """Read holding registers."""
        rr = self._client.read_holding_registers(address, count=count, device_id=unit)
        if rr.isError():
            raise DeviceTimeout(f"Modbus read {address} from unit {unit} failed: {rr}")
        return list(rr.registers)

    def write_register(self, address: int, value: int, unit: int) -> None:
        """Write one holding register."""
        rr = self._client.write_register(address, value, device_id=unit)
        if rr.isError():
            raise DeviceError(f"Modbus write {address}={value} to unit {unit} failed: {rr}")
