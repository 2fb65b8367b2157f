"""Clocks: the only source of time for the run engine and the simulated devices.

The engine calls nothing but :meth:`Clock.now` and :meth:`Clock.sleep`, so the *same* code path drives real
hardware (:class:`RealClock`) and the simulated platform (:class:`SimClock`). A simulated device reads the
clock when it is asked for a value and integrates its physics up to that instant, so no thread is needed.

Times are seconds (``float``); ``now()`` is monotonic and starts wherever the clock says (0 for a fresh
:class:`SimClock`).
"""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable

from flowqd.errors import RangeError

__all__ = ["Clock", "RealClock", "SimClock"]


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
