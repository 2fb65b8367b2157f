"""The simulated platform's :class:`~flowqd.devices.clock.FastForward`: quiet intervals crossed in one step.

The horizon is the earliest of the plant's (:meth:`~flowqd.devices.sim.plant.SimPlant.quiet_until_s`: heaters
settled, flows at their commands, no refill, no fault, the next scheduled action) and each alternating pump's
(:meth:`~flowqd.devices.alternating.AlternatingPump.quiet_until_s`: the next hand-over). Inside it every reading is
analytic (constant flows, linearly falling syringe volumes, set-point temperatures, a linearly rising clog) or
stepped with the tick-by-tick sub-step physics; the sensor noise is drawn in the order a control period reads
the sensors, so the readings are those the tick-by-tick engine would have read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from flowqd.devices.alternating import AlternatingPump
from flowqd.devices.clock import QuietReadings
from flowqd.devices.sim.plant import SimPlant

__all__ = ["SimFastForward"]


class SimFastForward:
    """Fast-forward of a fully simulated platform.

    Parameters
    ----------
    plant : SimPlant
    pumps : mapping role → AlternatingPump
        In the order the engine reads them.
    heaters : mapping role → heating-box name
        In the order the engine reads them (``Devices.heaters()``).
    pressure_max_bar : float or None
        Range of the pressure sensor (readings saturate there); ``None`` when there is none.
    """

    def __init__(self, plant: SimPlant, pumps: Mapping[str, AlternatingPump], heaters: Mapping[str, str],
                 pressure_max_bar: float | None) -> None:
        self.plant = plant
        self.pumps = dict(pumps)
        self.heaters = dict(heaters)
        self.pressure_max_bar = pressure_max_bar

    def quiet_until_s(self, t_limit_s: float) -> float:
        """See :class:`~flowqd.devices.clock.FastForward`."""
        horizon = self.plant.quiet_until_s(t_limit_s)
        for pump in self.pumps.values():
            if horizon <= self.plant.t_s:
                break
            horizon = min(horizon, pump.quiet_until_s())
        return horizon

    def readings(self, times_s: np.ndarray) -> QuietReadings:
        """See :class:`~flowqd.devices.clock.FastForward`."""
        plant = self.plant
        times = np.asarray(times_s, dtype=float)
        r = plant.quiet_readings(times, self.heaters.values(), pressure_max_bar=self.pressure_max_bar)
        flows: dict[str, np.ndarray] = {}
        volumes: dict[str, np.ndarray] = {}
        for role, pump in self.pumps.items():
            flows[role] = r["flows_ml_min"][f"{role}.A"] + r["flows_ml_min"][f"{role}.B"]
            volumes[role] = r["volumes_ml"][f"{role}.{pump.active_syringe()}"]
        return QuietReadings(times, r["pressure_bar"],
                             {role: r["temperatures_c"][box] for role, box in self.heaters.items()}, flows, volumes)

    def jump(self, t_s: float) -> None:
        """See :class:`~flowqd.devices.clock.FastForward`."""
        self.plant.jump(t_s)
