"""Clocks: the only source of time for the run engine and the simulated devices.

The engine calls nothing but :meth:`Clock.now` and :meth:`Clock.sleep`, so the *same* code path drives real
hardware (:class:`RealClock`) and the simulated platform (:class:`SimClock`). A simulated device reads the
clock when it is asked for a value and integrates its physics up to that instant, so no thread is needed.

Times are seconds (``float``); ``now()`` is monotonic and starts wherever the clock says (0 for a fresh
:class:`SimClock`).

**Event-to-event simulated time.** A simulated platform may offer a :class:`FastForward`: the engine then moves
the clock from event to event (the next set-point change, spectrum, syringe hand-over, trace sample, scheduled
fault or end of a quiet interval) instead of one control period at a time, while the interlocks still evaluate
every control period's readings (:class:`QuietReadings`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from flowqd.errors import RangeError

__all__ = ["Clock", "FastForward", "QuietReadings", "RealClock", "SimClock"]


@runtime_checkable
class Clock(Protocol):
    """A monotonic time source the engine can wait on."""

    def now(self) -> float:
        """Current time, s (monotonic; the origin is arbitrary)."""
        ...

    def sleep(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds pass (``dt_s >= 0``)."""
        ...


class RealClock:
    """Wall-clock time (:func:`time.monotonic`, :func:`time.sleep`)."""

    def now(self) -> float:
        """Monotonic wall time, s."""
        return time.monotonic()

    def sleep(self, dt_s: float) -> None:
        """Block for ``dt_s`` seconds."""
        if dt_s < 0:
            raise RangeError(f"cannot sleep a negative time ({dt_s} s)")
        time.sleep(dt_s)


class SimClock:
    """Virtual time for the simulated platform.

    Parameters
    ----------
    speedup : float
        Virtual seconds per real second. ``sleep(dt)`` advances virtual time by ``dt`` and blocks for
        ``dt / speedup`` real seconds; ``math.inf`` (or 0, meaning "as fast as possible") never blocks.
    start_s : float
        Virtual time at creation.

    Examples
    --------
    >>> c = SimClock(speedup=math.inf)
    >>> c.sleep(90.0); c.now()
    90.0
    """

    def __init__(self, speedup: float = 1000.0, start_s: float = 0.0) -> None:
        if speedup == 0:
            speedup = math.inf
        if not speedup > 0:
            raise RangeError(f"speedup must be positive (got {speedup})")
        self.speedup = float(speedup)
        self._t = float(start_s)

    def now(self) -> float:
        """Virtual time, s."""
        return self._t

    def sleep(self, dt_s: float) -> None:
        """Advance virtual time by ``dt_s`` (and block ``dt_s / speedup`` real seconds)."""
        if dt_s < 0:
            raise RangeError(f"cannot sleep a negative time ({dt_s} s)")
        if math.isfinite(self.speedup) and dt_s > 0:
            time.sleep(dt_s / self.speedup)
        self._t += float(dt_s)

    def advance(self, dt_s: float) -> None:
        """Advance virtual time without blocking (tests)."""
        if dt_s < 0:
            raise RangeError(f"cannot advance by a negative time ({dt_s} s)")
        self._t += float(dt_s)


@dataclass(frozen=True)
class QuietReadings:
    """What the engine would have read at each control period of a quiet interval (arrays over ``t_s``).

    Attributes
    ----------
    t_s : ndarray
        The control-period instants.
    pressure_bar : ndarray or None
        Inlet pressure (``None``: no pressure sensor is read).
    temperatures_c : mapping role → ndarray
        Block temperature of each heater role.
    flows_ml_min : mapping role → ndarray
        Delivered flow of each pump role.
    volumes_ml : mapping role → ndarray
        Liquid left in each pump's active syringe.
    """

    t_s: np.ndarray
    pressure_bar: np.ndarray | None
    temperatures_c: Mapping[str, np.ndarray] = field(default_factory=dict)
    flows_ml_min: Mapping[str, np.ndarray] = field(default_factory=dict)
    volumes_ml: Mapping[str, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class FastForward(Protocol):
    """What lets an event-driven clock cross *quiet* intervals of a simulated platform in one step.

    A quiet interval is one in which no device needs servicing and every reading follows analytically from the
    state at its start (the simulated plant decides, e.g. heaters settled, flows at their commands, no
    hand-over due). The run engine asks for the horizon, gets the readings of every control period up to it
    (the interlocks still evaluate each one), then :meth:`jump`\\ s there. Hardware has no such object: it runs
    tick by tick.
    """

    def quiet_until_s(self, t_limit_s: float) -> float:
        """Latest time ≤ ``t_limit_s`` up to which the platform is quiet (``now`` when it is not)."""
        ...

    def readings(self, times_s: np.ndarray) -> QuietReadings:
        """The readings at ``times_s`` (all within the quiet horizon), noise drawn as tick-by-tick reads would."""
        ...

    def jump(self, t_s: float) -> None:
        """Bring the platform's state to ``t_s`` (≤ the quiet horizon); the caller then moves the clock there."""
        ...
