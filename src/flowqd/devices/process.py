"""The reactor train at an operating point: residence time, pressure drop and washout for devices and engine.

One small facade over :mod:`flowqd.reactor` used by both the simulated plant (pressure, outlet blending) and
the run engine / pre-flight (flush time, pressure limit), so the simulation and the engine's criteria rest on the
same hydraulics and the same residence-time distribution.

The train's first heating box is the core box (HB1), the second (if any) the shell box (HB2); the side stream
joining between them is DDT. A core-only condition uses the train up to the core box.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from flowqd.errors import ConfigError, RangeError
from flowqd.reactor.geometry import BoxStage, MixingPoint, ReactorTrain
from flowqd.reactor.hydraulics import train_hydraulics
from flowqd.reactor.rtd import ResidenceTimeDistribution, train_rtd

__all__ = ["OperatingPoint", "ProcessModel"]

#: Flows used to evaluate the (linear in flow) laminar pressure drop when a pump runs below its range, mL/min.
_REF_CORE_FLOW_ML_MIN = 0.1
_REF_DDT_FLOW_ML_MIN = 0.05


@dataclass(frozen=True)
class OperatingPoint:
    """Set points of one condition (what the twin's ``Conditions`` also holds)."""

    core_temperature_c: float
    core_flow_ml_min: float
    core_units: int = 1
    shell: bool = False
    shell_temperature_c: float | None = None
    ddt_flow_ml_min: float | None = None
    shell_units: int = 1

    @property
    def total_flow_ml_min(self) -> float:
        """Flow through the flow cell, mL/min."""
        return self.core_flow_ml_min + ((self.ddt_flow_ml_min or 0.0) if self.shell else 0.0)


class ProcessModel:
    """Hydraulics and RTD of a :class:`~flowqd.reactor.geometry.ReactorTrain` per operating point.

    Parameters
    ----------
    train : ReactorTrain
        The platform's train (core box first; optionally mixer + shell box).
    """

    def __init__(self, train: ReactorTrain) -> None:
        self.train = train
        boxes = train.boxes
        if not boxes:
            raise ConfigError(f"reactor train {train.name}: has no heating box")
        self.core_box = boxes[0].name
        self.shell_box = boxes[1].name if len(boxes) > 1 else None
        mixers = [s for s in train.sections if isinstance(s, MixingPoint)]
        self.side_stream = mixers[0].stream if mixers else None
        self._rtd_cached = lru_cache(maxsize=256)(self._rtd_uncached)
        self._dp_cached = lru_cache(maxsize=4096)(self._dp_ref_uncached)

    # -- trains ---------------------------------------------------------------------------------------------
    def has_shell(self) -> bool:
        """True when the train has a shell box and a side-stream mixer."""
        return self.shell_box is not None and self.side_stream is not None

    def max_temperature_c(self, box: str) -> float:
        """The set-point limit of a box (the lowest of the box and its units in use)."""
        stage = self.train.section(box)
        assert isinstance(stage, BoxStage)
        return stage.max_temperature_c

    def _train_for(self, shell: bool, core_units: int, shell_units: int) -> ReactorTrain:
        train = self.train.with_units(self.core_box, int(core_units))
        if shell:
            if not self.has_shell():
                raise ConfigError(f"reactor train {self.train.name}: has no shell box and DDT mixer")
            return train.with_units(str(self.shell_box), int(shell_units))
        return train.until(self.core_box)

    def _args(self, op: OperatingPoint) -> tuple[ReactorTrain, dict[str, float], dict[str, float]]:
        train = self._train_for(op.shell, op.core_units, op.shell_units)
        temps = {self.core_box: float(op.core_temperature_c)}
        sides: dict[str, float] = {}
        if op.shell:
            if op.shell_temperature_c is None or op.ddt_flow_ml_min is None:
                raise ConfigError("a shell condition needs shell_temperature_c and ddt_flow_ml_min")
            temps[str(self.shell_box)] = float(op.shell_temperature_c)
            sides[str(self.side_stream)] = float(op.ddt_flow_ml_min)
        return train, temps, sides

    # -- residence time and RTD -------------------------------------------------------------------------------
    def _rtd_uncached(self, op: OperatingPoint) -> ResidenceTimeDistribution:
        train, temps, sides = self._args(op)
        return train_rtd(train, op.core_flow_ml_min, temps, sides, species="particle")

    def rtd(self, op: OperatingPoint) -> ResidenceTimeDistribution:
        """Particle RTD from the stock inlet to the flow cell at ``op`` (cached)."""
        return self._rtd_cached(op)

    def residence_time_min(self, op: OperatingPoint) -> float:
        """Mean residence time to the flow cell, min."""
        return float(self.rtd(op).tau_min)

    def washout_time_min(self, op: OperatingPoint, fraction: float = 0.99) -> float:
        """Time after a step change until ``fraction`` of the outlet is new material, min."""
        return float(self.rtd(op).washout_time_min(fraction))

    def washout_fraction(self, op: OperatingPoint, elapsed_min: float) -> float:
        """F(t): fraction of the outlet that entered after a step change ``elapsed_min`` ago."""
        if elapsed_min <= 0:
            return 0.0
        return float(self.rtd(op).cdf(float(elapsed_min)))

    # -- pressure -----------------------------------------------------------------------------------------------
    def pressure_drop_bar(self, op: OperatingPoint) -> float:
        """Predicted total pressure drop at the set points (flows must be in the pump range), bar."""
        train, temps, sides = self._args(op)
        return float(train_hydraulics(train, op.core_flow_ml_min, temps, sides).pressure_drop_bar)

    def _dp_ref_uncached(self, shell: bool, core_units: int, shell_units: int, core_t: int,
                         shell_t: int) -> tuple[float, float]:
        op = OperatingPoint(float(core_t), _REF_CORE_FLOW_ML_MIN, core_units, shell,
                            float(shell_t) if shell else None, _REF_DDT_FLOW_ML_MIN if shell else None, shell_units)
        train, temps, sides = self._args(op)
        hyd = train_hydraulics(train, op.core_flow_ml_min, temps, sides)
        before = after = 0.0
        seen_mixer = False
        for s in hyd.sections:
            if s.kind == "mixer":
                seen_mixer = True
            elif seen_mixer:
                after += s.pressure_drop_bar
            else:
                before += s.pressure_drop_bar
        return before, after

    def pressure_drop_actual_bar(self, core_flow_ml_min: float, core_temperature_c: float, *,
                                 ddt_flow_ml_min: float = 0.0, shell: bool = False,
                                 shell_temperature_c: float = 25.0, core_units: int = 1,
                                 shell_units: int = 1) -> float:
        """Pressure drop at *measured* flows and block temperatures (any flow ≥ 0; laminar, so linear in flow).

        Temperatures are rounded to 1 °C and clipped to the property correlations' window for the cached
        reference evaluation; used by the simulated pressure sensor.
        """
        if core_flow_ml_min < 0 or ddt_flow_ml_min < 0:
            raise RangeError("flows must not be negative")
        tc = round(min(max(core_temperature_c, 0.0), self.max_temperature_c(self.core_box)))
        ts = 25
        if shell:
            ts = round(min(max(shell_temperature_c, 0.0), self.max_temperature_c(str(self.shell_box))))
        before, after = self._dp_cached(bool(shell), int(core_units), int(shell_units), tc, ts)
        dp = before * core_flow_ml_min / _REF_CORE_FLOW_ML_MIN
        if shell:
            dp += after * (core_flow_ml_min + ddt_flow_ml_min) / (_REF_CORE_FLOW_ML_MIN + _REF_DDT_FLOW_ML_MIN)
        return float(dp)
