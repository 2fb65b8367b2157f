"""The reactor train at a set point: residence time, pressure drop and washout for devices and engine.

One small facade over the reactor physics (:func:`~flowqd.reactor.hydraulics.train_hydraulics`,
:func:`~flowqd.reactor.rtd.train_rtd`) used by the simulated plant (pressure, outlet blending), the run engine and
the pre-flight (flush time, pressure limit), so the simulation and the engine's criteria rest on the same
hydraulics and the same residence-time distribution.

Set points are :class:`~flowqd.reactor.conditions.Conditions`. What a device *measures* or was *commanded* (a
block at 25 °C, a pump below its range) is no set point: :meth:`ProcessModel.rtd_at` and
:meth:`ProcessModel.pressure_drop_actual_bar` take those temperatures and flows as plain numbers.

The train's first heating box is the core box (HB1), the second (if any) the shell box (HB2); the side stream
joining between them is DDT. A core-only condition uses the train up to the core box.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from flowqd.errors import ConfigError, RangeError
from flowqd.reactor.conditions import Conditions
from flowqd.reactor.geometry import BoxStage, MixingPoint, ReactorTrain
from flowqd.reactor.hydraulics import train_hydraulics
from flowqd.reactor.rtd import ResidenceTimeDistribution, train_rtd

__all__ = ["ProcessModel"]

#: Flows used to evaluate the (linear in flow) laminar pressure drop when a pump runs below its range, mL/min.
_REF_CORE_FLOW_ML_MIN = 0.1
_REF_DDT_FLOW_ML_MIN = 0.05


class ProcessModel:
    """Hydraulics and RTD of a :class:`~flowqd.reactor.geometry.ReactorTrain` per set point.

    Parameters
    ----------
    train : ReactorTrain
        The platform's train (core box first; optionally mixer + shell box).

    >>> from flowqd.reactor.geometry import paper_train
    >>> round(ProcessModel(paper_train()).residence_time_min(Conditions(200.0, 0.1)), 1)
    35.9
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
        if not isinstance(stage, BoxStage):
            raise ConfigError(f"reactor train {self.train.name}: section {box!r} is no heating box")
        return stage.max_temperature_c

    def _train_for(self, shell: bool, core_units: int, shell_units: int) -> ReactorTrain:
        train = self.train.with_units(self.core_box, int(core_units))
        if shell:
            if not self.has_shell():
                raise ConfigError(f"reactor train {self.train.name}: has no shell box and DDT mixer")
            return train.with_units(str(self.shell_box), int(shell_units))
        return train.until(self.core_box)

    def _args(self, core_temperature_c: float, shell: bool, core_units: int, shell_units: int,
              shell_temperature_c: float, ddt_flow_ml_min: float
              ) -> tuple[ReactorTrain, dict[str, float], dict[str, float]]:
        train = self._train_for(shell, core_units, shell_units)
        temps = {self.core_box: float(core_temperature_c)}
        sides: dict[str, float] = {}
        if shell:
            temps[str(self.shell_box)] = float(shell_temperature_c)
            sides[str(self.side_stream)] = float(ddt_flow_ml_min)
        return train, temps, sides

    # -- residence time and RTD -------------------------------------------------------------------------------
    def _rtd_uncached(self, core_temperature_c: float, core_flow_ml_min: float, core_units: int, shell: bool,
                      shell_temperature_c: float, ddt_flow_ml_min: float,
                      shell_units: int) -> ResidenceTimeDistribution:
        train, temps, sides = self._args(core_temperature_c, shell, core_units, shell_units, shell_temperature_c,
                                         ddt_flow_ml_min)
        return train_rtd(train, core_flow_ml_min, temps, sides, species="particle")

    def rtd_at(self, core_temperature_c: float, core_flow_ml_min: float, *, core_units: int = 1,
               shell: bool = False, shell_temperature_c: float = 0.0, ddt_flow_ml_min: float = 0.0,
               shell_units: int = 1) -> ResidenceTimeDistribution:
        """Particle RTD from the stock inlet to the flow cell at block temperatures and flows (cached).

        For what the devices were commanded (any block temperature the train allows; flows in the pump range);
        the shell arguments are read only when ``shell``.
        """
        if not shell:  # one cache entry per core point, whatever the unused shell arguments say
            shell_temperature_c, ddt_flow_ml_min, shell_units = 0.0, 0.0, 1
        return self._rtd_cached(float(core_temperature_c), float(core_flow_ml_min), int(core_units), bool(shell),
                                float(shell_temperature_c), float(ddt_flow_ml_min), int(shell_units))

    def rtd(self, c: Conditions) -> ResidenceTimeDistribution:
        """Particle RTD from the stock inlet to the flow cell at the set point ``c`` (cached)."""
        return self.rtd_at(c.core_temperature_c, c.core_flow_ml_min, core_units=c.core_units, shell=c.shell,
                           shell_temperature_c=c.shell_temperature_c, ddt_flow_ml_min=c.ddt_flow_ml_min,
                           shell_units=c.shell_units)

    def residence_time_min(self, c: Conditions) -> float:
        """Mean residence time to the flow cell, min."""
        return float(self.rtd(c).tau_min)

    def washout_time_min(self, c: Conditions, fraction: float = 0.99) -> float:
        """Time after a step change until ``fraction`` of the outlet is new material, min."""
        return float(self.rtd(c).washout_time_min(fraction))

    def washout_fraction(self, c: Conditions, elapsed_min: float) -> float:
        """F(t): fraction of the outlet that entered after a step change ``elapsed_min`` ago."""
        if elapsed_min <= 0:
            return 0.0
        return float(self.rtd(c).cdf(float(elapsed_min)))

    # -- pressure -----------------------------------------------------------------------------------------------
    def pressure_drop_bar(self, c: Conditions) -> float:
        """Predicted total pressure drop at the set point ``c`` (flows in the pump range), bar."""
        train, temps, sides = self._args(c.core_temperature_c, c.shell, c.core_units, c.shell_units,
                                         c.shell_temperature_c, c.ddt_flow_ml_min)
        return float(train_hydraulics(train, c.core_flow_ml_min, temps, sides).pressure_drop_bar)

    def _dp_ref_uncached(self, shell: bool, core_units: int, shell_units: int, core_t: int,
                         shell_t: int) -> tuple[float, float]:
        """Pressure drop before and after the mixer at the reference flows and whole-degree temperatures, bar."""
        train, temps, sides = self._args(float(core_t), shell, core_units, shell_units, float(shell_t),
                                         _REF_DDT_FLOW_ML_MIN)
        hyd = train_hydraulics(train, _REF_CORE_FLOW_ML_MIN, temps, sides)
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
        reference evaluation; used by the simulated pressure sensor and the pre-flight's cold start.
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

    def pressure_drop_actual_bar_many(self, core_flow_ml_min: float, core_temperature_c: ArrayLike, *,
                                      ddt_flow_ml_min: float = 0.0, shell: bool = False,
                                      shell_temperature_c: ArrayLike = 25.0, core_units: int = 1,
                                      shell_units: int = 1) -> NDArray[np.float64]:
        """:meth:`pressure_drop_actual_bar` per reading of constant flows, bit for bit; NaN where a temperature
        it reads is NaN (the shell's only when ``shell``).

        The model depends on the temperatures only through their whole degrees, so it is evaluated once per
        distinct (core, shell) pair of rounded, clipped temperatures, on the first reading of that pair.

        >>> from flowqd.reactor.geometry import paper_train
        >>> pm = ProcessModel(paper_train())
        >>> dp = pm.pressure_drop_actual_bar_many(0.1, [200.4, float("nan"), 199.6])
        >>> bool(dp[0] == dp[2] == pm.pressure_drop_actual_bar(0.1, 200.0)), bool(np.isnan(dp[1]))
        (True, True)
        """
        tc = np.asarray(core_temperature_c, dtype=float).reshape(-1)
        ts = np.broadcast_to(np.asarray(shell_temperature_c if shell else 25.0, dtype=float), tc.shape)
        out = np.full(tc.shape, np.nan)
        ok = ~np.isnan(tc) & ~np.isnan(ts)  # ±inf clips, as in the scalar method
        if not ok.any():
            return out
        tc, ts = tc[ok], ts[ok]
        whole_core = np.round(np.clip(tc, 0.0, self.max_temperature_c(self.core_box)))  # round half to even
        whole_shell = (np.round(np.clip(ts, 0.0, self.max_temperature_c(str(self.shell_box)))) if shell
                       else np.zeros_like(tc))
        _, first, inverse = np.unique(np.stack([whole_core, whole_shell], axis=1), axis=0, return_index=True,
                                      return_inverse=True)
        dp = np.array([self.pressure_drop_actual_bar(
            core_flow_ml_min, float(tc[i]), ddt_flow_ml_min=ddt_flow_ml_min, shell=shell,
            shell_temperature_c=float(ts[i]), core_units=core_units, shell_units=shell_units) for i in first],
            dtype=float)
        out[ok] = dp[inverse.reshape(-1)]
        return out
