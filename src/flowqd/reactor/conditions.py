"""Operating conditions of the twin, validated against the paper's reactor train.

Limits (Wang & Segets 2023, §3): HB1 ≤ 350 °C (nucleation/growth), HB2 ≤ 220 °C (shell); three identical units
per box; syringe-pump flows 0.03–1.5 mL/min (2.4–120 min per unit).  Violations raise
:class:`~flowqd.errors.RangeError` (a number out of range) or :class:`~flowqd.errors.ConfigError` (an unknown
unit), each with a one-line message — never a silent clamp.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from flowqd.errors import ConfigError, RangeError
from flowqd.reactor.geometry import PUMP_RANGE_ML_MIN  # syringe-pump range, mL/min (paper §3)

__all__ = ["CORE_MAX_TEMPERATURE_C", "MIN_TEMPERATURE_C", "PUMP_RANGE_ML_MIN", "SHELL_MAX_TEMPERATURE_C",
           "UNITS_PER_BOX", "Conditions"]

#: HB1 and HB2 set-point limits, °C (paper §3).
CORE_MAX_TEMPERATURE_C: float = 350.0
SHELL_MAX_TEMPERATURE_C: float = 220.0
#: Lowest set point the kinetic model accepts, °C (the stock enters at 25 °C; below ~100 °C nothing happens).
MIN_TEMPERATURE_C: float = 100.0
#: Heating units per box.
UNITS_PER_BOX: int = 3


def _number(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise RangeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise RangeError(f"{name} must be finite, got {value!r}")
    return v


def _units(value: int, name: str) -> int:
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise ConfigError(f"{name}: unknown reactor unit {value!r} (the box has units 1-{UNITS_PER_BOX})")
    v = int(value)
    if not 1 <= v <= UNITS_PER_BOX:
        raise ConfigError(f"{name}: unknown reactor unit count {v} (the box has units 1-{UNITS_PER_BOX})")
    return v


@dataclass(frozen=True)
class Conditions:
    """One operating point of the platform.

    Attributes
    ----------
    core_temperature_c : float
        HB1 set point, °C (100–350).
    core_flow_ml_min : float
        Stock flow, mL/min (pump range 0.03–1.5).
    core_units : int
        HB1 units switched in series (1–3; the paper's series used one: τ = 3.595 mL / Q, see reactor.geometry).
    shell : bool
        Run the DDT injection and HB2 shell stage.
    shell_temperature_c : float
        HB2 set point, °C (≤ 220).
    ddt_flow_ml_min : float
        DDT flow at the T-mixer, mL/min (pump range).
    shell_units : int
        HB2 units in series (1–3; not stated in the paper, one assumed).
    inlet_line_m : float
        Unheated (25 °C) line between syringe and HB1, m (≥ 0; adds residence time, no reaction).

    >>> Conditions(200.0, 0.1).core_units
    1
    """

    core_temperature_c: float
    core_flow_ml_min: float
    core_units: int = 1
    shell: bool = False
    shell_temperature_c: float = 200.0
    ddt_flow_ml_min: float = 0.03
    shell_units: int = 1
    inlet_line_m: float = 0.0

    def __post_init__(self) -> None:
        t = _number(self.core_temperature_c, "core_temperature_c")
        if t > CORE_MAX_TEMPERATURE_C:
            raise RangeError(f"core temperature {t:g} °C above the HB1 limit {CORE_MAX_TEMPERATURE_C:g} °C")
        if t < MIN_TEMPERATURE_C:
            raise RangeError(f"core temperature {t:g} °C below the model's lower limit {MIN_TEMPERATURE_C:g} °C")
        lo, hi = PUMP_RANGE_ML_MIN
        q = _number(self.core_flow_ml_min, "core_flow_ml_min")
        if not lo <= q <= hi:
            raise RangeError(f"core flow {q:g} mL/min outside the pump range {lo:g}-{hi:g} mL/min")
        object.__setattr__(self, "core_temperature_c", t)
        object.__setattr__(self, "core_flow_ml_min", q)
        object.__setattr__(self, "core_units", _units(self.core_units, "core_units"))
        object.__setattr__(self, "shell", bool(self.shell))
        ts = _number(self.shell_temperature_c, "shell_temperature_c")
        qd = _number(self.ddt_flow_ml_min, "ddt_flow_ml_min")
        if self.shell:
            if ts > SHELL_MAX_TEMPERATURE_C:
                raise RangeError(f"shell temperature {ts:g} °C above the HB2 limit {SHELL_MAX_TEMPERATURE_C:g} °C")
            if ts < MIN_TEMPERATURE_C:
                raise RangeError(f"shell temperature {ts:g} °C below the model's lower limit "
                                 f"{MIN_TEMPERATURE_C:g} °C")
            if not lo <= qd <= hi:
                raise RangeError(f"DDT flow {qd:g} mL/min outside the pump range {lo:g}-{hi:g} mL/min")
        object.__setattr__(self, "shell_temperature_c", ts)
        object.__setattr__(self, "ddt_flow_ml_min", qd)
        object.__setattr__(self, "shell_units", _units(self.shell_units, "shell_units"))
        length = _number(self.inlet_line_m, "inlet_line_m")
        if length < 0:
            raise RangeError(f"inlet line length must be ≥ 0 m, got {length:g} m")
        object.__setattr__(self, "inlet_line_m", length)

    @property
    def total_flow_ml_min(self) -> float:
        """Flow through the flow cell (stock plus DDT when the shell stage runs), mL/min.

        >>> Conditions(230.0, 0.15, shell=True, ddt_flow_ml_min=0.05).total_flow_ml_min
        0.2
        """
        return self.core_flow_ml_min + (self.ddt_flow_ml_min if self.shell else 0.0)

    def to_dict(self) -> dict[str, float | int | bool]:
        """Plain dict (JSON-ready)."""
        return asdict(self)
