"""A serial syringe pump speaking a simple ASCII protocol (one controller, several addressed syringes).

Command set (``\\r``-terminated lines; ``AA`` = two-digit address; replies echo the address):

============================  ==============================  ==========================================
command                       reply                           meaning
============================  ==============================  ==========================================
``AA RAT 0.1000``             ``AA OK``                       dispense rate, mL/min (0 = stop)
``AA STP``                    ``AA OK``                       stop dispensing / refilling at once
``AA REF``                    ``AA OK``                       refill from the reservoir valve
``AA FLO?``                   ``AA FLO 0.1000``               delivered flow, mL/min
``AA VOL?``                   ``AA VOL 1.2345``               liquid left in the syringe, mL
``AA PRS?``                   ``AA PRS 0.012``                outlet pressure, bar
``AA STA?``                   ``AA STA IDLE|RUN|REFILL``      state
any error                     ``AA ERR <code> <text>``        :class:`DeviceError`
============================  ==============================  ==========================================

This is flowqd's documented reference protocol for a pump controller (ayxesis-style modules are driven through
their vendor software; a thin firmware or gateway speaking these lines is the integration point). Range checks
happen here, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from flowqd.devices.alternating import AlternatingPump
from flowqd.devices.clock import Clock
from flowqd.devices.drivers.transport import LineTransport, SerialLineTransport
from flowqd.devices.protocols import DeviceError, check_range

__all__ = ["SerialSyringePump", "from_config"]


class SerialSyringePump:
    """One addressed syringe on a :class:`LineTransport`."""

    def __init__(self, transport: LineTransport, address: int, name: str, *, syringe_volume_ml: float = 2.5,
                 pressure_rating_bar: float = 20.0, min_flow_ml_min: float = 0.001, max_flow_ml_min: float = 1.5,
                 timeout_s: float = 1.0) -> None:
        self._t = transport
        self.address = int(address)
        self.name = name
        self.syringe_volume_ml = float(syringe_volume_ml)
        self.pressure_rating_bar = float(pressure_rating_bar)
        self.min_flow_ml_min = float(min_flow_ml_min)
        self.max_flow_ml_min = float(max_flow_ml_min)
        self.timeout_s = float(timeout_s)

    def _cmd(self, body: str) -> list[str]:
        prefix = f"{self.address:02d}"
        reply = self._t.query(f"{prefix} {body}", self.timeout_s).split()
        if not reply or reply[0] != prefix:
            raise DeviceError(f"{self.name}: unexpected reply {' '.join(reply)!r} to {body!r}")
        if len(reply) > 1 and reply[1] == "ERR":
            raise DeviceError(f"{self.name}: {' '.join(reply[2:])} (command {body!r})")
        return reply[1:]

    def _query_float(self, key: str) -> float:
        reply = self._cmd(f"{key}?")
        if len(reply) != 2 or reply[0] != key:
            raise DeviceError(f"{self.name}: malformed reply {' '.join(reply)!r} to {key}?")
        return float(reply[1])

    def set_flow_ml_min(self, flow_ml_min: float) -> None:
        """Dispense at ``flow_ml_min`` (0 stops)."""
        q = float(flow_ml_min)
        if q != 0.0:
            check_range(f"{self.name} flow", q, self.min_flow_ml_min, self.max_flow_ml_min, "mL/min")
        self._cmd(f"RAT {q:.4f}")

    def flow_ml_min(self) -> float:
        """Delivered flow, mL/min."""
        return self._query_float("FLO")

    def volume_left_ml(self) -> float:
        """Liquid left, mL."""
        return self._query_float("VOL")

    def pressure_bar(self) -> float:
        """Outlet pressure, bar."""
        return self._query_float("PRS")

    def refill(self) -> None:
        """Start a refill."""
        self._cmd("REF")

    def is_refilling(self) -> bool:
        """True while refilling."""
        reply = self._cmd("STA?")
        return len(reply) == 2 and reply[1] == "REFILL"

    def stop(self) -> None:
        """Stop at once."""
        self._cmd("STP")


def from_config(role: str, cfg: Any, clock: Clock, transport: LineTransport | None = None) -> AlternatingPump:
    """Two syringes (``address``, ``partner_address``) on one serial port as an :class:`AlternatingPump`."""
    if transport is None:
        if not cfg.port:
            raise DeviceError(f"devices.{role}.port is required for driver 'serial-syringe'")
        transport = SerialLineTransport(cfg.port, int(cfg.options.get("baudrate", 9600)))
    a_addr = cfg.address if cfg.address is not None else 0
    b_addr = cfg.partner_address if cfg.partner_address is not None else a_addr + 1
    syringes = [SerialSyringePump(transport, addr, f"{role}.{tag}", syringe_volume_ml=cfg.syringe_volume_ml,
                                  pressure_rating_bar=cfg.pressure_rating_bar, max_flow_ml_min=cfg.max_flow_ml_min,
                                  timeout_s=cfg.timeout_s)
                for addr, tag in ((a_addr, "A"), (b_addr, "B"))]
    return AlternatingPump(role, syringes[0], syringes[1], clock, switch_volume_ml=cfg.switch_volume_ml,
                           overlap=cfg.overlap, min_flow_ml_min=cfg.min_flow_ml_min,
                           max_flow_ml_min=cfg.max_flow_ml_min)
