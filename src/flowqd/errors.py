"""Error types of flowqd.

Every error a user can cause (a bad file, an impossible set point, an unknown key) is raised as a subclass of
:class:`FlowqdError` with a one-line message that names the thing at fault. The command line turns these into a
single red line and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FlowqdError",
    "InterlockTrip",
    "LeaseHeld",
    "LeaseLost",
    "RangeError",
    "SpectrumError",
    "StorageError",
]


class FlowqdError(Exception):
    """Base class of every error flowqd raises on purpose (bad input, impossible request)."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)

    def with_source(self, source: str) -> FlowqdError:
        """Return a copy of this error whose message starts with ``source`` (a file name, say)."""
        if self.source:
            return self
        message = str(self)
        new = type(self).__new__(type(self))
        FlowqdError.__init__(new, message, source=source)
        return new


class SpectrumError(FlowqdError, ValueError):
    """A spectrum that cannot be analysed: unreadable, non-monotonic, saturated, no exciton in range…"""


class RangeError(FlowqdError, ValueError):
    """A number outside the range where a model or a device is valid (never silently clamped)."""


class ConfigError(FlowqdError, ValueError):
    """A platform, recipe or campaign file that does not validate."""


class StorageError(FlowqdError, RuntimeError):
    """The run database cannot be written or read: disk full, read-only file or folder, server gone."""


class LeaseHeld(FlowqdError, RuntimeError):
    """Another live engine holds the run's lease (one engine per run)."""


class LeaseLost(FlowqdError, RuntimeError):
    """This engine's lease of a run was taken over (it had gone stale): stop driving the run."""


class InterlockTrip(FlowqdError, RuntimeError):
    """A safety interlock tripped; the platform was put in its safe state."""
